//! Entry points of the fuzz targets (`fuzz/fuzz_targets/*.rs`, run by `cargo fuzz`)
//! and of the always-on corpus test (`tests/fuzz_corpus.rs`, run by `cargo test`).
//! Each takes arbitrary bytes and drives one piece of code that reads what a
//! stranger sends; a panic (or a broken invariant, asserted here) is a finding.
//! Findings are kept as files in `fuzz/regressions/<target>/`, which the corpus
//! test replays.
//!
//! Depends on `sip`, `transport::framing`, `transaction` and `config`; nothing
//! here opens a socket or keeps state between calls.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::sdp::{self, Rewrite};
use crate::sip::*;
use crate::transaction::{
    Action, Actions, ClientInvite, ClientNonInvite, Reliability, ServerInvite, ServerNonInvite,
    TimerConfig,
};
use crate::transport::framing::{Frame, Framer};

/// A fuzz target's entry: any bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `cargo fuzz` and the corpus test know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("parse", sip_message),
    ("sdp", sdp_body),
    ("framing", framing),
    ("transaction", transaction),
    ("trunk_body", trunk_body),
    ("rtp", media_packets),
];

/// A SIP message as received on UDP and on a stream, every typed view, the
/// validators, and the stateless response built from it.
pub fn sip_message(data: &[u8]) {
    for stream in [false, true] {
        let opts = ParseOptions {
            max_size: 65536,
            stream,
        };
        let Ok(m) = Message::parse(Bytes::copy_from_slice(data), &opts) else {
            continue;
        };
        let _ = (
            m.call_id(),
            m.cseq(),
            m.vias(),
            m.from_hdr(),
            m.to_hdr(),
            m.contact(),
        );
        // The tag / branch accessors answer what the views do.
        assert_eq!(m.via_top_branch(), m.via_top().map(|v| v.branch()));
        assert_eq!(m.from_tag(), m.from_hdr().map(|f| f.tag()));
        assert_eq!(m.to_tag(), m.to_hdr().map(|t| t.tag()));
        let _ = (m.routes(), m.record_routes(), m.max_forwards(), m.require());
        let _ = (m.validate_request(&["100rel"]), m.validate_response());
        if let Ok(v) = m.via_top() {
            let _ = (v.branch(), v.received_ip(), v.rport(), v.has_magic_cookie());
        }
        for h in m.headers() {
            if let Ok(n) = NameAddr::parse(&h.value) {
                let _ = (
                    n.tag(),
                    n.uri().map(|u| u.to_string()),
                    n.display_unquoted(),
                );
            }
        }
        if let Some(u) = m.request_uri() {
            let _ = Uri::parse(u).map(|u| (u.to_string(), u.user_unescaped()));
        }
        let r = response_to(&m, 400, default_reason(400), Some("t")).finish();
        // What we answer must itself parse.
        let back = Message::parse(r, &ParseOptions::default());
        assert!(back.is_ok(), "our own 400 does not parse: {back:?}");
    }
}

/// An SDP body: parsed, every view, rewritten for the other leg (ports and
/// address from the input's first bytes), and the rewrite parsed again.
pub fn sdp_body(data: &[u8]) {
    let (plan_bytes, body) = data.split_at(data.len().min(4));
    let Ok(s) = sdp::parse(body) else {
        return;
    };
    let _ = (s.media(), s.version(), s.has_t38());
    for m in s.media() {
        let _ = (m.is_t38(), sdp::choose_g711(m));
    }
    let b = |i: usize| plan_bytes.get(i).copied().unwrap_or(0);
    let addr = if b(0) & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, b(1)))
    } else {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(b(1))))
    };
    let port = u16::from_be_bytes([b(2), b(3)]);
    let plan = Rewrite {
        addr,
        ports: s
            .media()
            .iter()
            .enumerate()
            // As the relay does: a disabled line (port 0) keeps its port.
            .map(|(i, m)| (i % 2 == 0 && m.port != 0).then_some(port))
            .collect(),
        version: (b(0) & 2 != 0).then_some(u64::from(b(1))),
        rtcp_attr: b(0) & 4 != 0,
        // SRTP toward the leg on every other line (RTP/SAVP + one a=crypto).
        sec: s
            .media()
            .iter()
            .enumerate()
            .map(|(i, _)| {
                (b(0) & 8 != 0 && i % 2 == 0).then(|| sdp::SecOut {
                    proto: "RTP/SAVP",
                    crypto: vec![
                        "1 AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                            .into(),
                    ],
                })
            })
            .collect(),
    };
    let out = s.rewrite(&plan);
    let again = sdp::parse(&out);
    if let Err(e) = &again {
        panic!(
            "a rewritten SDP does not parse ({e:?}): {:?}",
            String::from_utf8_lossy(&out)
        );
    }
    if let Ok(again) = again {
        assert_eq!(
            again.media().len(),
            s.media().len(),
            "the rewrite lost or added m= lines"
        );
    }
}

/// A TCP byte stream cut into reads at places the input chooses: the framer must
/// account for every byte (messages + keep-alives + the incomplete tail) and agree
/// with framing the whole buffer at once.
pub fn framing(data: &[u8]) {
    const MAX: usize = 4096;
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut % 61) + 1;
    let mut framer = Framer::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    // The first message (not keep-alive) frame: where it starts and its length.
    let mut first_msg: Option<(usize, usize)> = None;
    'feed: for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match framer.next(&buf, MAX) {
                Ok(f @ (Frame::Message(n) | Frame::KeepAlive(n))) => {
                    assert!(n > 0 && n <= buf.len(), "frame of {n} in {}", buf.len());
                    if matches!(f, Frame::Message(_)) && first_msg.is_none() {
                        first_msg = Some((consumed, n));
                    }
                    consumed += n;
                    buf.drain(..n);
                }
                Ok(Frame::Incomplete) => break,
                Err(_) => break 'feed,
            }
        }
    }
    assert!(consumed <= stream.len());
    // The same stream framed from one buffer yields the same first message.
    // CR/LF before a start line may come as keep-alives or inside the
    // message depending on the reads (RFC 3261 §7.5 lets both be skipped):
    // compare the messages without them.
    let trim = |b: &[u8]| -> Vec<u8> {
        let start = b
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .unwrap_or(b.len());
        b[start..].to_vec()
    };
    if let Some((at, n)) = first_msg {
        let mut whole = Framer::new();
        let mut off = 0usize;
        for _ in 0..stream.len() {
            match whole.next(&stream[off..], MAX) {
                Ok(Frame::KeepAlive(k)) => off += k,
                Ok(Frame::Message(m)) => {
                    assert_eq!(
                        trim(&stream[off..off + m]),
                        trim(&stream[at..at + n]),
                        "framing depends on how the stream was cut"
                    );
                    break;
                }
                _ => break,
            }
        }
    }
}

/// The four transaction machines fed an arbitrary sequence of events (responses
/// with any code, timers at any time, transport errors, retransmitted requests,
/// ACKs): `Terminated` comes at most once, and nothing is sent after it.
pub fn transaction(data: &[u8]) {
    let cfg = TimerConfig::default();
    let t0 = Instant::now();
    for rel in [Reliability::Unreliable, Reliability::Reliable] {
        let mut now = t0;
        let req = Bytes::from_static(b"INVITE sip:x@y SIP/2.0\r\n\r\n");
        let (mut ci, a) = ClientInvite::new(req.clone(), rel, cfg, now);
        let (mut cn, b) = ClientNonInvite::new(req.clone(), rel, cfg, now);
        let mut si = ServerInvite::new(rel, cfg, now);
        let mut sn = ServerNonInvite::new(rel, cfg, now);
        let mut done = [Watch::default(); 4];
        done[0].see(&a);
        done[1].see(&b);
        for pair in data.chunks(2) {
            let op = pair[0];
            let arg = pair.get(1).copied().unwrap_or(0);
            let code = [100, 180, 183, 200, 202, 300, 404, 486, 500, 603][usize::from(arg % 10)];
            let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
            match op % 8 {
                0 => {
                    done[0].see(&ci.on_response(code, now, || req.clone()));
                    done[1].see(&cn.on_response(code, now));
                }
                1 => {
                    now += Duration::from_millis(u64::from(arg) * 97);
                    done[0].see(&ci.on_timer(now));
                    done[1].see(&cn.on_timer(now));
                    done[2].see(&si.on_timer(now));
                    done[3].see(&sn.on_timer(now));
                }
                2 => {
                    done[0].see(&ci.on_transport_error());
                    done[1].see(&cn.on_transport_error());
                    done[2].see(&si.on_transport_error());
                    done[3].see(&sn.on_transport_error());
                }
                3 => {
                    done[2].see(&si.send_provisional(resp.clone()));
                }
                4 => {
                    done[2].see(&si.send_final(code.max(200), resp.clone(), now));
                    done[3].see(&sn.send_response(code, resp.clone(), now));
                }
                5 => {
                    done[2].see(&si.on_request_retransmit(now));
                    done[3].see(&sn.on_request_retransmit(now));
                }
                6 => done[2].see(&si.on_ack(now)),
                _ => {
                    // Jump to the machines' own next deadlines.
                    let next = [
                        ci.next_deadline(),
                        cn.next_deadline(),
                        si.next_deadline(),
                        sn.next_deadline(),
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    if let Some(t) = next {
                        now = now.max(t);
                    }
                }
            }
        }
        assert_eq!(ci.is_terminated(), done[0].terminated);
        assert_eq!(cn.is_terminated(), done[1].terminated);
    }
}

/// What a transaction emitted so far.
#[derive(Default, Clone, Copy)]
struct Watch {
    terminated: bool,
}

impl Watch {
    fn see(&mut self, acts: &Actions) {
        for a in acts {
            match a {
                Action::Terminated => {
                    assert!(!self.terminated, "Terminated emitted twice");
                    self.terminated = true;
                }
                Action::Send(_) => assert!(!self.terminated, "sent after Terminated"),
                Action::Deliver | Action::Timeout => {}
            }
        }
    }
}

/// A REST trunk body (JSON) through the deserializer and the trunk rules.
pub fn trunk_body(data: &[u8]) {
    let Ok(t) = serde_json::from_slice::<crate::config::Trunk>(data) else {
        return;
    };
    let mut set = [t];
    let _ = crate::config::validate_trunk_set(&mut set, &[]);
}

/// A stream of datagrams as the media relay receives them, through the RTP,
/// RFC 4733 and RTCP readers and the call-quality tracker. The input is cut
/// into packets by a leading byte each: its low 7 bits are the packet's length,
/// its top bit picks the leg; the clock advances 20 ms per packet. The report at
/// the end serializes.
pub fn media_packets(data: &[u8]) {
    use crate::media::leg::{Leg, Remote};
    use crate::media::quality::{rtcp, Quality, QualityOptions};
    use crate::media::rtp::{dtmf_end, rtp_payload, PtMap};

    let mut pts = PtMap::default();
    pts.set_clock(101, 8000);
    let remote = Remote {
        rtp: std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
        rtcp: std::net::SocketAddr::from(([127, 0, 0, 1], 40001)),
        pts,
        raw: false,
        telephone_event: Some(101),
    };
    let mut q = Quality::new(QualityOptions {
        enabled: true,
        one_way_after: Some(Duration::from_secs(1)),
    });
    let t0 = Instant::now();
    let mut now = t0;
    let mut rest = data;
    let mut n = 0u32;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f).min(tail.len());
        let (pkt, after) = tail.split_at(len);
        rest = after;
        let leg = if head & 0x80 == 0 {
            Leg::Caller
        } else {
            Leg::Callee
        };
        n += 1;
        now += Duration::from_millis(20);
        if n == 3 {
            q.answered(now);
        }
        if let Some(p) = rtp_payload(pkt) {
            assert!(p.len() <= pkt.len());
        }
        let _ = dtmf_end(pkt);
        let mut far = rtcp::Far::default();
        rtcp::parse(pkt, None, &mut far);
        rtcp::parse(pkt, Some(0x1234_5678), &mut far);
        let _ = q.rtp(0, leg, pkt, Some(&remote), now);
        q.rtcp(0, leg, pkt);
        if n.is_multiple_of(50) {
            q.tick(now);
        }
    }
    q.tick(now + Duration::from_secs(6));
    if let Some(r) = q.report(now + Duration::from_secs(6)) {
        let text = serde_json::to_string(&r).unwrap_or_default();
        assert!(!text.is_empty(), "the quality report serializes");
    }
}
