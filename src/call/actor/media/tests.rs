//! `CallMedia` without a media task: the commands its session sends are
//! read here (`media::session::testing`), so each test shows what the
//! component's decisions tell the media task, message by message.

use std::cell::Cell;

use bytes::Bytes;

use super::*;
use crate::media::session::testing::{detached, media, messages};
use crate::media::tones::{self, ToneKind};
use crate::sip::ParseOptions;

fn parse(text: String) -> Message {
    Message::parse(Bytes::from(text), &ParseOptions::default()).unwrap()
}

fn sdp(port: u16, media_line: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m={media_line} {port} {}\r\n",
        if media_line == "image" {
            "udptl t38"
        } else {
            "RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000"
        }
    )
}

/// A request or response with `body` as its SDP (`None`: no body).
fn with_sdp(start: &str, body: Option<String>) -> Message {
    let body = body.unwrap_or_default();
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    parse(format!(
        "{start}\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n\
         From: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:b@127.0.0.1>;tag=b1\r\n\
         Call-ID: c1\r\nCSeq: 1 INVITE\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn invite(port: u16) -> Message {
    with_sdp("INVITE sip:b@127.0.0.1 SIP/2.0", Some(sdp(port, "audio")))
}

fn ok(port: u16) -> Message {
    with_sdp("SIP/2.0 200 OK", Some(sdp(port, "audio")))
}

fn ringback() -> &'static Cadence {
    tones::tone(None, ToneKind::Ringback)
}

const CALLEE: &str = "127.0.0.1:5070";

/// A call whose caller offered G.711 and whose INVITE went to the callee,
/// with what that told the media task already read.
fn offered(
    callee_policy: SrtpPolicy,
) -> (
    CallMedia,
    tokio::sync::mpsc::Receiver<crate::media::relay::Cmd>,
) {
    let (mut session, mut rx) = detached(media());
    session.set_peer(Leg::Caller, "127.0.0.1:5062".parse().unwrap());
    let mut m = CallMedia::new(Some(session));
    m.start(&invite(4000), SrtpPolicy::Optional, false).unwrap();
    let b_offer = m
        .callee_offer(&invite(4000), CALLEE.parse().unwrap(), callee_policy)
        .unwrap();
    assert!(b_offer.is_some(), "the callee gets our SDP");
    assert_eq!(
        messages(&mut rx),
        [["stream", "stream", "remote", "srtp", "hold"]],
        "the caller's offer, once: the callee's INVITE changes nothing"
    );
    (m, rx)
}

/// Issue 13: one wake-up of the media task per answer — the callee's SDP,
/// the end of our ringback and the dead-media watch travel together.
#[test]
fn the_answer_is_one_message_that_also_stops_our_ringback() {
    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    assert!(m.override_sdp(|| Some(ringback())).is_some());
    assert_eq!(messages(&mut rx), [["tone"]]);
    let answer = m.answer(&ok(5000)).unwrap().unwrap_or_default();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("m=audio ") && !answer.contains("m=audio 5000"),
        "the caller's 200 points at our relay: {answer}"
    );
    assert_eq!(
        messages(&mut rx),
        [["remote", "srtp", "stop_tone", "answered"]]
    );
}

/// Without our tone the answer stops none; without SDP it still answers.
#[test]
fn the_answer_stops_only_a_tone_we_play() {
    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    assert!(m.answer(&ok(5000)).unwrap().is_some());
    assert_eq!(messages(&mut rx), [["remote", "srtp", "answered"]]);

    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    let bare = with_sdp("SIP/2.0 200 OK", None);
    assert!(m.answer(&bare).unwrap().is_none());
    assert_eq!(messages(&mut rx), [["answered"]]);
}

/// The callee's SRTP policy (its carrier's `srtp = required`) refuses a
/// plain answer: the call fails, the media task hears no answer.
#[test]
fn an_answer_refused_for_its_srtp_answers_nothing() {
    let (mut m, mut rx) = offered(SrtpPolicy::Required);
    let r = m.answer(&ok(5000));
    assert!(matches!(r, Err(MediaError::Srtp(_))), "{r:?}");
    assert!(messages(&mut rx).iter().flatten().all(|c| *c != "answered"));
}

/// Every provisional of an override trunk carries the same SDP; the
/// ringback starts once, and a worker's own answer keeps that SDP too.
#[test]
fn our_tone_sdp_is_made_once_and_kept() {
    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    let asked = Cell::new(0);
    let cadence = || {
        asked.set(asked.get() + 1);
        Some(ringback())
    };
    let first = m.override_sdp(cadence);
    let again = m.override_sdp(|| {
        asked.set(asked.get() + 1);
        Some(ringback())
    });
    assert!(first.is_some());
    assert_eq!(first, again);
    assert_eq!(asked.get(), 1, "the trunk's override is looked up once");
    assert_eq!(m.own_sdp(), first);
    assert_eq!(messages(&mut rx), [["tone"]]);
}

/// A trunk without an override (no cadence) keeps the carrier's early media.
#[test]
fn no_override_no_tone() {
    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    assert_eq!(m.override_sdp(|| None), None);
    assert!(messages(&mut rx).is_empty());
}

/// `outbound.fax_support = disabled` refuses a T.38 re-INVITE with media
/// anchoring off as well; an audio offer then goes through untouched.
#[test]
fn a_t38_offer_is_refused_where_fax_is_off_even_without_media() {
    let mut m = CallMedia::new(None);
    let reinvite = |kind| with_sdp("INVITE sip:a@127.0.0.1 SIP/2.0", Some(sdp(6000, kind)));
    let r = m.relay_offer(Leg::Callee, &reinvite("image"), true);
    assert!(matches!(r, Err(MediaError::FaxRefused)), "{r:?}");
    assert!(m
        .relay_offer(Leg::Callee, &reinvite("image"), false)
        .is_ok_and(|b| b.is_none()));
    assert!(m
        .relay_offer(Leg::Callee, &reinvite("audio"), true)
        .is_ok_and(|b| b.is_none()));
}

/// A worker's record commands: one file per call, `Stop` names it; with no
/// media there is nothing to record.
#[test]
fn a_call_records_into_one_file() {
    assert_eq!(
        CallMedia::new(None).record(RecordAction::Start).err(),
        Some(RecordRefused::NoMedia)
    );
    let (mut m, mut rx) = offered(SrtpPolicy::Optional);
    assert_eq!(m.record(RecordAction::Start), Ok(None));
    assert_eq!(m.record(RecordAction::Start), Ok(None));
    assert_eq!(
        messages(&mut rx),
        [["record"], ["record_pause"], ["record_pause"]],
        "the second start resumes the first file"
    );
    let path = m.recording().map(|(p, _)| p.clone());
    let stopped = m.record(RecordAction::Stop);
    let saved = stopped
        .as_ref()
        .ok()
        .and_then(|s| s.map(|(p, _)| p.to_path_buf()));
    assert!(path.is_some() && saved == path, "{saved:?} vs {path:?}");
    assert_eq!(messages(&mut rx), [["record_stop"]]);
    if let Some(dir) = path.as_deref().and_then(Path::parent) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The end hands the session over (its final figures, then it stops) and
/// forgets our tone: later SDPs are not anchored.
#[test]
fn the_end_hands_over_the_session() {
    let (mut m, _rx) = offered(SrtpPolicy::Optional);
    assert!(m.override_sdp(|| Some(ringback())).is_some());
    assert!(m.end().is_some());
    assert!(m.live_quality().is_none());
    assert_eq!(m.own_sdp(), None);
    assert!(m.relay(Leg::Callee, &ok(5000)).is_ok_and(|b| b.is_none()));
    assert!(m.end().is_none());
}
