//! Reading SDP: one pass over the lines, each kept verbatim with its role for
//! [`Sdp::rewrite`](super::Sdp::rewrite), session-level defaults applied at the end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use smallvec::SmallVec;

use super::Codec;
use super::{
    Direction, Line, Lines, MediaDesc, MediaKind, Role, Sdp, SdpError, Transport, MAX_BODY,
    MAX_CRYPTO, MAX_MEDIA,
};

/// RFC 8839 §5: ICE attributes a media relay must not pass on.
const ICE_ATTRS: [&str; 8] = [
    "candidate",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "remote-candidates",
    "end-of-candidates",
];

/// An `a=rtpmap` of a section: (section, payload type, encoding name's
/// place in the body, clock rate).
type Rtpmap = (usize, u8, Range<usize>, u32);

struct Parser {
    lines: Lines,
    /// The `m=` sections read so far (session-level defaults applied in
    /// [`Parser::finish`]).
    media: SmallVec<[MediaDesc; 1]>,
    /// Per section, its own direction attribute (`None`: the session's).
    directions: [Option<Direction>; MAX_MEDIA],
    /// Every section's `a=rtpmap`s, in body order (one list per body, not
    /// one per section; a typical offer's few inline).
    rtpmaps: SmallVec<[Rtpmap; 8]>,
    seen_v: bool,
    seen_o: bool,
    seen_s: bool,
    version: Option<u64>,
    session_addr: Option<IpAddr>,
    session_direction: Option<Direction>,
}

/// Parses an SDP body. Requires `v=0`, `o=` and `s=` at session level; the
/// order of the other lines is not checked. Unknown line types and attributes
/// are kept. Never panics.
pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
    if body.len() > MAX_BODY {
        return Err(SdpError::TooLarge {
            size: body.len(),
            max: MAX_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut p = Parser {
        lines: Lines::new(),
        media: SmallVec::new(),
        directions: [None; MAX_MEDIA],
        rtpmaps: SmallVec::new(),
        seen_v: false,
        seen_o: false,
        seen_s: false,
        version: None,
        session_addr: None,
        session_direction: None,
    };
    // Line ends found by one searcher over the whole body (SDP lines are
    // short: a search per line costs more than the line).
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    let mut start = 0;
    for (n, end) in ends.enumerate() {
        let raw = text.get(start..end).unwrap_or("");
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let span = start..start + line.len();
        start = end + 1;
        // SDP's separators are ASCII (RFC 8866 §9: SP, CRLF).
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        p.line(n + 1, span, line)?;
    }
    p.finish(text.to_owned())
}

impl Parser {
    fn line(&mut self, n: usize, span: Range<usize>, line: &str) -> Result<(), SdpError> {
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(SdpError::BadLine { line: n });
        }
        let value = &line[2..];
        let section = self.media.len().checked_sub(1);
        let role = match (b[0], section) {
            (b'v', None) if !self.seen_v => {
                if value.trim_ascii() != "0" {
                    return Err(SdpError::BadVersion);
                }
                self.seen_v = true;
                Role::Other
            }
            (b'o', None) if !self.seen_o => {
                self.version = parse_origin(value).ok_or(SdpError::BadOrigin { line: n })?;
                self.seen_o = true;
                Role::Origin
            }
            (b's', None) => {
                self.seen_s = true;
                Role::Other
            }
            (b'c', _) => {
                let addr = parse_connection(value).ok_or(SdpError::BadConnection { line: n })?;
                let slot = match self.media.last_mut() {
                    Some(m) => &mut m.addr,
                    None => &mut self.session_addr,
                };
                slot.get_or_insert(addr);
                Role::Connection {
                    hold: addr.is_unspecified(),
                }
            }
            (b'm', _) => {
                if self.media.len() >= MAX_MEDIA {
                    return Err(SdpError::TooManyMedia { max: MAX_MEDIA });
                }
                let desc = parse_media(value).ok_or(SdpError::BadMedia { line: n })?;
                self.media.push(desc);
                Role::Media
            }
            (b'a', _) => self
                .attribute(value, span.start + 2)
                .ok_or(SdpError::BadAttribute { line: n })?,
            _ => Role::Other,
        };
        self.lines.push(Line {
            span,
            role,
            // Fewer than MAX_MEDIA (64) sections: fits.
            section: self
                .media
                .len()
                .checked_sub(1)
                .and_then(|s| u8::try_from(s).ok()),
        });
        Ok(())
    }

    /// RFC 8866 §5.13 `a=<name>[:<value>]` (`at`: where `attr` starts in the
    /// body); None if a known attribute is malformed.
    fn attribute(&mut self, attr: &str, at: usize) -> Option<Role> {
        let (name, value) = match attr.as_bytes().iter().position(|&b| b == b':') {
            Some(i) => (
                attr.get(..i).unwrap_or(attr),
                attr.get(i + 1..).unwrap_or(""),
            ),
            None => (attr, ""),
        };
        // Every ICE attribute starts with c, i, r or e: most names need no compare.
        let first = name.as_bytes().first().map(u8::to_ascii_lowercase);
        if matches!(first, Some(b'c' | b'i' | b'r' | b'e'))
            && ICE_ATTRS.iter().any(|i| name.eq_ignore_ascii_case(i))
        {
            return Some(Role::Ice);
        }
        let direction = match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        };
        let section = self.media.len().checked_sub(1);
        let (Some(section), Some(m)) = (section, self.media.last_mut()) else {
            if direction.is_some() {
                self.session_direction = direction;
            }
            return Some(Role::Other);
        };
        if direction.is_some() {
            if let Some(d) = self.directions.get_mut(section) {
                *d = direction;
            }
            return Some(Role::Other);
        }
        match name {
            // RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <address>]
            "rtcp" => {
                let port = decimal(value.split_ascii_whitespace().next()?)?;
                m.rtcp_port.get_or_insert(port);
                Some(Role::Rtcp)
            }
            // RFC 4568 §9.1: a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
            "crypto" => {
                if m.crypto.len() < MAX_CRYPTO {
                    m.crypto.push(value.trim_ascii().to_owned());
                }
                Some(Role::Crypto)
            }
            "rtcp-mux" => {
                m.rtcp_mux = true;
                Some(Role::Other)
            }
            // RFC 8866 §6.6: a=rtpmap:<pt> <encoding>/<clock>[/<params>]
            "rtpmap" => {
                let (pt, enc) = split_at_byte(value.trim_ascii(), b' ')?;
                let pt: u8 = decimal(pt).filter(|pt| *pt < 128)?;
                let (encoding, rest) = split_at_byte(enc.trim_ascii(), b'/')?;
                if encoding.is_empty() {
                    return None;
                }
                // The clock rate ends at the next '/' (channels), if any.
                let clock = split_at_byte(rest, b'/').map_or(rest, |(c, _)| c);
                let clock: u32 = decimal(clock.trim_ascii())?;
                let start = at + offset_in(attr, encoding);
                self.rtpmaps
                    .push((section, pt, start..start + encoding.len(), clock));
                Some(Role::Other)
            }
            _ => Some(Role::Other),
        }
    }

    fn finish(self, body: String) -> Result<Sdp, SdpError> {
        if !self.seen_v {
            return Err(SdpError::MissingVersion);
        }
        if !self.seen_o {
            return Err(SdpError::MissingOrigin);
        }
        if !self.seen_s {
            return Err(SdpError::MissingSessionName);
        }
        let mut media = self.media;
        for (i, d) in media.iter_mut().enumerate() {
            d.addr = d.addr.or(self.session_addr);
            d.direction = self
                .directions
                .get(i)
                .copied()
                .flatten()
                .or(self.session_direction)
                .unwrap_or(Direction::SendRecv);
            if d.is_rtp() {
                fill_codecs(d, i, &self.rtpmaps, &body);
            }
        }
        Ok(Sdp {
            body,
            lines: self.lines,
            media,
            version: self.version,
        })
    }
}

/// Codecs and telephone-event in `m=` order: an rtpmap wins, else the static
/// payload types of RFC 3551 table 4.
fn fill_codecs(d: &mut MediaDesc, section: usize, rtpmaps: &[Rtpmap], body: &str) {
    let MediaDesc {
        transport,
        codecs,
        clocks,
        telephone_event,
        ..
    } = d;
    for fmt in transport.fmts() {
        let Some(pt) = decimal_bytes::<u8>(fmt) else {
            continue;
        };
        match rtpmaps
            .iter()
            .find(|(s, p, _, _)| *s == section && *p == pt)
        {
            Some((_, _, enc, clock)) => {
                let enc = body.get(enc.clone()).unwrap_or("");
                clocks.push((pt, *clock));
                if let Some(c) = Codec::from_rtpmap(enc, *clock) {
                    codecs.push((pt, c));
                } else if enc.eq_ignore_ascii_case("telephone-event")
                    && *clock == 8000
                    && telephone_event.is_none()
                {
                    *telephone_event = Some(pt);
                }
            }
            None => {
                if let Some(c) = Codec::from_static_pt(pt) {
                    codecs.push((pt, c));
                }
            }
        }
    }
}

/// RFC 8866 §5.2 `o=<username> <sess-id> <sess-version> <nettype> <addrtype>
/// <unicast-address>`: Some(version) when well-formed (the version is None if
/// not a u64), None when fields are missing.
fn parse_origin(v: &str) -> Option<Option<u64>> {
    let mut fields = v.split_ascii_whitespace();
    let version = fields.nth(2)?;
    // Exactly six fields.
    if fields.nth(2).is_none() || fields.next().is_some() {
        return None;
    }
    Some(decimal(version))
}

/// `s` cut at the first `sep` (an ASCII byte), `sep` left out: as
/// `str::split_once` with a `char`, without its searcher's set-up.
fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// A decimal number as `str::parse` reads one for an unsigned type (an
/// optional `+`, then one or more ASCII digits), None if not one or out
/// of `T`'s range.
fn decimal<T: TryFrom<u64>>(s: &str) -> Option<T> {
    decimal_bytes(s.as_bytes())
}

fn decimal_bytes<T: TryFrom<u64>>(b: &[u8]) -> Option<T> {
    let digits = b.strip_prefix(b"+").unwrap_or(b);
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    T::try_from(v).ok()
}

/// Where `part` (a sub-slice of `whole`) starts in `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// RFC 8866 §5.7 `c=IN IP4|IP6 <address>[/<ttl>[/<n>]]`. Host names are not
/// accepted: a relay needs an address.
fn parse_connection(v: &str) -> Option<IpAddr> {
    let mut t = v.split_ascii_whitespace();
    let (net, ty, addr) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || !net.eq_ignore_ascii_case("IN") {
        return None;
    }
    let addr = split_at_byte(addr, b'/').map_or(addr, |(a, _)| a);
    if ty.eq_ignore_ascii_case("IP4") {
        addr.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else if ty.eq_ignore_ascii_case("IP6") {
        addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        None
    }
}

/// RFC 8866 §5.14 `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`.
/// A disabled stream (port 0) may omit the formats.
fn parse_media(v: &str) -> Option<MediaDesc> {
    let mut t = v.split_ascii_whitespace();
    let media = t.next()?;
    let port_field = t.next()?;
    let (port, count) = match split_at_byte(port_field, b'/') {
        Some((port, count)) => (port, Some(count)),
        None => (port_field, None),
    };
    let port: u16 = decimal(port)?;
    if let Some(n) = count {
        // `<port>/<number of ports>`, nothing after.
        decimal::<u16>(n)?;
    }
    let proto = t.next()?;
    let transport = Transport::new(proto, t);
    if transport.fmts().next().is_none() && port != 0 {
        return None;
    }
    let kind = match media {
        "audio" => MediaKind::Audio,
        "image" => MediaKind::Image,
        _ => MediaKind::Other,
    };
    Some(MediaDesc {
        kind,
        port,
        transport,
        addr: None,
        rtcp_port: None,
        rtcp_mux: false,
        direction: Direction::SendRecv,
        codecs: SmallVec::new(),
        clocks: SmallVec::new(),
        telephone_event: None,
        crypto: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::{decimal, split_at_byte};
    use proptest::prelude::*;

    proptest! {
        /// The hand-rolled readers take exactly what the std ones they
        /// replace take.
        #[test]
        fn readers_match_std(s in "[ \\t\\x0c\\r+0-9a/é-]{0,24}") {
            prop_assert_eq!(decimal::<u8>(&s), s.parse::<u8>().ok());
            prop_assert_eq!(decimal::<u16>(&s), s.parse::<u16>().ok());
            prop_assert_eq!(decimal::<u32>(&s), s.parse::<u32>().ok());
            prop_assert_eq!(decimal::<u64>(&s), s.parse::<u64>().ok());
            prop_assert_eq!(split_at_byte(&s, b'/'), s.split_once('/'));
            prop_assert_eq!(split_at_byte(&s, b' '), s.split_once(' '));
        }

        #[test]
        fn numbers_match_std(n in any::<u64>(), plus in any::<bool>()) {
            let s = if plus { format!("+{n}") } else { n.to_string() };
            prop_assert_eq!(decimal::<u64>(&s), Some(n));
            prop_assert_eq!(decimal::<u16>(&s), s.parse::<u16>().ok());
            let over = format!("{s}0");
            prop_assert_eq!(decimal::<u64>(&over), over.parse::<u64>().ok());
        }
    }
}
