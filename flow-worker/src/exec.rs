//! The Call Flow Loop: runs an `actions` document against the call. COLLECT
//! and REDIRECT fetch a new document that replaces the rest of the current
//! one; running out of actions hangs up.

use std::collections::VecDeque;
use std::time::Duration;

use reqwest::Url;
use tokio::time::Instant;

use super::callback::{Action, RecordMode, RejectJson};
use super::say;
use super::session::{Seen, Session, Stop};
use trunkgate::flow::pb::gateway_message::Event as PbEvent;
use trunkgate::flow::{CommandKind, PlaySource, RecordAction, RejectReason, Tone, TransferTarget};

/// Actions one call may run in total (callbacks can loop forever).
const MAX_ACTIONS: usize = 10_000;
/// Upper bound for PAUSE and COLLECT timeouts, in seconds.
const MAX_WAIT_SECS: f64 = 3600.0;

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(if v.is_finite() {
        v.clamp(0.0, MAX_WAIT_SECS)
    } else {
        0.0
    })
}

enum Next {
    Continue,
    /// Replace the remaining actions.
    Replace(Vec<Action>),
    /// The flow is over (REJECT, HANGUP, failed callback).
    End,
}

impl Session {
    pub(crate) async fn run_actions(&mut self, actions: Vec<Action>) -> Result<(), Stop> {
        let mut queue: VecDeque<Action> = actions.into();
        let mut budget = MAX_ACTIONS;
        while let Some(action) = queue.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                tracing::warn!(call_id = %self.offer.call_id, "action budget exhausted");
                return Ok(());
            }
            tracing::debug!(call_id = %self.offer.call_id, ?action, "action");
            match self.exec(action).await? {
                Next::Continue => {}
                Next::Replace(a) => queue = a.into(),
                Next::End => return Ok(()),
            }
        }
        Ok(())
    }

    async fn exec(&mut self, action: Action) -> Result<Next, Stop> {
        match action {
            Action::Play {
                url,
                digits,
                tone,
                loop_count,
            } => {
                let source = match (url, digits, tone) {
                    (Some(u), _, _) if u.starts_with("http://") || u.starts_with("https://") => {
                        PlaySource::Url(u)
                    }
                    (Some(u), _, _) => {
                        PlaySource::WavPath(u.strip_prefix("file://").unwrap_or(&u).to_owned())
                    }
                    (None, Some(d), _) => PlaySource::Dtmf(d),
                    (None, None, Some(t)) => match parse_tone(&t) {
                        Some(t) => PlaySource::Tone(t),
                        None => {
                            tracing::warn!(call_id = %self.offer.call_id, tone = %t, "PLAY: unknown tone, skipped");
                            return Ok(Next::Continue);
                        }
                    },
                    (None, None, None) => {
                        tracing::warn!(call_id = %self.offer.call_id, "PLAY without url, digits or tone, skipped");
                        return Ok(Next::Continue);
                    }
                };
                self.play(source, loop_count.unwrap_or(1).max(1)).await?;
                Ok(Next::Continue)
            }
            Action::Pause { length } => {
                let deadline = Instant::now() + secs(length);
                while self.recv_until(Some(deadline)).await?.is_some() {}
                Ok(Next::Continue)
            }
            Action::Collect {
                num_digits,
                finish_on_key,
                timeout,
                callback_url,
            } => {
                self.ensure_answered().await?;
                let finish = finish_on_key.and_then(|k| k.chars().next());
                let digits = self.collect(num_digits, finish, secs(timeout)).await?;
                let mut req = self.request("action_result", "in-progress");
                req.digits = Some(digits);
                let got = match callback_url.as_deref().map(Url::parse) {
                    Some(Ok(u)) => {
                        let failover = self.target.as_ref().and_then(|t| t.failover_url.clone());
                        self.http
                            .post_with_failover(&u, failover.as_ref(), &req)
                            .await
                    }
                    Some(Err(e)) => {
                        tracing::warn!(call_id = %self.offer.call_id, "COLLECT callback_url invalid ({e}); using the number's URL");
                        self.http.post_target(self.target.as_ref(), &req).await
                    }
                    None => self.http.post_target(self.target.as_ref(), &req).await,
                };
                Ok(self.replace_or_end(got))
            }
            Action::Reject { reason } => {
                if self.answered {
                    self.command(CommandKind::Hangup).await?;
                } else {
                    let r = match reason {
                        RejectJson::Busy => RejectReason::Busy,
                        RejectJson::Disconnected => RejectReason::Disconnected,
                    };
                    self.command(CommandKind::Reject(r)).await?;
                }
                self.rejected = true;
                Ok(Next::End)
            }
            Action::Hangup => Ok(Next::End),
            Action::Transfer {
                number,
                sip_uri,
                caller_id_no,
            } => {
                let target = match (number, sip_uri) {
                    (Some(n), _) => TransferTarget::E164(n),
                    (None, Some(u)) => TransferTarget::SipUri(u),
                    (None, None) => {
                        tracing::warn!(call_id = %self.offer.call_id, "TRANSFER without number or sip_uri, skipped");
                        return Ok(Next::Continue);
                    }
                };
                let (id, ok) = self
                    .command(CommandKind::Transfer {
                        target,
                        caller_id_no,
                    })
                    .await?;
                if ok && self.transfer_result(&id).await? {
                    self.transferred = true;
                    // Bridged: the flow is done, the call lives on until HungUp.
                    loop {
                        self.recv_until(None).await?;
                    }
                }
                Ok(Next::Continue)
            }
            Action::Record { mode } => {
                let a = match mode {
                    RecordMode::Start => RecordAction::Start,
                    RecordMode::Stop => RecordAction::Stop,
                    RecordMode::Pause => RecordAction::Pause,
                    RecordMode::Resume => RecordAction::Resume,
                };
                self.command(CommandKind::Record(a)).await?;
                Ok(Next::Continue)
            }
            Action::Redirect { url } => {
                let req = self.request("action_result", "in-progress");
                let got = match Url::parse(&url) {
                    Ok(u) => {
                        let failover = self.target.as_ref().and_then(|t| t.failover_url.clone());
                        self.http
                            .post_with_failover(&u, failover.as_ref(), &req)
                            .await
                    }
                    Err(e) => {
                        tracing::warn!(call_id = %self.offer.call_id, "REDIRECT url invalid: {e}");
                        return Ok(Next::End);
                    }
                };
                Ok(self.replace_or_end(got))
            }
            Action::Say { text } => {
                match say::synthesize(&text).await {
                    Ok(wav) => {
                        let played = self
                            .play(PlaySource::WavPath(wav.path().display().to_string()), 1)
                            .await;
                        drop(wav);
                        played?;
                    }
                    Err(e) => {
                        tracing::warn!(call_id = %self.offer.call_id, "SAY unsupported: {e}")
                    }
                }
                Ok(Next::Continue)
            }
        }
    }

    fn replace_or_end(&mut self, got: Result<Vec<Action>, super::callback::CallbackError>) -> Next {
        match got {
            Ok(a) => Next::Replace(a),
            Err(e) => {
                tracing::warn!(call_id = %self.offer.call_id, reason = e.name(), "callback failed, hanging up: {e}");
                self.callback_failed = true;
                Next::End
            }
        }
    }

    /// PLAY, COLLECT and SAY answer the call first (a Twilio-like implicit answer).
    async fn ensure_answered(&mut self) -> Result<(), Stop> {
        if !self.answered {
            let (_, ok) = self.command(CommandKind::Answer).await?;
            self.answered |= ok;
        }
        Ok(())
    }

    async fn play(&mut self, source: PlaySource, loops: u32) -> Result<(), Stop> {
        self.ensure_answered().await?;
        let (id, ok) = self.command(CommandKind::Play { source, loops }).await?;
        if !ok {
            return Ok(());
        }
        loop {
            if let Some(Seen::Other(PbEvent::PlaybackFinished(p))) = self.recv_until(None).await? {
                if p.command_id == id {
                    return Ok(());
                }
            }
        }
    }

    async fn transfer_result(&mut self, id: &str) -> Result<bool, Stop> {
        loop {
            if let Some(Seen::Other(PbEvent::TransferResult(t))) = self.recv_until(None).await? {
                if t.command_id == id {
                    tracing::info!(call_id = %self.offer.call_id, sip_code = t.sip_code, ok = t.ok, "transfer result");
                    return Ok(t.ok);
                }
            }
        }
    }

    /// Digits typed before the COLLECT count (type-ahead). `timeout` is the
    /// longest wait for the first and for each further digit.
    async fn collect(
        &mut self,
        num_digits: Option<u32>,
        finish: Option<char>,
        timeout: Duration,
    ) -> Result<String, Stop> {
        let max = num_digits.map(|n| n as usize).filter(|n| *n > 0);
        let mut got = String::new();
        let mut deadline = Instant::now() + timeout;
        // Bounded: each turn consumes one gateway message or ends at `deadline`.
        loop {
            while let Some(d) = self.digits.pop_front() {
                if Some(d) == finish {
                    return Ok(got);
                }
                got.push(d);
                deadline = Instant::now() + timeout;
                if max.is_some_and(|m| got.len() >= m) {
                    return Ok(got);
                }
            }
            if self.recv_until(Some(deadline)).await?.is_none() {
                return Ok(got);
            }
        }
    }
}

fn parse_tone(t: &str) -> Option<Tone> {
    match t.to_ascii_lowercase().as_str() {
        "ringback" | "ring" => Some(Tone::Ringback),
        "busy" => Some(Tone::Busy),
        "congestion" | "reorder" => Some(Tone::Congestion),
        "sit" | "disconnected" => Some(Tone::Sit),
        _ => None,
    }
}
