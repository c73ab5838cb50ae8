//! Parses the call-rate benches' SDP offer (what sipp's UAC sends) and
//! rewrites it toward the other leg, N times: a fixed workload for
//! `valgrind --tool=callgrind`, to compare SDP changes by instruction count.
//!
//! usage: cargo run --release --example sdp_loop -- [N]   (default 100000)
//!        valgrind --tool=callgrind target/release/examples/sdp_loop 20000

use std::net::{IpAddr, Ipv4Addr};

use trunkgate::sip::sdp::{self, Rewrite};

const OFFER: &str = "v=0\r\no=bench 53655765 2353687637 IN IP4 127.0.0.1\r\ns=bench\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let plan = Rewrite {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        ports: [Some(20_000)].into_iter().collect(),
        version: Some(2),
        rtcp_attr: true,
        sec: [None].into_iter().collect(),
    };
    let mut bytes = 0;
    for _ in 0..n {
        let parsed = match sdp::parse(std::hint::black_box(OFFER.as_bytes())) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("the offer does not parse: {e}");
                std::process::exit(1);
            }
        };
        bytes += parsed.rewrite(&plan).len();
    }
    println!("{n} offers parsed and rewritten ({bytes} bytes out)");
}
