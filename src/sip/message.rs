//! The parsed message: start line, header index and body, all slices of the
//! received bytes, with accessors and typed views parsed on demand.

use super::error::Reject;
use super::header_name::HeaderName;
use super::method::Method;
use super::name_addr::NameAddr;
use super::scan::{first_comma_element, split_commas, sub};
use super::via::Via;
use bytes::Bytes;

/// How to frame the input (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Larger input is refused with [`super::ParseError::TooLarge`].
    pub max_size: usize,
    /// `true`: the input is one frame cut from a stream transport, so
    /// Content-Length is mandatory. `false`: one UDP datagram.
    pub stream: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_size: 65536,
            stream: false,
        }
    }
}

/// One header field line. `value` is trimmed; folded continuation lines are
/// joined with one SP (RFC 3261 §7.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: Bytes,
}

/// RFC 3261 §7.1 `Request-Line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    pub method: Method,
    pub uri: Bytes,
    pub version: Bytes,
}

/// RFC 3261 §7.2 `Status-Line`. A code that is not three digits is kept
/// saturated to `u16` and fails [`Message::validate_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub version: Bytes,
    pub code: u16,
    pub reason: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request(RequestLine),
    Response(StatusLine),
}

/// A Content-Length problem found while framing (RFC 3261 §18.3, §20.14,
/// RFC 4475 §3.1.2.2, §3.1.2.3, §3.3.9). The message still parses; validation
/// answers 400 and a stream transport should close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FramingDefect {
    /// Stream transport and no Content-Length.
    Missing,
    /// Negative, non-numeric or overflowing value.
    Invalid,
    /// Larger than the octets that follow the header section.
    Exceeds,
    /// Two Content-Length headers with different values.
    Conflicting,
}

impl FramingDefect {
    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            FramingDefect::Missing => "content_length_missing",
            FramingDefect::Invalid => "content_length_invalid",
            FramingDefect::Exceeds => "content_length_exceeds",
            FramingDefect::Conflicting => "content_length_conflicting",
        }
    }

    pub(crate) fn reason(&self) -> &'static str {
        match self {
            FramingDefect::Missing => "Bad Request (Content-Length missing)",
            FramingDefect::Invalid => "Bad Request (Content-Length invalid)",
            FramingDefect::Exceeds => "Bad Request (Content-Length larger than message)",
            FramingDefect::Conflicting => "Bad Request (Content-Length conflicting values)",
        }
    }
}

/// RFC 3261 §20.16 CSeq: sequence number (< 2**31, §8.1.1.5) and method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// A parsed SIP message. Cheap to clone (reference-counted slices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) raw: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Bytes,
    pub(crate) framing: Option<FramingDefect>,
    /// Start-line anomaly (reason phrase) that validation turns into a 400
    /// (request) or a drop (response).
    pub(crate) line_defect: Option<&'static str>,
}

impl Message {
    /// This message's bytes: from the start line to the end of the body as
    /// framed by Content-Length (trailing datagram octets excluded, leading
    /// CRLFs skipped).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    pub fn start(&self) -> &StartLine {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request(r) => Some(&r.method),
            StartLine::Response(_) => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response(s) => Some(s.code),
            StartLine::Request(_) => None,
        }
    }

    /// The raw Request-URI (requests only).
    pub fn request_uri(&self) -> Option<&Bytes> {
        match &self.start {
            StartLine::Request(r) => Some(&r.uri),
            StartLine::Response(_) => None,
        }
    }

    /// The Content-Length problem found while framing, if any.
    pub fn framing_defect(&self) -> Option<FramingDefect> {
        self.framing
    }

    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// First occurrence of a header.
    pub fn header(&self, name: &HeaderName) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|h| &h.name == name)
            .map(|h| &h.value)
    }

    /// Every occurrence of a header, in order, unsplit.
    pub fn header_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.headers
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| &h.value)
    }

    /// How many header lines carry this name.
    pub fn header_count(&self, name: &HeaderName) -> usize {
        self.header_all(name).count()
    }

    /// Every occurrence split on commas (RFC 3261 §7.3.1), respecting quoted
    /// strings and `<...>`; trimmed, empty elements dropped.
    pub fn header_values(&self, name: &HeaderName) -> Vec<Bytes> {
        let mut out = Vec::new();
        for v in self.header_all(name) {
            out.extend(split_commas(v).into_iter().map(|r| sub(v, r)));
        }
        out
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub fn call_id(&self) -> Option<&Bytes> {
        self.header(&HeaderName::CallId)
    }

    /// The topmost Via value (first element of the first Via header).
    pub fn via_top(&self) -> Result<Via, Reject> {
        let first = self
            .header(&HeaderName::Via)
            .ok_or(Reject::bad("Bad Request (missing Via)"))?;
        let r = first_comma_element(first).ok_or(Reject::bad("Bad Request (Via)"))?;
        Via::parse(&sub(first, r))
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> Result<Vec<Via>, Reject> {
        self.header_values(&HeaderName::Via)
            .iter()
            .map(Via::parse)
            .collect()
    }

    pub fn from_hdr(&self) -> Result<NameAddr, Reject> {
        let v = self
            .header(&HeaderName::From)
            .ok_or(Reject::bad("Bad Request (missing From)"))?;
        NameAddr::parse(v).map_err(|_| Reject::bad("Bad Request (From)"))
    }

    pub fn to_hdr(&self) -> Result<NameAddr, Reject> {
        let v = self
            .header(&HeaderName::To)
            .ok_or(Reject::bad("Bad Request (missing To)"))?;
        NameAddr::parse(v).map_err(|_| Reject::bad("Bad Request (To)"))
    }

    /// The first Contact value. `Contact: *` (REGISTER) is an `Err` here.
    pub fn contact(&self) -> Option<Result<NameAddr, Reject>> {
        let v = self.header(&HeaderName::Contact)?;
        let first = first_comma_element(v)?;
        Some(NameAddr::parse(&sub(v, first)).map_err(|_| Reject::bad("Bad Request (Contact)")))
    }

    pub fn routes(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::Route)
    }

    pub fn record_routes(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::RecordRoute)
    }

    pub fn content_type(&self) -> Option<&Bytes> {
        self.header(&HeaderName::ContentType)
    }

    /// RFC 3261 §20.32 option tags the UAS must support.
    pub fn require(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::Require)
    }

    /// RFC 3261 §20.29 option tags every proxy must support.
    pub fn proxy_require(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::ProxyRequire)
    }

    pub fn supported(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::Supported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &'static [u8]) -> Message {
        Message::parse(Bytes::from_static(s), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn header_values_split_and_order() {
        let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
Record-Route: <sip:r1;lr>\r\n\
Route: \"x, y\" <sip:p3,x@h;lr>\r\n\
Supported: 100rel, timer,, replaces\r\n\
Require: 100rel\r\n\
Proxy-Require: foo\r\n\
c: application/sdp\r\n\
m: <sip:c1@h>;q=1, sip:c2@h\r\n\r\n");
        assert_eq!(
            m.routes(),
            ["<sip:p1;lr>", "<sip:p2;lr>", "\"x, y\" <sip:p3,x@h;lr>"]
        );
        assert_eq!(m.record_routes(), ["<sip:r1;lr>"]);
        assert_eq!(m.supported(), ["100rel", "timer", "replaces"]);
        assert_eq!(m.require(), ["100rel"]);
        assert_eq!(m.proxy_require(), ["foo"]);
        assert_eq!(m.content_type().unwrap(), "application/sdp");
        assert_eq!(m.header_all(&HeaderName::Route).count(), 2);
        assert_eq!(m.header_count(&HeaderName::Route), 2);
        let c = m.contact().unwrap().unwrap();
        assert_eq!(c.uri, "sip:c1@h");
        assert_eq!(c.param("q").unwrap().unwrap(), "1");
        assert!(m.header(&HeaderName::Via).is_none());
        assert_eq!(m.via_top().unwrap_err().code, 400);
    }

    #[test]
    fn typed_views() {
        let m = msg(b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
From: \"A\" <sip:a@example.com>;tag=fa\r\n\
To: <sip:b@example.com>;tag=tb\r\n\
Call-ID: cid@h\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(m.via_top().unwrap().branch().unwrap(), "z9hG4bK1");
        let hosts: Vec<String> = m
            .vias()
            .unwrap()
            .iter()
            .map(|v| v.host.to_string())
            .collect();
        assert_eq!(hosts, ["a.example.com", "[2001:db8::1]", "c.example.com"]);
        assert_eq!(m.from_hdr().unwrap().tag().unwrap(), "fa");
        assert_eq!(m.to_hdr().unwrap().tag().unwrap(), "tb");
        assert_eq!(m.code(), Some(200));
        assert_eq!(m.request_uri(), None);
        assert!(m.contact().is_none());
        assert_eq!(m.max_forwards(), Ok(None));
    }
}
