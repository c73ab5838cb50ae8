//! Parse throughput: our parser (parse + what a proxy touches: Call-ID, CSeq,
//! top Via, From/To tags) vs `rsip::SipMessage::try_from(&[u8])`, on the same
//! realistic INVITE with SDP, 180 and 200 with SDP.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use trunkgate::sip::{Message, ParseOptions};

const INVITE: &str = "INVITE sip:+14155550123@trunk.example.com:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---7f3c1d2e9a8b6c5d;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1001@198.51.100.7:5060;transport=udp>\r\n\
To: <sip:+14155550123@trunk.example.com>\r\n\
From: \"Alice Example\" <sip:1001@pbx.example.org>;tag=8a3f21c9\r\n\
Call-ID: 5d1f0c9a7e3b4f21a8c6d2e1b0f9a7c3@198.51.100.7\r\n\
CSeq: 102 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: Asterisk PBX 20.5.0\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 261\r\n\
\r\n\
v=0\r\n\
o=- 3912345678 3912345678 IN IP4 198.51.100.7\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 18320 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

const RINGING: &str = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-d8754z-9f1c2b3a4d5e6f70;rport=5060;received=203.0.113.10\r\n\
Record-Route: <sip:203.0.113.20;lr;ftag=8a3f21c9>\r\n\
Contact: <sip:+14155550123@203.0.113.20:5060>\r\n\
To: <sip:+14155550123@carrier.example.net>;tag=as6f1e2d3c\r\n\
From: \"Alice Example\" <sip:+13105550199@sbc.example.com>;tag=8a3f21c9\r\n\
Call-ID: 9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e@203.0.113.10\r\n\
CSeq: 1 INVITE\r\n\
Server: CarrierSBC/4.2\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK\r\n\
Supported: replaces, timer\r\n\
Content-Length: 0\r\n\
\r\n";

const OK_SDP: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-d8754z-9f1c2b3a4d5e6f70;rport=5060;received=203.0.113.10\r\n\
Record-Route: <sip:203.0.113.20;lr;ftag=8a3f21c9>\r\n\
Contact: <sip:+14155550123@203.0.113.20:5060>\r\n\
To: <sip:+14155550123@carrier.example.net>;tag=as6f1e2d3c\r\n\
From: \"Alice Example\" <sip:+13105550199@sbc.example.com>;tag=8a3f21c9\r\n\
Call-ID: 9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e@203.0.113.10\r\n\
CSeq: 1 INVITE\r\n\
Server: CarrierSBC/4.2\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK\r\n\
Supported: replaces, timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Require: timer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 213\r\n\
\r\n\
v=0\r\n\
o=CarrierSBC 1700000000 1700000001 IN IP4 203.0.113.30\r\n\
s=SBC Call\r\n\
c=IN IP4 203.0.113.30\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// Parse plus the views a proxy touches on every message.
fn ours(data: &Bytes) -> usize {
    let m = Message::parse(data.clone(), &ParseOptions::default()).unwrap();
    let cid = m.call_id().map_or(0, |c| c.len());
    let seq = m.cseq().map_or(0, |c| c.seq as usize);
    let branch = m
        .via_top()
        .ok()
        .and_then(|v| v.branch())
        .map_or(0, |b| b.len());
    let ft = m
        .from_hdr()
        .ok()
        .and_then(|f| f.tag())
        .map_or(0, |t| t.len());
    let tt = m.to_hdr().ok().and_then(|t| t.tag()).map_or(0, |t| t.len());
    cid + seq + branch + ft + tt
}

fn bench(c: &mut Criterion) {
    for (name, text) in [
        ("invite_sdp", INVITE),
        ("180", RINGING),
        ("200_sdp", OK_SDP),
    ] {
        let data = Bytes::from_static(text.as_bytes());
        // Both parsers must accept the input, or the comparison is void.
        assert!(ours(&data) > 0);
        assert!(
            rsip::SipMessage::try_from(text.as_bytes()).is_ok(),
            "rsip rejects {name}"
        );
        let m = Message::parse(data.clone(), &ParseOptions::default()).unwrap();
        assert_eq!(
            m.validate_request(&["timer", "replaces", "100rel"]).is_ok(),
            m.is_request()
        );
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("trunkgate", |b| b.iter(|| ours(black_box(&data))));
        g.bench_function("trunkgate_parse_only", |b| {
            b.iter(|| Message::parse(black_box(data.clone()), &ParseOptions::default()).is_ok())
        });
        g.bench_function("rsip", |b| {
            b.iter(|| rsip::SipMessage::try_from(black_box(text.as_bytes())).is_ok())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
