//! The HTTP side of the reference worker: the callback request JSON, the
//! actions JSON, and the POST with the `callback_failover` rule.

use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::config::CallbackTarget;

/// Body of every callback POST (see the module docs of [`super`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallbackRequest {
    /// `call_flows` | `parking_lot`.
    pub service: String,
    /// `init_call` | `action_result` | `end_call`.
    #[serde(rename = "type")]
    pub kind: String,
    pub call_id: String,
    /// `inbound` | `outbound`.
    pub direction: String,
    pub caller_no: String,
    pub api_no: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trunk_id: Option<String>,
    /// `number_assignment` | `failover`.
    pub reason: String,
    /// RFC 3339 UTC.
    pub start_time: String,
    /// `ringing` | `in-progress` | `completed` | `transferred` | `rejected`
    /// | `canceled` | `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digits: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recording_url: Option<String>,
    /// `caller` | `callee` | `gateway` | `worker`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hangup_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sip_code: Option<u16>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RejectJson {
    Busy,
    Disconnected,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    Start,
    Stop,
    Pause,
    Resume,
}

fn default_pause() -> f64 {
    1.0
}
fn default_collect_timeout() -> f64 {
    5.0
}
fn default_finish() -> Option<String> {
    Some("#".into())
}
fn default_reject() -> RejectJson {
    RejectJson::Busy
}

/// One entry of the `actions` array.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// `url`: http(s) URL or a WAV path the gateway can read; or `digits`
    /// (DTMF); or `tone` (`ringback`|`busy`|`congestion`|`sit`).
    Play {
        url: Option<String>,
        digits: Option<String>,
        tone: Option<String>,
        #[serde(rename = "loop")]
        loop_count: Option<u32>,
    },
    /// `length` in seconds.
    Pause {
        #[serde(default = "default_pause")]
        length: f64,
    },
    /// Gathers DTMF until `num_digits`, `finish_on_key` (default `#`, `""`
    /// disables) or `timeout` seconds without a digit (default 5).
    Collect {
        num_digits: Option<u32>,
        #[serde(default = "default_finish")]
        finish_on_key: Option<String>,
        #[serde(default = "default_collect_timeout")]
        timeout: f64,
        callback_url: Option<String>,
    },
    Reject {
        #[serde(default = "default_reject")]
        reason: RejectJson,
    },
    Hangup,
    Transfer {
        number: Option<String>,
        sip_uri: Option<String>,
        caller_id_no: Option<String>,
    },
    Record {
        mode: RecordMode,
    },
    Redirect {
        url: String,
    },
    Say {
        text: String,
    },
}

/// A callback that produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no callback URL configured for this number")]
    NoUrl,
    #[error("callback {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("callback {url} timed out")]
    Timeout { url: String },
    #[error("callback {url} failed: {detail}")]
    Transport { url: String, detail: String },
    #[error("callback {url} body is not an actions document: {detail}")]
    BadBody { url: String, detail: String },
}

impl CallbackError {
    pub fn name(&self) -> &'static str {
        match self {
            CallbackError::NoUrl => "callback:no_url",
            CallbackError::Status { .. } => "callback:status",
            CallbackError::Timeout { .. } => "callback:timeout",
            CallbackError::Transport { .. } => "callback:transport",
            CallbackError::BadBody { .. } => "callback:bad_body",
        }
    }
}

/// Parses an actions document. Entries with an unknown `action` or bad
/// fields are skipped (and logged) so one typo does not drop the call.
/// An empty body means no actions.
pub fn parse_actions(body: &[u8]) -> Result<Vec<Action>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        actions: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(doc.actions.len());
    for v in doc.actions {
        match serde_json::from_value::<Action>(v.clone()) {
            Ok(a) => out.push(a),
            Err(e) => tracing::warn!(action = %v, "skipping action: {e}"),
        }
    }
    Ok(out)
}

#[derive(Clone)]
pub(crate) struct Callbacks {
    http: reqwest::Client,
    timeout: Duration,
}

impl Callbacks {
    pub(crate) fn new(timeout: Duration) -> Callbacks {
        Callbacks {
            http: reqwest::Client::new(),
            timeout,
        }
    }

    /// callback_failover rule: a non-2xx answer, a timeout, a transport error
    /// or an unparsable body from `url` -> the same request is sent once to
    /// `failover`. If that fails too the caller applies the default action
    /// (hang up).
    pub(crate) async fn post_with_failover(
        &self,
        url: &Url,
        failover: Option<&Url>,
        req: &CallbackRequest,
    ) -> Result<Vec<Action>, CallbackError> {
        match self.post(url, req).await {
            Ok(a) => Ok(a),
            Err(e) => {
                tracing::warn!(call_id = %req.call_id, reason = e.name(), "{e}");
                match failover {
                    Some(f) => self.post(f, req).await,
                    None => Err(e),
                }
            }
        }
    }

    pub(crate) async fn post_target(
        &self,
        target: Option<&CallbackTarget>,
        req: &CallbackRequest,
    ) -> Result<Vec<Action>, CallbackError> {
        let t = target.ok_or(CallbackError::NoUrl)?;
        self.post_with_failover(&t.url, t.failover_url.as_ref(), req)
            .await
    }

    async fn post(&self, url: &Url, req: &CallbackRequest) -> Result<Vec<Action>, CallbackError> {
        let u = url.to_string();
        let sent = self
            .http
            .post(url.clone())
            .timeout(self.timeout)
            .json(req)
            .send()
            .await;
        let resp = sent.map_err(|e| classify(&u, e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(CallbackError::Status {
                url: u,
                status: status.as_u16(),
            });
        }
        let body = resp.bytes().await.map_err(|e| classify(&u, e))?;
        parse_actions(&body).map_err(|detail| CallbackError::BadBody { url: u, detail })
    }
}

fn classify(url: &str, e: reqwest::Error) -> CallbackError {
    if e.is_timeout() {
        CallbackError::Timeout {
            url: url.to_owned(),
        }
    } else {
        CallbackError::Transport {
            url: url.to_owned(),
            detail: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_with_defaults_and_unknown_entries_are_skipped() {
        let body = br#"{"actions":[
            {"action":"PLAY","url":"http://x/a.wav","loop":2},
            {"action":"COLLECT","num_digits":3},
            {"action":"DANCE"},
            {"action":"REJECT","reason":"disconnected"},
            {"action":"HANGUP"}
        ]}"#;
        let a = parse_actions(body).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(
            a[0],
            Action::Play {
                url: Some("http://x/a.wav".into()),
                digits: None,
                tone: None,
                loop_count: Some(2)
            }
        );
        assert_eq!(
            a[1],
            Action::Collect {
                num_digits: Some(3),
                finish_on_key: Some("#".into()),
                timeout: 5.0,
                callback_url: None
            }
        );
        assert_eq!(
            a[2],
            Action::Reject {
                reason: RejectJson::Disconnected
            }
        );
        assert_eq!(a[3], Action::Hangup);
        assert_eq!(parse_actions(b"  ").unwrap(), vec![]);
        assert!(parse_actions(b"<html>").is_err());
    }

    #[test]
    fn request_serializes_type_and_omits_absent_fields() {
        let r = CallbackRequest {
            service: "call_flows".into(),
            kind: "init_call".into(),
            call_id: "c".into(),
            direction: "inbound".into(),
            caller_no: "1".into(),
            api_no: "2".into(),
            trunk_id: None,
            reason: "number_assignment".into(),
            start_time: "2026-01-01T00:00:00.000Z".into(),
            status: "ringing".into(),
            digits: None,
            recording_url: None,
            hangup_by: None,
            sip_code: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "init_call");
        assert!(v.get("digits").is_none());
        assert!(v.get("trunk_id").is_none());
    }
}
