//! PROTOS c07-sip (University of Oulu): 4527 mutated INVITEs plus their
//! teardown. The parser and every typed view must survive all of them, and the
//! valid case 0 must pass validation.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use trunkgate::sip::*;

const CASES: usize = 4527;

/// The cases directory: the shared copy, else the vendored archive
/// extracted into a fresh temporary directory.
fn cases_dir() -> (PathBuf, Option<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/testdata/protos-c07-sip/cases");
    if shared.is_dir() {
        return (shared, None);
    }
    let tmp = std::env::temp_dir().join(format!(
        "trunkgate-protos-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&tmp).unwrap();
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(root.join("tests/data/protos-c07-sip.tar.xz"))
        .arg("-C")
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(status.success(), "tar failed");
    (tmp.join("protos-c07-sip/cases"), Some(tmp))
}

/// Splits `<len> <template>` at `pos`; returns the template and the offset after it.
fn take_template(data: &[u8], pos: usize) -> (&[u8], usize) {
    let sp = pos + data[pos..].iter().position(|&c| c == b' ').unwrap();
    let len: usize = std::str::from_utf8(&data[pos..sp])
        .unwrap()
        .parse()
        .unwrap();
    let start = sp + 1;
    (&data[start..start + len], start + len)
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(hay, from) {
        out.extend_from_slice(&hay[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    out.extend_from_slice(&hay[last..]);
    out
}

fn render(template: &[u8], case: usize) -> Vec<u8> {
    let call_id = format!("protos-{case}");
    let branch = format!("{case}");
    let fills: [(&[u8], &[u8]); 9] = [
        (b"<To>", b"user@127.0.0.1"),
        (b"<From>", b"protos@127.0.0.1"),
        (b"<From-Address>", b"127.0.0.1"),
        (b"<From-IP>", b"127.0.0.1"),
        (b"<Local-Port>", b"5061"),
        (b"<Branch-ID>", branch.as_bytes()),
        (b"<Call-ID>", call_id.as_bytes()),
        (b"<CSeq>", b"1"),
        (b"<Teardown-Method>", b"CANCEL"),
    ];
    let mut out = template.to_vec();
    for (from, to) in fills {
        out = replace(&out, from, to);
    }
    let body_len = memchr::memmem::find(&out, b"\r\n\r\n").map_or(0, |p| out.len() - (p + 4));
    replace(&out, b"<Content-Length>", body_len.to_string().as_bytes())
}

/// Parses and runs every view; returns a summary label.
fn exercise(data: Bytes) -> String {
    let msg = match Message::parse(data.clone(), &ParseOptions::default()) {
        Ok(m) => m,
        Err(ParseError::TooLarge { .. }) => {
            let big = ParseOptions {
                max_size: 1 << 20,
                stream: false,
            };
            match Message::parse(data, &big) {
                Ok(m) => {
                    views(&m);
                    return "too_large(parsed)".into();
                }
                Err(e) => return format!("too_large({})", e.name()),
            }
        }
        Err(e) => return format!("parse:{}", e.name()),
    };
    views(&msg)
}

fn views(msg: &Message) -> String {
    let _ = (
        msg.call_id(),
        msg.cseq(),
        msg.via_top(),
        msg.vias(),
        msg.from_hdr(),
        msg.to_hdr(),
    );
    // The tag / branch accessors answer what the views do.
    assert_eq!(msg.via_top_branch(), msg.via_top().map(|v| v.branch()));
    assert_eq!(msg.from_tag(), msg.from_hdr().map(|f| f.tag()));
    assert_eq!(msg.to_tag(), msg.to_hdr().map(|t| t.tag()));
    let _ = (
        msg.contact(),
        msg.routes(),
        msg.record_routes(),
        msg.max_forwards(),
    );
    let _ = (
        msg.content_type(),
        msg.require(),
        msg.proxy_require(),
        msg.supported(),
    );
    let _ = (msg.raw().len(), msg.body().len(), msg.framing_defect());
    if let Some(Ok(c)) = msg.contact() {
        let _ = (
            c.tag(),
            c.uri().map(|u| u.to_string()),
            c.display_unquoted(),
        );
    }
    if let Ok(v) = msg.via_top() {
        let _ = (v.branch(), v.received_ip(), v.rport(), v.has_magic_cookie());
    }
    if let Some(Ok(u)) = msg.request_uri().map(Uri::parse) {
        let _ = (u.to_string(), u.user_unescaped(), u.param("user"));
    }
    for name in [HeaderName::Via, HeaderName::Contact, HeaderName::Accept] {
        let _ = msg.header_values(&name);
    }
    let _ = response_to(msg, 400, default_reason(400), Some("x")).finish();
    if msg.is_request() {
        match msg.validate_request(&["100rel"]) {
            Ok(()) => "valid".into(),
            Err(r) => format!("{}", r.code),
        }
    } else {
        format!("response:{}", msg.validate_response().is_ok())
    }
}

#[test]
fn protos_c07_sip_all_cases() {
    let (dir, tmp) = cases_dir();
    let mut failed = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in 0..CASES {
        let raw = std::fs::read(dir.join(format!("{case:07}"))).unwrap();
        let (invite, next) = take_template(&raw, 0);
        let (teardown, end) = take_template(&raw, next);
        assert_eq!(end, raw.len(), "case {case} framing");
        for (kind, tpl) in [("invite", invite), ("teardown", teardown)] {
            let data = Bytes::from(render(tpl, case));
            match catch_unwind(AssertUnwindSafe(|| exercise(data))) {
                Ok(label) => *outcomes.entry(format!("{kind}:{label}")).or_default() += 1,
                Err(_) => failed.push((case, kind)),
            }
        }
    }
    std::panic::set_hook(hook);
    eprintln!("PROTOS outcomes: {outcomes:#?}");

    let raw = std::fs::read(dir.join("0000000")).unwrap();
    if let Some(tmp) = tmp {
        let _ = std::fs::remove_dir_all(tmp);
    }
    assert!(failed.is_empty(), "panics in cases: {failed:?}");
    let (invite, next) = take_template(&raw, 0);
    let (teardown, _) = take_template(&raw, next);
    let m = Message::parse(Bytes::from(render(invite, 0)), &ParseOptions::default()).unwrap();
    assert_eq!(m.validate_request(&[]), Ok(()));
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.via_top().unwrap().branch().unwrap(), "z9hG4bK000000");
    assert_eq!(m.from_hdr().unwrap().tag().unwrap(), "0");
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert!(m.body().ends_with(b"a=rtpmap:0 PCMU/8000\r\n"));
    let t = Message::parse(Bytes::from(render(teardown, 0)), &ParseOptions::default()).unwrap();
    assert_eq!(t.method(), Some(&Method::Cancel));
    assert_eq!(
        t.cseq().unwrap(),
        CSeq {
            seq: 1,
            method: Method::Cancel
        }
    );
    assert_eq!(t.validate_request(&[]), Ok(()));
}
