//! SIP request methods (RFC 3261 §7.1, §27.4 and the extension RFCs).

use bytes::Bytes;
use std::fmt;

/// A request method. Method names are case-sensitive (RFC 3261 §7.1), so
/// `invite` is an unknown method, not INVITE.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    /// RFC 3262.
    Prack,
    /// RFC 3311.
    Update,
    /// RFC 6086.
    Info,
    /// RFC 6665.
    Subscribe,
    /// RFC 6665.
    Notify,
    /// RFC 3515.
    Refer,
    /// RFC 3428.
    Message,
    /// RFC 3903.
    Publish,
    /// Any other token, kept verbatim.
    Other(Bytes),
}

impl Method {
    /// Parses a method token; unknown names become [`Method::Other`] (copied).
    pub fn from_bytes(b: &[u8]) -> Method {
        Self::known(b).unwrap_or_else(|| Method::Other(Bytes::copy_from_slice(b)))
    }

    /// Like [`Method::from_bytes`] on `data[r]`, but an unknown name shares
    /// `data` (no copy).
    #[inline(always)]
    pub(crate) fn from_range(data: &Bytes, r: std::ops::Range<usize>) -> Method {
        let b = data.get(r.clone()).unwrap_or_default();
        Self::known(b).unwrap_or_else(|| Method::Other(crate::sip::scan::sub(data, r)))
    }

    #[inline(always)]
    fn known(b: &[u8]) -> Option<Method> {
        Some(match b {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"INFO" => Method::Info,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"PUBLISH" => Method::Publish,
            _ => return None,
        })
    }

    /// The method name; an `Other` name that is not UTF-8 prints as `"?"`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Info => "INFO",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(b) => std::str::from_utf8(b).unwrap_or("?"),
        }
    }

    /// The method name as bytes (exact, also for non-UTF-8 `Other`).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Other(b) => b,
            m => m.as_str().as_bytes(),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_case_sensitive() {
        assert_eq!(Method::from_bytes(b"INVITE"), Method::Invite);
        assert_eq!(Method::from_bytes(b"PRACK"), Method::Prack);
        assert_eq!(
            Method::from_bytes(b"invite"),
            Method::Other(Bytes::from_static(b"invite"))
        );
        assert_eq!(Method::from_bytes(b"RE%47IST%45R").as_str(), "RE%47IST%45R");
        assert_eq!(Method::Bye.to_string(), "BYE");
        assert_eq!(Method::Other(Bytes::from_static(b"\xff")).as_str(), "?");
        assert_eq!(
            Method::Other(Bytes::from_static(b"\xff")).as_bytes(),
            b"\xff"
        );
    }
}
