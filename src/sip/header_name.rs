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
        Self::from_id(Self::id_of(b))
            .unwrap_or_else(|| HeaderName::Other(Bytes::copy_from_slice(b)))
    }

    /// The dense id of a name as the parser indexes it: [`ID_OTHER`] for a
    /// name without a variant or compact form, else a value
    /// [`HeaderName::from_id`] turns back into the same name `parse` gives.
    /// Inlined into the parser's per-line loop, its one hot caller.
    #[inline(always)]
    pub(crate) fn id_of(b: &[u8]) -> u8 {
        use HeaderName::*;
        let Some(first) = b.first().map(u8::to_ascii_lowercase) else {
            return ID_OTHER;
        };
        if b.len() == 1 {
            return compact_id(first);
        }
        let is = |s: &str| eq_fold(b, s.as_bytes());
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
            _ => return ID_OTHER,
        };
        h.id()
    }

    /// The id of a name with a variant; [`ID_OTHER`] for `Other` (whose
    /// text decides, see [`HeaderName::other_text`]).
    #[inline]
    pub(crate) fn id(&self) -> u8 {
        use HeaderName::*;
        match self {
            Via => 0,
            From => 1,
            To => 2,
            CallId => 3,
            CSeq => 4,
            Contact => 5,
            MaxForwards => 6,
            ContentLength => 7,
            ContentType => 8,
            Route => 9,
            RecordRoute => 10,
            Require => 11,
            ProxyRequire => 12,
            Supported => 13,
            Unsupported => 14,
            Allow => 15,
            Accept => 16,
            UserAgent => 17,
            Server => 18,
            Expires => 19,
            Subject => 20,
            Event => 21,
            ReferTo => 22,
            RSeq => 23,
            RAck => 24,
            Authorization => 25,
            ProxyAuthorization => 26,
            WwwAuthenticate => 27,
            ProxyAuthenticate => 28,
            Reason => 29,
            Warning => 30,
            Date => 31,
            Timestamp => 32,
            Other(_) => ID_OTHER,
        }
    }

    /// The name of an id from [`HeaderName::id_of`]; `None` for
    /// [`ID_OTHER`] (the text is the input's).
    pub(crate) fn from_id(id: u8) -> Option<HeaderName> {
        use HeaderName::*;
        Some(match id {
            0 => Via,
            1 => From,
            2 => To,
            3 => CallId,
            4 => CSeq,
            5 => Contact,
            6 => MaxForwards,
            7 => ContentLength,
            8 => ContentType,
            9 => Route,
            10 => RecordRoute,
            11 => Require,
            12 => ProxyRequire,
            13 => Supported,
            14 => Unsupported,
            15 => Allow,
            16 => Accept,
            17 => UserAgent,
            18 => Server,
            19 => Expires,
            20 => Subject,
            21 => Event,
            22 => ReferTo,
            23 => RSeq,
            24 => RAck,
            25 => Authorization,
            26 => ProxyAuthorization,
            27 => WwwAuthenticate,
            28 => ProxyAuthenticate,
            29 => Reason,
            30 => Warning,
            31 => Date,
            32 => Timestamp,
            _ => Other(Bytes::from_static(compact_other_text(id)?.as_bytes())),
        })
    }

    /// The text of an `Other` name (`None` for a variant).
    #[inline]
    pub(crate) fn other_text(&self) -> Option<&[u8]> {
        match self {
            HeaderName::Other(b) => Some(b),
            _ => None,
        }
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

/// `b` equals `lit`, a lowercase literal of letters and `-`, with a letter
/// matching either case and `-` only itself. Compares eight (or four)
/// octets at a time: `c | m == k` where `m` has 0x20 exactly where `k` is a
/// letter (bit 6 set), so `-` (0x2d) must match exactly.
#[inline]
pub(crate) fn eq_fold(b: &[u8], lit: &[u8]) -> bool {
    #[inline]
    fn w8(s: &[u8], i: usize) -> u64 {
        s.get(i..i + 8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map_or(0, u64::from_le_bytes)
    }
    #[inline]
    fn w4(s: &[u8], i: usize) -> u32 {
        s.get(i..i + 4)
            .and_then(|x| <[u8; 4]>::try_from(x).ok())
            .map_or(0, u32::from_le_bytes)
    }
    let n = lit.len();
    if b.len() != n {
        return false;
    }
    let same8 = |i: usize| {
        let k = w8(lit, i);
        w8(b, i) | ((k & 0x4040_4040_4040_4040) >> 1) == k
    };
    let same4 = |i: usize| {
        let k = w4(lit, i);
        w4(b, i) | ((k & 0x4040_4040) >> 1) == k
    };
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if !same8(i) {
                return false;
            }
            i += 8;
        }
        same8(n - 8)
    } else if n >= 4 {
        same4(0) && same4(n - 4)
    } else {
        b.iter()
            .zip(lit)
            .all(|(&c, &k)| c == k || (k.is_ascii_lowercase() && c | 0x20 == k))
    }
}

/// Ids of the compact forms without a variant, after the variants' ids.
const COMPACT_OTHER: &[(u8, &str)] = &[
    (b'e', "Content-Encoding"),
    (b'u', "Allow-Events"),
    (b'x', "Session-Expires"),
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'd', "Request-Disposition"),
    (b'j', "Reject-Contact"),
    (b'n', "Identity-Info"),
    (b'y', "Identity"),
];

/// The first id of [`COMPACT_OTHER`].
const ID_COMPACT_OTHER: u8 = 33;

/// The id of a name that is neither a variant nor a compact form.
pub(crate) const ID_OTHER: u8 = u8::MAX;

/// The long form of a compact-form id without a variant.
pub(crate) fn compact_other_text(id: u8) -> Option<&'static str> {
    let i = usize::from(id.checked_sub(ID_COMPACT_OTHER)?);
    COMPACT_OTHER.get(i).map(|&(_, s)| s)
}

/// The id of a one-letter (compact) name, `c` lowercased.
fn compact_id(c: u8) -> u8 {
    use HeaderName::*;
    let h = match c {
        b'v' => Via,
        b'f' => From,
        b't' => To,
        b'i' => CallId,
        b'm' => Contact,
        b'l' => ContentLength,
        b'c' => ContentType,
        b'k' => Supported,
        b's' => Subject,
        b'o' => Event,
        b'r' => ReferTo,
        _ => {
            return COMPACT_OTHER
                .iter()
                .position(|&(k, _)| k == c)
                .and_then(|i| u8::try_from(i).ok())
                .map_or(ID_OTHER, |i| ID_COMPACT_OTHER + i)
        }
    };
    h.id()
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
mod tests;
