use super::*;
use crate::media::{MediaMetrics, MediaSettings};

fn offer(port: u16) -> sdp::Sdp {
    let body = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    sdp::parse(body.as_bytes()).unwrap()
}

fn names(cmds: &[Cmd]) -> Vec<&'static str> {
    cmds.iter()
        .map(|c| match c {
            Cmd::Stream { .. } => "stream",
            Cmd::Remote { .. } => "remote",
            Cmd::Srtp { .. } => "srtp",
            Cmd::Hold(_) => "hold",
            _ => "other",
        })
        .collect()
}

/// The caller's offer is relayed once at set-up and again for every hop:
/// only what changed reaches the media task (each message wakes its thread).
#[test]
fn an_sdp_relayed_again_tells_the_media_task_only_what_changed() {
    let settings = MediaSettings {
        bind_ipv4: std::net::Ipv4Addr::LOCALHOST,
        port_min: 41900,
        port_max: 41979,
        ..MediaSettings::default()
    };
    let media = Media::new(settings, MediaMetrics::register(&mut Default::default()));
    let mut s = MediaSession::new(media, Box::new(|_| {}));
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
    s.answered = true;
    assert_eq!(run(&mut s, Leg::Caller, 4002), ["hold"]);
}
