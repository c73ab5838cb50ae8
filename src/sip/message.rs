//! The parsed message: start line, header index and body, all slices of the
//! received bytes, with accessors and typed views parsed on demand.

use super::error::Reject;
use super::header_name::{compact_other_text, HeaderName, ID_OTHER};
use super::method::Method;
use super::name_addr::{NameAddr, NameAddrAt};
use super::scan::{first_comma_element, split_commas, sub};
use super::via::{Via, ViaAt};
use bytes::Bytes;
use std::ops::Range;

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

/// One header line as the parser indexed it: the name's id (see
/// [`HeaderName::id_of`]) and offsets into the message's bytes (`raw`), or
/// into its unfolded values when the line was folded. Values are sliced on
/// access, so parsing makes no `Bytes` per header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) id: u8,
    /// The value is in `Message::unfolded` (a folded line), not in `raw`.
    pub(crate) unfolded: bool,
    /// The name's offsets in `raw` (`Other` names only keep their text here).
    pub(crate) name_start: u32,
    pub(crate) name_end: u32,
    /// The trimmed value's offsets.
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Slot {
    #[inline]
    pub(crate) fn value_range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A parsed SIP message. Cheap to clone (reference-counted slices).
#[derive(Clone)]
pub struct Message {
    pub(crate) raw: Bytes,
    pub(crate) start: StartLine,
    /// Every header line in order.
    pub(crate) slots: Vec<Slot>,
    /// The values of folded header lines, joined (RFC 3261 §7.3.1).
    pub(crate) unfolded: Bytes,
    pub(crate) body: Bytes,
    pub(crate) framing: Option<FramingDefect>,
    /// Start-line anomaly (reason phrase) that validation turns into a 400
    /// (request) or a drop (response).
    pub(crate) line_defect: Option<&'static str>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
            && self.start == other.start
            && self.body == other.body
            && self.framing == other.framing
            && self.line_defect == other.line_defect
            && self.headers().eq(other.headers())
    }
}

impl Eq for Message {}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("start", &self.start)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body", &self.body)
            .field("framing", &self.framing)
            .field("line_defect", &self.line_defect)
            .finish()
    }
}

/// The header lines of a [`Message`] in order, each name and value made on
/// the way (values share the message's bytes).
pub struct Headers<'a> {
    msg: &'a Message,
    slots: std::slice::Iter<'a, Slot>,
}

impl Iterator for Headers<'_> {
    type Item = Header;

    fn next(&mut self) -> Option<Header> {
        let s = self.slots.next()?;
        Some(Header {
            name: self.msg.slot_name(s),
            value: self.msg.slot_value(s),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}

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

    /// Every header line, in order.
    pub fn headers(&self) -> Headers<'_> {
        Headers {
            msg: self,
            slots: self.slots.iter(),
        }
    }

    /// The bytes a slot's value offsets point into.
    #[inline]
    pub(crate) fn slot_src(&self, s: &Slot) -> &Bytes {
        if s.unfolded {
            &self.unfolded
        } else {
            &self.raw
        }
    }

    #[inline]
    fn slot_value(&self, s: &Slot) -> Bytes {
        sub(self.slot_src(s), s.value_range())
    }

    fn slot_name(&self, s: &Slot) -> HeaderName {
        HeaderName::from_id(s.id).unwrap_or_else(|| {
            HeaderName::Other(sub(&self.raw, s.name_start as usize..s.name_end as usize))
        })
    }

    /// Whether a slot carries `name`: by id, and for `Other` names by text
    /// (case-insensitive, as `HeaderName`'s equality).
    #[inline]
    fn slot_is(&self, s: &Slot, id: u8, other: Option<&[u8]>) -> bool {
        match other {
            None => s.id == id,
            Some(text) => match compact_other_text(s.id) {
                Some(long) => long.as_bytes().eq_ignore_ascii_case(text),
                None => {
                    s.id == ID_OTHER
                        && self
                            .raw
                            .get(s.name_start as usize..s.name_end as usize)
                            .is_some_and(|n| n.eq_ignore_ascii_case(text))
                }
            },
        }
    }

    /// The slots carrying `name`, in order.
    pub(crate) fn slots_of<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = &'a Slot> + 'a {
        let (id, other) = (name.id(), name.other_text());
        self.slots
            .iter()
            .filter(move |s| self.slot_is(s, id, other))
    }

    /// The first value of `name` as the bytes it lives in and its offsets
    /// there (no `Bytes` made).
    #[inline]
    pub(crate) fn first_value(&self, name: &HeaderName) -> Option<(&Bytes, Range<usize>)> {
        let (id, other) = (name.id(), name.other_text());
        let s = self.slots.iter().find(|s| self.slot_is(s, id, other))?;
        Some((self.slot_src(s), s.value_range()))
    }

    /// First occurrence of a header, borrowed (no `Bytes` handle made).
    pub fn header_slice(&self, name: &HeaderName) -> Option<&[u8]> {
        self.first_value(name).and_then(|(src, r)| src.get(r))
    }

    /// First occurrence of a header (a slice of the message's bytes).
    pub fn header(&self, name: &HeaderName) -> Option<Bytes> {
        self.first_value(name).map(|(src, r)| sub(src, r))
    }

    /// Every occurrence of a header, in order, unsplit.
    pub fn header_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = Bytes> + 'a {
        self.slots_of(name).map(|s| self.slot_value(s))
    }

    /// How many header lines carry this name.
    pub fn header_count(&self, name: &HeaderName) -> usize {
        self.slots_of(name).count()
    }

    /// Every occurrence split on commas (RFC 3261 §7.3.1), respecting quoted
    /// strings and `<...>`; trimmed, empty elements dropped.
    pub fn header_values(&self, name: &HeaderName) -> Vec<Bytes> {
        let mut out = Vec::new();
        for s in self.slots_of(name) {
            let src = self.slot_src(s);
            let r = s.value_range();
            let v = src.get(r.clone()).unwrap_or_default();
            out.extend(
                split_commas(v)
                    .into_iter()
                    .map(|e| sub(src, r.start + e.start..r.start + e.end)),
            );
        }
        out
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub fn call_id(&self) -> Option<Bytes> {
        self.header(&HeaderName::CallId)
    }

    /// The topmost Via value (first element of the first Via header).
    pub fn via_top(&self) -> Result<Via, Reject> {
        let (src, v) = self.via_top_span()?;
        Via::parse_in(src, v)
    }

    /// The topmost Via's `branch`: `via_top()?.branch()`, checked the same
    /// way, without making the view's other `Bytes`.
    pub fn via_top_branch(&self) -> Result<Option<Bytes>, Reject> {
        let (src, v) = self.via_top_span()?;
        let start = v.start;
        let at = ViaAt::locate(src, v)?;
        Ok(at.branch.value_in(src, start + at.params.start))
    }

    /// Where the topmost Via value (the first element of the first Via
    /// header) is, for [`Self::via_top`] and [`Self::via_top_branch`].
    fn via_top_span(&self) -> Result<(&Bytes, Range<usize>), Reject> {
        let (src, r) = self
            .first_value(&HeaderName::Via)
            .ok_or_else(|| Reject::bad("Bad Request (missing Via)"))?;
        let first = src
            .get(r.clone())
            .and_then(first_comma_element)
            .ok_or_else(|| Reject::bad("Bad Request (Via)"))?;
        Ok((src, r.start + first.start..r.start + first.end))
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> Result<Vec<Via>, Reject> {
        self.header_values(&HeaderName::Via)
            .iter()
            .map(Via::parse)
            .collect()
    }

    pub fn from_hdr(&self) -> Result<NameAddr, Reject> {
        let (src, r) = self
            .first_value(&HeaderName::From)
            .ok_or_else(|| Reject::bad("Bad Request (missing From)"))?;
        NameAddr::parse_in(src, r).map_err(|_| Reject::bad("Bad Request (From)"))
    }

    pub fn to_hdr(&self) -> Result<NameAddr, Reject> {
        let (src, r) = self
            .first_value(&HeaderName::To)
            .ok_or_else(|| Reject::bad("Bad Request (missing To)"))?;
        NameAddr::parse_in(src, r).map_err(|_| Reject::bad("Bad Request (To)"))
    }

    /// From's `tag`: `from_hdr()?.tag()`, checked the same way, without
    /// making the view's other `Bytes`.
    pub fn from_tag(&self) -> Result<Option<Bytes>, Reject> {
        self.name_addr_tag(
            &HeaderName::From,
            "Bad Request (missing From)",
            "Bad Request (From)",
        )
    }

    /// To's `tag`: `to_hdr()?.tag()`, checked the same way, without making
    /// the view's other `Bytes`.
    pub fn to_tag(&self) -> Result<Option<Bytes>, Reject> {
        self.name_addr_tag(
            &HeaderName::To,
            "Bad Request (missing To)",
            "Bad Request (To)",
        )
    }

    fn name_addr_tag(
        &self,
        name: &HeaderName,
        missing: &'static str,
        bad: &'static str,
    ) -> Result<Option<Bytes>, Reject> {
        let (src, r) = self.first_value(name).ok_or_else(|| Reject::bad(missing))?;
        let b = src.get(r.clone()).ok_or_else(|| Reject::bad(bad))?;
        let at = NameAddrAt::locate(b).map_err(|_| Reject::bad(bad))?;
        Ok(at.tag.value_in(src, r.start + at.params.start))
    }

    /// The first Contact value. `Contact: *` (REGISTER) is an `Err` here.
    pub fn contact(&self) -> Option<Result<NameAddr, Reject>> {
        let (src, r) = self.first_value(&HeaderName::Contact)?;
        let first = first_comma_element(src.get(r.clone())?)?;
        Some(
            NameAddr::parse_in(src, r.start + first.start..r.start + first.end)
                .map_err(|_| Reject::bad("Bad Request (Contact)")),
        )
    }

    pub fn routes(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::Route)
    }

    pub fn record_routes(&self) -> Vec<Bytes> {
        self.header_values(&HeaderName::RecordRoute)
    }

    pub fn content_type(&self) -> Option<Bytes> {
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
mod tests;
