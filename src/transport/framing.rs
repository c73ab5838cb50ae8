//! Stream framing for SIP over TCP: finds where one message ends in a byte stream.
//!
//! RFC 3261 §18.3: on a stream transport the Content-Length header is mandatory and is
//! the only way to find the end of a message's body. This is a small scanner, not a
//! parser: it looks at the header block only far enough to find Content-Length, so the
//! transport does not depend on the `sip` module. Depends on nothing but `memchr`.

use memchr::memchr_iter;

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete message occupies the first `n` bytes.
    Message(usize),
    /// The first `n` bytes are CR/LF keep-alives (RFC 5626 §3.5.1) to be skipped.
    KeepAlive(usize),
    /// More bytes are needed.
    Incomplete,
}

/// Why a stream cannot be framed; the connection is closed on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// RFC 3261 §18.3: Content-Length MUST be used with stream transports.
    #[error("message on a stream transport has no Content-Length")]
    NoContentLength,
    /// Empty, negative, non-numeric or overflowing value.
    #[error("invalid Content-Length value")]
    BadContentLength,
    /// Two Content-Length headers with different values: the body end is ambiguous.
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    /// Headers plus body exceed the configured maximum.
    #[error("message larger than the configured maximum")]
    TooLarge,
    /// The first line names no SIP version: not a SIP stream.
    #[error("start line is not a SIP request or status line")]
    BadStartLine,
}

impl FramingError {
    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            FramingError::NoContentLength => "framing::no_content_length",
            FramingError::BadContentLength => "framing::bad_content_length",
            FramingError::ConflictingContentLength => "framing::conflicting_content_length",
            FramingError::TooLarge => "framing::too_large",
            FramingError::BadStartLine => "framing::bad_start_line",
        }
    }
}

/// Finds the first complete SIP message in a TCP stream buffer (RFC 3261 §18.3:
/// Content-Length frames a stream; it is mandatory on streams).
///
/// Leading CRLFs are keep-alives (RFC 5626 §3.5.1: a "\r\n\r\n" ping is answered by a
/// "\r\n" pong): `KeepAlive(n)` means skip `n` bytes. Stateless; a connection reader
/// should use [`Framer`], which does not rescan bytes already searched.
pub fn next_frame(buf: &[u8], max: usize) -> Result<Frame, FramingError> {
    Framer::new().next(buf, max)
}

/// Incremental form of [`next_frame`] for one stream.
///
/// Contract: between calls the caller only appends to the buffer, except that after
/// `Message(n)` or `KeepAlive(n)` it removes exactly the first `n` bytes. With that,
/// each byte is searched for the end of headers once, so a peer trickling a 64 KiB
/// header one byte at a time costs linear, not quadratic, work.
#[derive(Debug, Default, Clone)]
pub struct Framer {
    /// Offset up to which the header-end search has already looked.
    scanned: usize,
    /// Total length of the current message once its headers were read.
    known_len: Option<usize>,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Like [`next_frame`], resuming the previous search.
    pub fn next(&mut self, buf: &[u8], max: usize) -> Result<Frame, FramingError> {
        if let Some(len) = self.known_len {
            return Ok(if buf.len() >= len {
                *self = Self::default();
                Frame::Message(len)
            } else {
                Frame::Incomplete
            });
        }
        let keepalive = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if keepalive > 0 {
            *self = Self::default();
            return Ok(Frame::KeepAlive(keepalive));
        }
        let Some(head_end) = find_header_end(buf, self.scanned) else {
            if buf.len() >= max {
                return Err(FramingError::TooLarge);
            }
            // The terminator is at most 3 bytes ("\n\r\n"); resume just before the tail.
            self.scanned = buf.len().saturating_sub(3);
            return Ok(Frame::Incomplete);
        };
        let head = &buf[..head_end];
        check_start_line(head)?;
        let body = content_length(head)?;
        let total = head_end.checked_add(body).ok_or(FramingError::TooLarge)?;
        if total > max {
            return Err(FramingError::TooLarge);
        }
        if buf.len() >= total {
            *self = Self::default();
            Ok(Frame::Message(total))
        } else {
            self.known_len = Some(total);
            Ok(Frame::Incomplete)
        }
    }
}

/// Offset just past the empty line ending the header block, searching from `from`.
/// Accepts CRLFCRLF and, leniently, bare-LF line ends (RFC 3261 §7.5 asks for CRLF;
/// RFC 4475 §3.1.1.x shows peers that don't).
fn find_header_end(buf: &[u8], from: usize) -> Option<usize> {
    let from = from.min(buf.len());
    for lf in memchr_iter(b'\n', &buf[from..]) {
        let next = from + lf + 1;
        match (buf.get(next), buf.get(next + 1)) {
            (Some(b'\n'), _) => return Some(next + 1),
            (Some(b'\r'), Some(b'\n')) => return Some(next + 2),
            _ => {}
        }
    }
    None
}

/// Lines of a header block with the trailing CR removed.
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// RFC 3261 §7.1/§7.2: both a Request-Line and a Status-Line carry "SIP/".
/// Checked so that a non-SIP peer (HTTP, TLS hello, binary noise) is dropped early.
fn check_start_line(head: &[u8]) -> Result<(), FramingError> {
    let first = lines(head).next().unwrap_or_default();
    let has_version = first.windows(4).any(|w| w.eq_ignore_ascii_case(b"SIP/"));
    let printable = first.iter().all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f);
    if has_version && printable {
        Ok(())
    } else {
        Err(FramingError::BadStartLine)
    }
}

fn trim_ws(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |p| p + 1);
    &s[start..end.max(start)]
}

/// Content-Length from a header block (start line included).
///
/// RFC 3261 §7.3.3: the compact form of Content-Length is `l`; header names are
/// case-insensitive and whitespace may surround the colon (§7.3.1). Lines starting with
/// SP/HT continue the previous header and are not header starts.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found: Option<usize> = None;
    for line in lines(head).skip(1) {
        if line.first().is_none_or(|&b| b == b' ' || b == b'\t') {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim_ws(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = parse_length(trim_ws(&line[colon + 1..]))?;
        match found {
            Some(prev) if prev != value => return Err(FramingError::ConflictingContentLength),
            _ => found = Some(value),
        }
    }
    found.ok_or(FramingError::NoContentLength)
}

/// RFC 3261 §20.14: Content-Length = 1*DIGIT.
fn parse_length(value: &[u8]) -> Result<usize, FramingError> {
    if value.is_empty() {
        return Err(FramingError::BadContentLength);
    }
    value.iter().try_fold(0usize, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(FramingError::BadContentLength);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(usize::from(b - b'0')))
            .ok_or(FramingError::BadContentLength)
    })
}

#[cfg(test)]
mod tests;
