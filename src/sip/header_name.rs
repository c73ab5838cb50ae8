//! Header field names (RFC 3261 §7.3, §20): case-insensitive, with compact forms.

use bytes::Bytes;
use std::hash::{Hash, Hasher};

/// A header field name. Known names are variants; anything else is kept as
/// [`HeaderName::Other`] with its original spelling (compared case-insensitively).
#[derive(Clone, Debug)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    ContentLength,
    ContentType,
    Route,
    RecordRoute,
    Require,
    ProxyRequire,
    Supported,
    Unsupported,
    Allow,
    Accept,
    UserAgent,
    Server,
    Expires,
    Subject,
    Event,
    ReferTo,
    RSeq,
    RAck,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Reason,
    Warning,
    Date,
    Timestamp,
    Other(Bytes),
}

/// Known long forms, in canonical spelling.
#[cfg(test)]
const KNOWN: &[(&str, HeaderName)] = &[
    ("Via", HeaderName::Via),
    ("From", HeaderName::From),
    ("To", HeaderName::To),
    ("Call-ID", HeaderName::CallId),
    ("CSeq", HeaderName::CSeq),
    ("Contact", HeaderName::Contact),
    ("Max-Forwards", HeaderName::MaxForwards),
    ("Content-Length", HeaderName::ContentLength),
    ("Content-Type", HeaderName::ContentType),
    ("Route", HeaderName::Route),
    ("Record-Route", HeaderName::RecordRoute),
    ("Require", HeaderName::Require),
    ("Proxy-Require", HeaderName::ProxyRequire),
    ("Supported", HeaderName::Supported),
    ("Unsupported", HeaderName::Unsupported),
    ("Allow", HeaderName::Allow),
    ("Accept", HeaderName::Accept),
    ("User-Agent", HeaderName::UserAgent),
    ("Server", HeaderName::Server),
    ("Expires", HeaderName::Expires),
    ("Subject", HeaderName::Subject),
    ("Event", HeaderName::Event),
    ("Refer-To", HeaderName::ReferTo),
    ("RSeq", HeaderName::RSeq),
    ("RAck", HeaderName::RAck),
    ("Authorization", HeaderName::Authorization),
    ("Proxy-Authorization", HeaderName::ProxyAuthorization),
    ("WWW-Authenticate", HeaderName::WwwAuthenticate),
    ("Proxy-Authenticate", HeaderName::ProxyAuthenticate),
    ("Reason", HeaderName::Reason),
    ("Warning", HeaderName::Warning),
    ("Date", HeaderName::Date),
    ("Timestamp", HeaderName::Timestamp),
];

impl HeaderName {
    /// Parses a name case-insensitively, expanding compact forms (RFC 3261
    /// §7.3.3 and the IANA registry): `v i f t m l c k s e o r u x y ...`.
    /// Compact forms of names without a variant become `Other` in long form
    /// (`u` -> `Allow-Events`, `x` -> `Session-Expires`).
    pub fn parse(b: &[u8]) -> HeaderName {
        Self::known(b).unwrap_or_else(|| HeaderName::Other(Bytes::copy_from_slice(b)))
    }

    /// Like [`HeaderName::parse`] on `data[r]`, but an unknown name shares
    /// `data` (no copy).
    pub(crate) fn from_range(data: &Bytes, r: std::ops::Range<usize>) -> HeaderName {
        let b = data.get(r.clone()).unwrap_or_default();
        Self::known(b).unwrap_or_else(|| HeaderName::Other(crate::sip::scan::sub(data, r)))
    }

    /// Known names, dispatched on first letter and length.
    fn known(b: &[u8]) -> Option<HeaderName> {
        use HeaderName::*;
        let first = b.first()?.to_ascii_lowercase();
        if b.len() == 1 {
            return compact(first);
        }
        // `s` is a lowercase literal: a letter matches either case, `-` only itself.
        let is = |s: &str| {
            s.len() == b.len()
                && s.bytes()
                    .zip(b)
                    .all(|(k, &c)| c == k || (k.is_ascii_lowercase() && c | 0x20 == k))
        };
        let h = match (first, b.len()) {
            (b'v', 3) if is("via") => Via,
            (b'f', 4) if is("from") => From,
            (b't', 2) if is("to") => To,
            (b'c', 7) if is("call-id") => CallId,
            (b'c', 4) if is("cseq") => CSeq,
            (b'c', 7) if is("contact") => Contact,
            (b'm', 12) if is("max-forwards") => MaxForwards,
            (b'c', 14) if is("content-length") => ContentLength,
            (b'c', 12) if is("content-type") => ContentType,
            (b'r', 5) if is("route") => Route,
            (b'r', 12) if is("record-route") => RecordRoute,
            (b'r', 7) if is("require") => Require,
            (b'p', 13) if is("proxy-require") => ProxyRequire,
            (b's', 9) if is("supported") => Supported,
            (b'u', 11) if is("unsupported") => Unsupported,
            (b'a', 5) if is("allow") => Allow,
            (b'a', 6) if is("accept") => Accept,
            (b'u', 10) if is("user-agent") => UserAgent,
            (b's', 6) if is("server") => Server,
            (b'e', 7) if is("expires") => Expires,
            (b's', 7) if is("subject") => Subject,
            (b'e', 5) if is("event") => Event,
            (b'r', 8) if is("refer-to") => ReferTo,
            (b'r', 4) if is("rseq") => RSeq,
            (b'r', 4) if is("rack") => RAck,
            (b'a', 13) if is("authorization") => Authorization,
            (b'p', 19) if is("proxy-authorization") => ProxyAuthorization,
            (b'w', 16) if is("www-authenticate") => WwwAuthenticate,
            (b'p', 18) if is("proxy-authenticate") => ProxyAuthenticate,
            (b'r', 6) if is("reason") => Reason,
            (b'w', 7) if is("warning") => Warning,
            (b'd', 4) if is("date") => Date,
            (b't', 9) if is("timestamp") => Timestamp,
            _ => return None,
        };
        Some(h)
    }

    /// The canonical long form ("Call-ID", "CSeq"); `Other` gives its text
    /// (`"?"` if it is not UTF-8).
    pub fn as_str(&self) -> &str {
        use HeaderName::*;
        match self {
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            Contact => "Contact",
            MaxForwards => "Max-Forwards",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            Route => "Route",
            RecordRoute => "Record-Route",
            Require => "Require",
            ProxyRequire => "Proxy-Require",
            Supported => "Supported",
            Unsupported => "Unsupported",
            Allow => "Allow",
            Accept => "Accept",
            UserAgent => "User-Agent",
            Server => "Server",
            Expires => "Expires",
            Subject => "Subject",
            Event => "Event",
            ReferTo => "Refer-To",
            RSeq => "RSeq",
            RAck => "RAck",
            Authorization => "Authorization",
            ProxyAuthorization => "Proxy-Authorization",
            WwwAuthenticate => "WWW-Authenticate",
            ProxyAuthenticate => "Proxy-Authenticate",
            Reason => "Reason",
            Warning => "Warning",
            Date => "Date",
            Timestamp => "Timestamp",
            Other(b) => std::str::from_utf8(b).unwrap_or("?"),
        }
    }
}

fn compact(c: u8) -> Option<HeaderName> {
    let other = |s: &'static str| HeaderName::Other(Bytes::from_static(s.as_bytes()));
    Some(match c {
        b'v' => HeaderName::Via,
        b'f' => HeaderName::From,
        b't' => HeaderName::To,
        b'i' => HeaderName::CallId,
        b'm' => HeaderName::Contact,
        b'l' => HeaderName::ContentLength,
        b'c' => HeaderName::ContentType,
        b'k' => HeaderName::Supported,
        b's' => HeaderName::Subject,
        b'o' => HeaderName::Event,
        b'r' => HeaderName::ReferTo,
        b'e' => other("Content-Encoding"),
        b'u' => other("Allow-Events"),
        b'x' => other("Session-Expires"),
        b'a' => other("Accept-Contact"),
        b'b' => other("Referred-By"),
        b'd' => other("Request-Disposition"),
        b'j' => other("Reject-Contact"),
        b'n' => other("Identity-Info"),
        b'y' => other("Identity"),
        _ => return None,
    })
}

impl PartialEq for HeaderName {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (HeaderName::Other(_), _) | (_, HeaderName::Other(_)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let HeaderName::Other(b) = self {
            for c in b.iter() {
                state.write_u8(c.to_ascii_lowercase());
            }
        }
    }
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_forms_case_insensitive() {
        assert_eq!(HeaderName::parse(b"via"), HeaderName::Via);
        assert_eq!(HeaderName::parse(b"vIA"), HeaderName::Via);
        assert_eq!(HeaderName::parse(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse(b"CSEQ"), HeaderName::CSeq);
        assert_eq!(HeaderName::parse(b"max-forwards"), HeaderName::MaxForwards);
        assert_eq!(
            HeaderName::parse(b"www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
        assert_eq!(HeaderName::CSeq.as_str(), "CSeq");
        assert_eq!(HeaderName::MaxForwards.as_str(), "Max-Forwards");
        assert_eq!(HeaderName::WwwAuthenticate.as_str(), "WWW-Authenticate");
        for (s, h) in KNOWN {
            assert_eq!(&HeaderName::parse(s.as_bytes()), h);
            assert_eq!(h.as_str(), *s);
        }
    }

    #[test]
    fn compact_forms() {
        let cases: &[(&[u8], HeaderName)] = &[
            (b"v", HeaderName::Via),
            (b"I", HeaderName::CallId),
            (b"f", HeaderName::From),
            (b"t", HeaderName::To),
            (b"m", HeaderName::Contact),
            (b"L", HeaderName::ContentLength),
            (b"c", HeaderName::ContentType),
            (b"k", HeaderName::Supported),
            (b"s", HeaderName::Subject),
            (
                b"e",
                HeaderName::Other(Bytes::from_static(b"content-encoding")),
            ),
            (b"o", HeaderName::Event),
            (b"r", HeaderName::ReferTo),
            (b"u", HeaderName::Other(Bytes::from_static(b"Allow-Events"))),
            (
                b"x",
                HeaderName::Other(Bytes::from_static(b"Session-Expires")),
            ),
        ];
        for (b, h) in cases {
            assert_eq!(&HeaderName::parse(b), h, "{:?}", b);
        }
        assert_eq!(HeaderName::parse(b"u").as_str(), "Allow-Events");
        assert_eq!(HeaderName::parse(b"z").as_str(), "z");
    }

    #[test]
    fn other_keeps_text_and_compares_case_insensitively() {
        let a = HeaderName::parse(b"X-Custom");
        assert_eq!(a.as_str(), "X-Custom");
        assert_eq!(a, HeaderName::parse(b"x-CUSTOM"));
        assert_ne!(a, HeaderName::Via);
        let hash = |h: &HeaderName| {
            use std::collections::hash_map::DefaultHasher;
            let mut s = DefaultHasher::new();
            h.hash(&mut s);
            s.finish()
        };
        assert_eq!(hash(&a), hash(&HeaderName::parse(b"x-custom")));
    }
}
