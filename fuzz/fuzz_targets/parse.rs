//! Feeds arbitrary bytes to `Message::parse` (UDP and stream framing) and
//! every typed view and validator; any panic is a bug.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use trunkgate::sip::*;

fuzz_target!(|data: &[u8]| {
    for stream in [false, true] {
        let opts = ParseOptions { max_size: 65536, stream };
        let Ok(m) = Message::parse(Bytes::copy_from_slice(data), &opts) else {
            continue;
        };
        let _ = (m.call_id(), m.cseq(), m.vias(), m.from_hdr(), m.to_hdr(), m.contact());
        let _ = (m.routes(), m.record_routes(), m.max_forwards(), m.require());
        let _ = (m.validate_request(&["100rel"]), m.validate_response());
        if let Ok(v) = m.via_top() {
            let _ = (v.branch(), v.received_ip(), v.rport(), v.has_magic_cookie());
        }
        for h in m.headers() {
            if let Ok(n) = NameAddr::parse(&h.value) {
                let _ = (n.tag(), n.uri().map(|u| u.to_string()), n.display_unquoted());
            }
        }
        if let Some(u) = m.request_uri() {
            let _ = Uri::parse(u).map(|u| (u.to_string(), u.user_unescaped()));
        }
        let _ = response_to(&m, 400, default_reason(400), Some("t")).finish();
    }
});
