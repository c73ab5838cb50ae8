use super::testing::{detached, media, messages, name};
use super::*;

fn offer(port: u16) -> sdp::Sdp {
    sdp::parse(body(port).as_bytes()).unwrap()
}

fn body(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
}

fn names(cmds: &[Cmd]) -> Vec<&'static str> {
    cmds.iter().map(name).collect()
}

/// The caller's offer is relayed once at set-up and again for every hop:
/// only what changed reaches the media task (each message wakes its thread).
#[test]
fn an_sdp_relayed_again_tells_the_media_task_only_what_changed() {
    let (mut s, _rx) = detached(media());
    let run = |s: &mut MediaSession, from: Leg, port: u16| {
        let mut cmds = Vec::new();
        s.relay_inner(from, &offer(port), &mut cmds).unwrap();
        names(&cmds)
    };
    assert_eq!(
        run(&mut s, Leg::Caller, 4000),
        ["stream", "stream", "remote", "srtp", "hold"]
    );
    assert!(run(&mut s, Leg::Caller, 4000).is_empty());
    // The callee's answer: its remote and keys; the hold state is unchanged.
    assert_eq!(run(&mut s, Leg::Callee, 5000), ["remote", "srtp"]);
    // The caller moves its media: the new remote only.
    assert_eq!(run(&mut s, Leg::Caller, 4002), ["remote"]);
    // Once answered, every SDP restarts the dead-media watch.
    s.told.answered = true;
    assert_eq!(run(&mut s, Leg::Caller, 4002), ["hold"]);
}

/// The callee's answer is one message to the media task: its SDP, the end
/// of our ringback and the start of the dead-media watch wake its thread once.
#[test]
fn the_answer_wakes_the_media_task_once() {
    let (mut s, mut rx) = detached(media());
    s.relay_sdp(Leg::Caller, body(4000).as_bytes()).unwrap();
    assert_eq!(
        messages(&mut rx),
        [["stream", "stream", "remote", "srtp", "hold"]]
    );
    let sdp = s.answer(Leg::Callee, Some(body(5000).as_bytes()), true);
    assert!(sdp.is_ok_and(|b| b.is_some()));
    assert_eq!(
        messages(&mut rx),
        [["remote", "srtp", "stop_tone", "answered"]]
    );
    assert!(s.told.answered);
    // From now on every SDP's hold state is sent (it restarts the watch).
    s.relay_sdp(Leg::Callee, body(5000).as_bytes()).unwrap();
    assert_eq!(messages(&mut rx), [["hold"]]);
}

/// An answer without SDP still answers, in one message; one the callee's
/// SRTP policy refuses answers nothing (the call fails instead).
#[test]
fn an_answer_without_sdp_answers_and_a_refused_one_does_not() {
    let (mut s, mut rx) = detached(media());
    assert!(s
        .answer(Leg::Callee, None, false)
        .is_ok_and(|b| b.is_none()));
    assert_eq!(messages(&mut rx), [["answered"]]);

    let (mut s, mut rx) = detached(media());
    s.set_srtp_policy(Leg::Callee, crate::media::srtp::SrtpPolicy::Required);
    s.relay_sdp(Leg::Caller, body(4000).as_bytes()).unwrap();
    let _ = messages(&mut rx);
    let r = s.answer(Leg::Callee, Some(body(5000).as_bytes()), true);
    assert!(matches!(r, Err(MediaError::Srtp(_))), "{r:?}");
    assert!(!s.told.answered);
    assert!(messages(&mut rx).iter().flatten().all(|c| *c != "answered"));
}

/// The caller's offer is parsed once: taken at set-up (ports and remote for
/// the media task, no SDP written), then relayed toward each callee from
/// that parse; a different body is parsed anew.
#[test]
fn the_callers_offer_is_taken_once_and_relayed_to_each_callee_from_its_parse() {
    let (mut s, mut rx) = detached(media());
    s.take_offer(body(4000).as_bytes()).unwrap();
    assert_eq!(
        messages(&mut rx),
        [["stream", "stream", "remote", "srtp", "hold"]]
    );
    assert!(s.offer.is_some());
    assert_eq!(s.version, [0, 0], "no SDP written at set-up");
    let out = s.relay_caller_offer(body(4000).as_bytes()).unwrap();
    let out = sdp::parse(&out).unwrap();
    let callee_port = s.local[Leg::Callee as usize][0].map(|l| l.port);
    assert_eq!(Some(out.media()[0].port), callee_port);
    assert_eq!(
        out.version(),
        Some(1),
        "the callee's first SDP is version 1"
    );
    assert!(
        messages(&mut rx).is_empty(),
        "nothing new for the media task"
    );
    assert!(s.offer.is_some(), "kept for the next hop");
    // The next hop: the same parse, the next version.
    let again = sdp::parse(&s.relay_caller_offer(body(4000).as_bytes()).unwrap()).unwrap();
    assert_eq!(again.version(), Some(2));
    // A body other than the one taken is read as it is.
    s.relay_caller_offer(body(4002).as_bytes()).unwrap();
    assert_eq!(messages(&mut rx), [["remote"]]);
    // The answer: the offer's parse is let go (no callee gets it any more).
    s.answer(Leg::Callee, Some(body(5000).as_bytes()), false)
        .unwrap();
    assert!(s.offer.is_none());
    // A body that is not SDP is refused by both.
    assert!(s.take_offer(b"not sdp").is_err());
    assert!(s.relay_caller_offer(b"not sdp").is_err());
}

/// A line is relayed as RTP when its profile names RTP in any case; other
/// profiles and non-audio lines go byte for byte. Its payload types are the
/// static ones of RFC 3551 plus its own rtpmaps.
#[test]
fn remote_of_reads_the_profile_and_payload_types() {
    let line = |m: &str| {
        let body = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm={m}\r\n"
        );
        let sdp = sdp::parse(body.as_bytes()).unwrap();
        told::remote_of(&sdp.media()[0]).unwrap()
    };
    assert!(!line("audio 4000 RTP/AVP 0").raw);
    assert!(!line("audio 4000 rtp/avp 0").raw);
    assert!(!line("audio 4000 UDP/TLS/RTP/SAVPF 0").raw);
    assert!(line("audio 4000 udp 0").raw);
    assert!(line("image 4000 udptl t38").raw);
    let r = line("audio 4000 RTP/AVP 8 96\r\na=rtpmap:96 PCMU/8000");
    assert_eq!(r.pts.get(0), Some(Codec::Pcmu), "static, not offered");
    assert_eq!(r.pts.get(8), Some(Codec::Pcma));
    assert_eq!(r.pts.get(96), Some(Codec::Pcmu));
    assert_eq!(r.pts.get(97), None);
}
