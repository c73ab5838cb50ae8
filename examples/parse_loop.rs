//! Parses one of the parser bench's messages (INVITE with SDP, 180, 200 with
//! SDP) N times with the views a proxy touches on every message (Call-ID,
//! CSeq, top Via branch, From/To tags): a fixed workload for
//! `valgrind --tool=callgrind`, whose instruction counts compare parser
//! changes without the noise of wall-clock timing.
//!
//! usage: cargo run --release --example parse_loop -- [N] [invite|180|200] [views|tags]
//!        (default 100000 INVITEs through the views; `tags` asks
//!        `via_top_branch`, `from_tag` and `to_tag` instead)
//!        valgrind --tool=callgrind target/release/examples/parse_loop 100000

use bytes::Bytes;
use trunkgate::sip::{Message, ParseOptions};

const INVITE: &str = include_str!("../benches/data/invite_sdp.txt");
const RINGING: &str = include_str!("../benches/data/ringing_180.txt");
const OK_SDP: &str = include_str!("../benches/data/ok_200_sdp.txt");

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let text = match std::env::args().nth(2).as_deref() {
        None | Some("invite") => INVITE,
        Some("180") => RINGING,
        Some("200") => OK_SDP,
        Some(other) => {
            eprintln!("unknown message {other:?}: invite, 180 or 200");
            std::process::exit(2);
        }
    };
    // `tags`: the branch and tags through `via_top_branch` / `from_tag` /
    // `to_tag` (the same checks, no view built) rather than the views.
    let tags = match std::env::args().nth(3).as_deref() {
        None | Some("views") => false,
        Some("tags") => true,
        Some(other) => {
            eprintln!("unknown accessor set {other:?}: views or tags");
            std::process::exit(2);
        }
    };
    // A shared (not static) buffer, as the transport hands over a datagram.
    let data = Bytes::from(text.replace('\n', "\r\n").into_bytes());
    let opts = ParseOptions::default();
    let mut sum = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let Ok(m) = Message::parse(std::hint::black_box(data.clone()), &opts) else {
            eprintln!("the bench message does not parse");
            std::process::exit(1);
        };
        sum += m.call_id().map_or(0, |c| c.len());
        sum += m.cseq().map_or(0, |c| c.seq as usize);
        let (branch, from_tag, to_tag) = if tags {
            (
                m.via_top_branch().ok().flatten(),
                m.from_tag().ok().flatten(),
                m.to_tag().ok().flatten(),
            )
        } else {
            (
                m.via_top().ok().and_then(|v| v.branch()),
                m.from_hdr().ok().and_then(|f| f.tag()),
                m.to_hdr().ok().and_then(|t| t.tag()),
            )
        };
        for b in [branch, from_tag, to_tag] {
            sum += b.map_or(0, |b| b.len());
        }
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{n} messages, {:.3} us each ({:.2} M/s), checksum {sum}",
        per * 1e6,
        1e-6 / per
    );
}
