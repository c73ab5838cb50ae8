//! Reading SDP: one pass over the lines, each kept verbatim with its role for
//! [`Sdp::rewrite`](super::Sdp::rewrite), session-level defaults applied at the end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use smallvec::SmallVec;

use super::Codec;
use super::{
    Direction, Line, Lines, MediaDesc, MediaKind, Role, Sdp, SdpError, MAX_BODY, MAX_CRYPTO,
    MAX_MEDIA,
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
        if line.trim_ascii().is_empty() {
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
        if ICE_ATTRS.iter().any(|i| name.eq_ignore_ascii_case(i)) {
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
                let port = value.split_ascii_whitespace().next()?.parse().ok()?;
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
                let (pt, enc) = value.trim_ascii().split_once(' ')?;
                let pt: u8 = pt.parse().ok().filter(|pt| *pt < 128)?;
                let (encoding, rest) = enc.trim_ascii().split_once('/')?;
                if encoding.is_empty() {
                    return None;
                }
                // The clock rate ends at the next '/' (channels), if any.
                let clock = rest.split_once('/').map_or(rest, |(c, _)| c);
                let clock: u32 = clock.trim_ascii().parse().ok()?;
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
    // At most one entry per format: no reallocation while filling.
    d.codecs.reserve_exact(d.fmts.len());
    d.clocks.reserve_exact(d.fmts.len());
    for fmt in &d.fmts {
        let Ok(pt) = fmt.parse::<u8>() else { continue };
        match rtpmaps
            .iter()
            .find(|(s, p, _, _)| *s == section && *p == pt)
        {
            Some((_, _, enc, clock)) => {
                let enc = body.get(enc.clone()).unwrap_or("");
                d.clocks.push((pt, *clock));
                if let Some(c) = Codec::from_rtpmap(enc, *clock) {
                    d.codecs.push((pt, c));
                } else if enc.eq_ignore_ascii_case("telephone-event")
                    && *clock == 8000
                    && d.telephone_event.is_none()
                {
                    d.telephone_event = Some(pt);
                }
            }
            None => {
                if let Some(c) = Codec::from_static_pt(pt) {
                    d.codecs.push((pt, c));
                }
            }
        }
    }
}

/// RFC 8866 §5.2 `o=<username> <sess-id> <sess-version> <nettype> <addrtype>
/// <unicast-address>`: Some(version) when well-formed (the version is None if
/// not a u64), None when fields are missing.
fn parse_origin(v: &str) -> Option<Option<u64>> {
    // One pass over the bytes: the fields as `split_ascii_whitespace` cuts
    // them, counted, the third kept (half the instructions of the adapter).
    let b = v.as_bytes();
    let (mut fields, mut version, mut i) = (0, 0..0, 0);
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if fields == 2 {
            version = start..i;
        }
        fields += 1;
    }
    // Exactly six fields.
    if fields != 6 {
        return None;
    }
    // Cut at ASCII bytes: char boundaries.
    Some(v.get(version)?.parse().ok())
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
    let addr = addr.split_once('/').map_or(addr, |(a, _)| a);
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
    let (port, count) = match port_field.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port_field, None),
    };
    let port: u16 = port.parse().ok()?;
    if let Some(n) = count {
        // `<port>/<number of ports>`, nothing after.
        n.parse::<u16>().ok()?;
    }
    let proto = t.next()?.to_owned();
    let fmts: Vec<String> = t.map(str::to_owned).collect();
    if fmts.is_empty() && port != 0 {
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
        proto,
        fmts,
        addr: None,
        rtcp_port: None,
        rtcp_mux: false,
        direction: Direction::SendRecv,
        codecs: Vec::new(),
        clocks: Vec::new(),
        telephone_event: None,
        crypto: Vec::new(),
    })
}
