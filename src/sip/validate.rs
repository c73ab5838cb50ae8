//! Checks a message must pass before the gateway acts on it (RFC 3261 §8.2,
//! §16.3, RFC 4475, RFC 5118), plus the scalar views they need (CSeq,
//! Max-Forwards).

use super::error::Reject;
use super::header_name::HeaderName;
use super::message::{CSeq, Message, StartLine};
use super::method::Method;
use super::name_addr::NameAddr;
use super::parse::parse_usize;
use super::scan::{all_token, is_ws, trim_range};
use super::uri::{Scheme, Uri};
use super::via::Via;
use bytes::Bytes;
use memchr::memchr;

/// What [`Message::check_request`] parsed on the way that the gateway reads
/// next.
#[derive(Debug)]
pub struct Checked {
    /// The Request-URI (sip, sips or tel; no `?headers`).
    pub uri: Uri,
    /// The To tag (`None`: an initial request).
    pub to_tag: Option<Bytes>,
}

/// RFC 3261 §8.1.1.5: the CSeq sequence number MUST be less than 2**31.
const CSEQ_MAX: u32 = (1 << 31) - 1;

/// Headers that may appear at most once (RFC 3261 §7.3.1, §20; RFC 4475 §3.3.8).
const SINGLE: &[(HeaderName, &str)] = &[
    (HeaderName::CallId, "Bad Request (multiple Call-ID)"),
    (HeaderName::From, "Bad Request (multiple From)"),
    (HeaderName::To, "Bad Request (multiple To)"),
    (HeaderName::CSeq, "Bad Request (multiple CSeq)"),
    (
        HeaderName::MaxForwards,
        "Bad Request (multiple Max-Forwards)",
    ),
    (
        HeaderName::ContentType,
        "Bad Request (multiple Content-Type)",
    ),
];

impl Message {
    /// RFC 3261 §20.16: `1*DIGIT LWS Method`, number < 2**31.
    pub fn cseq(&self) -> Result<CSeq, Reject> {
        let (src, r) = self
            .first_value(&HeaderName::CSeq)
            .ok_or_else(|| Reject::bad("Bad Request (missing CSeq)"))?;
        let b: &[u8] = src.get(r.clone()).unwrap_or_default();
        let digits_end = b
            .iter()
            .position(|&c| !c.is_ascii_digit())
            .unwrap_or(b.len());
        let seq = b
            .get(..digits_end)
            .and_then(parse_usize)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= CSEQ_MAX)
            .ok_or_else(|| Reject::bad("Bad Request (CSeq number)"))?;
        let m = trim_range(b, digits_end..b.len());
        let method_ok = m.start > digits_end && b.get(m.clone()).is_some_and(all_token);
        if !method_ok {
            return Err(Reject::bad("Bad Request (CSeq method)"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_range(src, r.start + m.start..r.start + m.end),
        })
    }

    /// RFC 3261 §20.22. Absent -> `None`; above 255 -> `None` (RFC 4475
    /// §3.1.2.4: process as if absent); non-numeric -> 400.
    pub fn max_forwards(&self) -> Result<Option<u32>, Reject> {
        let Some(v) = self.header(&HeaderName::MaxForwards) else {
            return Ok(None);
        };
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
            return Err(Reject::bad("Bad Request (Max-Forwards)"));
        }
        Ok(parse_usize(&v)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= 255))
    }

    /// All checks a request must pass before the gateway acts on it
    /// (RFC 3261 §8.2, §16.3, RFC 4475, RFC 5118), in this order:
    /// version (505), Request-Line shape, Content-Length framing, mandatory
    /// and single-valued headers, CSeq and its method, Request-URI scheme
    /// (416) and syntax, Via / From / To / Contact syntax, Max-Forwards
    /// syntax (400), then Require / Proxy-Require option tags not in
    /// `supported_extensions` (420, RFC 3261 §8.2.2.3; never for ACK and
    /// CANCEL). Max-Forwards 0 passes: answering 483 is the core's job.
    pub fn validate_request(&self, supported_extensions: &[&str]) -> Result<(), Reject> {
        self.check_request(supported_extensions).map(drop)
    }

    /// [`validate_request`](Self::validate_request), handing back what the
    /// checks parsed that the gateway reads next (so it is not parsed again):
    /// the Request-URI and the To tag.
    pub fn check_request(&self, supported_extensions: &[&str]) -> Result<Checked, Reject> {
        let StartLine::Request(rl) = &self.start else {
            return Err(Reject::bad("Bad Request (not a request)"));
        };
        if !rl.version.eq_ignore_ascii_case(b"SIP/2.0") {
            return Err(Reject::new(505, "Version Not Supported"));
        }
        if let Some(reason) = self.line_defect {
            return Err(Reject::bad(reason));
        }
        if let Some(d) = self.framing {
            return Err(Reject::bad(d.reason()));
        }
        self.check_single_headers()?;
        let cseq = self.cseq()?;
        if cseq.method != rl.method {
            return Err(Reject::bad("Bad Request (CSeq method mismatch)"));
        }
        let uri = check_request_uri(&rl.uri)?;
        let to_tag = self.check_addresses(&rl.method)?;
        self.max_forwards()?;
        if !matches!(rl.method, Method::Ack | Method::Cancel) {
            let unsupported: Vec<Bytes> = self
                .require()
                .into_iter()
                .chain(self.proxy_require())
                .filter(|t| {
                    !supported_extensions
                        .iter()
                        .any(|s| s.as_bytes() == t.as_ref())
                })
                .collect();
            if !unsupported.is_empty() {
                return Err(Reject {
                    code: 420,
                    reason: "Bad Extension",
                    unsupported,
                });
            }
        }
        Ok(Checked { uri, to_tag })
    }

    /// Response sanity (RFC 3261 §18.1.2, RFC 4475 §3.1.2.5, §3.1.2.19):
    /// SIP/2.0, a three-digit code in 100..=699, sound framing, CSeq parses,
    /// a Via, Call-ID, From and To present. `Err` => the gateway drops it.
    pub fn validate_response(&self) -> Result<(), Reject> {
        let StartLine::Response(st) = &self.start else {
            return Err(Reject::bad("Bad Response (not a response)"));
        };
        if !st.version.eq_ignore_ascii_case(b"SIP/2.0") {
            return Err(Reject::new(505, "Version Not Supported"));
        }
        if self.line_defect.is_some() || !(100..=699).contains(&st.code) {
            return Err(Reject::bad("Bad Response (status code)"));
        }
        if let Some(d) = self.framing {
            return Err(Reject::bad(d.reason()));
        }
        self.check_single_headers()?;
        self.cseq()?;
        self.via_top()?;
        Ok(())
    }

    fn check_single_headers(&self) -> Result<(), Reject> {
        for (name, reason) in SINGLE {
            let n = self.header_count(name);
            if n > 1 {
                return Err(Reject::bad(reason));
            }
            let mandatory = !matches!(name, HeaderName::MaxForwards | HeaderName::ContentType);
            if n == 0 && mandatory {
                return Err(Reject::bad(missing(name)));
            }
        }
        if self.header(&HeaderName::Via).is_none() {
            return Err(Reject::bad("Bad Request (missing Via)"));
        }
        Ok(())
    }

    /// Via, From, To and Contact syntax; returns the To tag.
    fn check_addresses(&self, method: &Method) -> Result<Option<Bytes>, Reject> {
        for v in &self.header_values(&HeaderName::Via) {
            Via::parse(v)?;
        }
        let from = self.from_hdr()?;
        let to = self.to_hdr()?;
        if from.uri().is_err() {
            return Err(Reject::bad("Bad Request (From URI)"));
        }
        if to.uri().is_err() {
            return Err(Reject::bad("Bad Request (To URI)"));
        }
        let to_tag = to.tag();
        let contacts = self.header_values(&HeaderName::Contact);
        let wildcard = contacts.len() == 1 && contacts.first().is_some_and(|c| c.as_ref() == b"*");
        if wildcard && *method == Method::Register {
            return Ok(to_tag);
        }
        for c in &contacts {
            let ok = NameAddr::parse(c).is_ok_and(|na| na.uri().is_ok());
            if !ok {
                return Err(Reject::bad("Bad Request (Contact)"));
            }
        }
        Ok(to_tag)
    }
}

fn missing(name: &HeaderName) -> &'static str {
    match name {
        HeaderName::CallId => "Bad Request (missing Call-ID)",
        HeaderName::From => "Bad Request (missing From)",
        HeaderName::To => "Bad Request (missing To)",
        HeaderName::CSeq => "Bad Request (missing CSeq)",
        _ => "Bad Request (missing header)",
    }
}

/// RFC 3261 §8.2.2.1 / §16.3: sip, sips and tel only (416 otherwise); the
/// URI must parse and carry no `?headers` (§19.1.1 table: not allowed in a
/// Request-URI; RFC 4475 §3.1.2.11).
fn check_request_uri(uri: &Bytes) -> Result<Uri, Reject> {
    let scheme = memchr(b':', uri)
        .and_then(|c| uri.get(..c))
        .unwrap_or_default();
    let known = [&b"sip"[..], b"sips", b"tel"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme));
    if !known || scheme.iter().any(|&c| is_ws(c)) {
        return Err(Reject::new(416, "Unsupported URI Scheme"));
    }
    let u = Uri::parse(uri).map_err(|e| {
        if e.reason.contains("IPv6") {
            Reject::bad("Bad Request (Request-URI IPv6 address without [])")
        } else {
            Reject::bad("Bad Request (Request-URI)")
        }
    })?;
    if !u.headers.is_empty() {
        return Err(Reject::bad("Bad Request (headers in Request-URI)"));
    }
    debug_assert!(!matches!(u.scheme, Scheme::Other(_)));
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::ParseOptions;

    const OK: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

    fn check(s: &str) -> Result<(), Reject> {
        let m = Message::parse(Bytes::from(s.to_string()), &ParseOptions::default()).unwrap();
        m.validate_request(&["timer"])
    }

    fn with(from: &str, to: &str) -> Result<(), Reject> {
        check(&OK.replacen(from, to, 1))
    }

    #[test]
    fn accepts_and_rejects() {
        assert_eq!(check(OK), Ok(()));
        assert_eq!(with("CSeq: 1 OPTIONS", "CSeq: 2147483647 OPTIONS"), Ok(()));
        assert_eq!(
            with("CSeq: 1 OPTIONS", "CSeq: 2147483648 OPTIONS")
                .unwrap_err()
                .reason,
            "Bad Request (CSeq number)"
        );
        assert_eq!(
            with("CSeq: 1 OPTIONS", "CSeq: 1").unwrap_err().reason,
            "Bad Request (CSeq method)"
        );
        assert_eq!(
            with("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
                .unwrap_err()
                .reason,
            "Bad Request (CSeq method mismatch)"
        );
        assert_eq!(
            with("Max-Forwards: 70", "Max-Forwards: seventy")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(with("Max-Forwards: 70", "Max-Forwards: 300"), Ok(()));
        assert_eq!(with("SIP/2.0\r\n", "SIP/3.0\r\n").unwrap_err().code, 505);
        assert_eq!(with("sip:bob@example.com SIP", "tel:+15551234 SIP"), Ok(()));
        assert_eq!(
            with("sip:bob@example.com SIP", "http://x SIP")
                .unwrap_err()
                .code,
            416
        );
        assert_eq!(
            with("sip:bob@example.com SIP", "sip:bob@2001:db8::1 SIP")
                .unwrap_err()
                .reason,
            "Bad Request (Request-URI IPv6 address without [])"
        );
        assert_eq!(
            with("Call-ID: c1\r\n", "").unwrap_err().reason,
            "Bad Request (missing Call-ID)"
        );
        assert_eq!(
            with("Call-ID: c1\r\n", "Call-ID: c1\r\ni: c2\r\n")
                .unwrap_err()
                .reason,
            "Bad Request (multiple Call-ID)"
        );
        assert_eq!(
            with(
                "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776\r\n",
                ""
            )
            .unwrap_err()
            .reason,
            "Bad Request (missing Via)"
        );
        assert_eq!(
            with(
                "To: <sip:bob@example.com>",
                "To: <sip:bob@example.com>, <sip:x@y>"
            )
            .unwrap_err()
            .reason,
            "Bad Request (To)"
        );
        assert_eq!(
            with("To: <sip:bob@example.com>", "To: <sip:bob@bad..host>")
                .unwrap_err()
                .reason,
            "Bad Request (To URI)"
        );
        assert_eq!(
            with(
                "Content-Length: 0\r\n",
                "Content-Length: 0\r\nm: <sip:a@b>, ;\r\n"
            )
            .unwrap_err()
            .reason,
            "Bad Request (Contact)"
        );
    }

    #[test]
    fn address_checks_keep_their_order_and_reasons() {
        let bad_from_uri = with(
            "From: <sip:alice@example.com>",
            "From: <sip:alice@bad..host>",
        );
        assert_eq!(bad_from_uri.unwrap_err().reason, "Bad Request (From URI)");
        // A bad From URI is reported before a bad To URI.
        let both = OK
            .replacen(
                "From: <sip:alice@example.com>",
                "From: <sip:a@bad..host>",
                1,
            )
            .replacen("To: <sip:bob@example.com>", "To: <sip:b@bad..host>", 1);
        assert_eq!(check(&both).unwrap_err().reason, "Bad Request (From URI)");
        // A To that does not parse is reported before a bad From URI.
        let to_first = OK
            .replacen(
                "From: <sip:alice@example.com>",
                "From: <sip:a@bad..host>",
                1,
            )
            .replacen("To: <sip:bob@example.com>", "To: <sip:b@c>, <sip:x@y>", 1);
        assert_eq!(check(&to_first).unwrap_err().reason, "Bad Request (To)");
        // Every Via is checked, not only the top one.
        let second_via = with("Max-Forwards: 70", "Via: SIP/2.0/UDP\r\nMax-Forwards: 70");
        let top_only = with(
            "Max-Forwards: 70",
            "Via: SIP/2.0/UDP h2;branch=z9hG4bK2\r\nMax-Forwards: 70",
        );
        assert_eq!(top_only, Ok(()));
        let second_via = second_via.unwrap_err();
        assert_eq!(second_via.code, 400);
        let m = Message::parse(
            Bytes::from(OK.replacen(
                "Max-Forwards: 70",
                "Via: SIP/2.0/UDP\r\nMax-Forwards: 70",
                1,
            )),
            &ParseOptions::default(),
        )
        .unwrap();
        let via_err = m
            .header_values(&HeaderName::Via)
            .iter()
            .map(Via::parse)
            .find_map(Result::err)
            .unwrap();
        assert_eq!(second_via, via_err);
    }

    #[test]
    fn check_request_hands_back_the_request_uri_and_the_to_tag() {
        let parse =
            |s: &str| Message::parse(Bytes::from(s.to_string()), &ParseOptions::default()).unwrap();
        let initial = parse(OK).check_request(&[]).unwrap();
        assert_eq!(
            initial.uri,
            Uri::parse(&Bytes::from_static(b"sip:bob@example.com")).unwrap()
        );
        assert_eq!(initial.to_tag, None);
        let in_dialog = parse(&OK.replacen(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=x9",
            1,
        ))
        .check_request(&[])
        .unwrap();
        assert_eq!(in_dialog.to_tag.as_deref(), Some(&b"x9"[..]));
        let register = OK.replace("OPTIONS", "REGISTER").replacen(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=r1\r\nContact: *",
            1,
        );
        let wildcard = parse(&register).check_request(&[]).unwrap();
        assert_eq!(wildcard.to_tag.as_deref(), Some(&b"r1"[..]));
    }

    #[test]
    fn require_and_contact_wildcard() {
        let r = with(
            "Content-Length: 0",
            "Require: timer, 100rel\r\nProxy-Require: x\r\nContent-Length: 0",
        )
        .unwrap_err();
        assert_eq!((r.code, r.reason), (420, "Bad Extension"));
        assert_eq!(r.unsupported, ["100rel", "x"]);
        assert_eq!(
            with("Content-Length: 0", "Require: timer\r\nContent-Length: 0"),
            Ok(())
        );
        let cancel = OK.replace("OPTIONS", "CANCEL").replacen(
            "Content-Length: 0",
            "Require: foo\r\nContent-Length: 0",
            1,
        );
        assert_eq!(check(&cancel), Ok(()));
        let reg = OK.replace("OPTIONS", "REGISTER").replacen(
            "Content-Length: 0",
            "Contact: *\r\nContent-Length: 0",
            1,
        );
        assert_eq!(check(&reg), Ok(()));
        assert_eq!(
            with("Content-Length: 0", "Contact: *\r\nContent-Length: 0")
                .unwrap_err()
                .reason,
            "Bad Request (Contact)"
        );
    }

    #[test]
    fn responses() {
        let resp = |s: &str| {
            Message::parse(Bytes::from(s.to_string()), &ParseOptions::default())
                .unwrap()
                .validate_response()
        };
        let ok = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
        assert_eq!(resp(ok), Ok(()));
        assert!(resp(&ok.replace("180", "700")).is_err());
        assert!(resp(&ok.replace("180", "099")).is_err());
        assert!(resp(&ok.replace("180", "1800")).is_err());
        assert!(resp(&ok.replace("Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "")).is_err());
        assert!(resp(&ok.replace("CSeq: 1 INVITE", "CSeq: 99999999999 INVITE")).is_err());
        assert!(resp(&ok.replace("l: 0", "l: 10")).is_err());
        let req =
            Message::parse(Bytes::from_static(OK.as_bytes()), &ParseOptions::default()).unwrap();
        assert!(req.validate_response().is_err());
    }
}
