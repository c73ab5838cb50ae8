//! SDP (RFC 8866) as a media-anchoring B2BUA needs it: read where a leg
//! wants each media stream and with which codecs, and write the SDP the other
//! leg gets — our address and ports, everything else (codecs, fmtp, direction
//! attributes, T.38 parameters, unknown lines) kept in order, ICE removed
//! (the relay is the only candidate). No I/O.

use std::net::IpAddr;

use bytes::Bytes;

use crate::media::Codec;

/// Upper bounds on what we parse (a body is at most a SIP message).
const MAX_BODY: usize = 64 * 1024;
const MAX_MEDIA: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    #[error("SDP body too large")]
    TooLarge,
    #[error("SDP must start with v=0")]
    NoVersion,
    #[error("SDP line {0} is not `x=value`")]
    BadLine(usize),
    #[error("SDP o= line is malformed")]
    BadOrigin,
    #[error("SDP m= line {0} is malformed")]
    BadMedia(usize),
    #[error("SDP c= line {0} is malformed")]
    BadConnection(usize),
    #[error("SDP has too many m= lines")]
    TooManyMedia,
}

impl SdpError {
    pub fn name(&self) -> &'static str {
        match self {
            SdpError::NotUtf8 => "sdp::not_utf8",
            SdpError::TooLarge => "sdp::too_large",
            SdpError::NoVersion => "sdp::no_version",
            SdpError::BadLine(_) => "sdp::bad_line",
            SdpError::BadOrigin => "sdp::bad_origin",
            SdpError::BadMedia(_) => "sdp::bad_media",
            SdpError::BadConnection(_) => "sdp::bad_connection",
            SdpError::TooManyMedia => "sdp::too_many_media",
        }
    }
}

/// RFC 3264 §5.1 stream direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Image,
    Other,
}

/// One m= section as the far side described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDesc {
    pub kind: MediaKind,
    /// 0: the stream is disabled (RFC 3264 §6).
    pub port: u16,
    pub proto: String,
    pub fmts: Vec<String>,
    /// Media-level c= or else the session-level one.
    pub addr: Option<IpAddr>,
    /// RFC 3605 a=rtcp port.
    pub rtcp_port: Option<u16>,
    /// RFC 5761 a=rtcp-mux.
    pub rtcp_mux: bool,
    pub direction: Direction,
    /// G.711 payload types in m= order (rtpmap, or static 0/8 without one).
    pub codecs: Vec<(u8, Codec)>,
    /// RFC 4733 telephone-event payload type.
    pub telephone_event: Option<u8>,
}

impl MediaDesc {
    /// T.38 over UDPTL (ITU-T T.38 Annex D `m=image <port> udptl t38`).
    pub fn is_t38(&self) -> bool {
        self.kind == MediaKind::Image
            && self.proto.eq_ignore_ascii_case("udptl")
            && self.fmts.iter().any(|f| f.eq_ignore_ascii_case("t38"))
    }

    /// RFC 2543-style hold: c= 0.0.0.0 (or ::).
    pub fn is_hold_address(&self) -> bool {
        self.addr.is_some_and(|a| a.is_unspecified())
    }
}

/// What kind of line, for rewriting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Origin,
    Connection { hold: bool },
    Media(usize),
    Rtcp(usize),
    Ice,
    Other,
}

/// A parsed SDP body: its lines (kept for rewriting) and media sections.
#[derive(Clone, Debug)]
pub struct Sdp {
    lines: Vec<(Kind, String)>,
    media: Vec<MediaDesc>,
    version: Option<u64>,
}

/// How to rewrite an SDP for the other leg.
pub struct Rewrite {
    pub addr: IpAddr,
    /// Per m= line: our port, or `None` to leave the line's port as it is.
    pub ports: Vec<Option<u16>>,
    /// o= sess-version to write (RFC 3264 §8: it grows when the SDP changes).
    pub version: Option<u64>,
    /// Write a=rtcp for every RTP line that has no rtcp-mux (RFC 3605).
    pub rtcp_attr: bool,
}

fn is_ice(attr: &str) -> bool {
    let name = attr.split(':').next().unwrap_or("");
    matches!(
        name,
        "candidate"
            | "ice-ufrag"
            | "ice-pwd"
            | "ice-options"
            | "ice-lite"
            | "ice-mismatch"
            | "remote-candidates"
            | "end-of-candidates"
            | "ice-pacing"
    )
}

fn parse_direction(attr: &str) -> Option<Direction> {
    match attr {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

/// `IN IP4 <addr>` / `IN IP6 <addr>` (a multicast TTL suffix is ignored).
fn parse_conn(v: &str) -> Option<IpAddr> {
    let mut it = v.split_whitespace();
    if it.next()? != "IN" {
        return None;
    }
    let fam = it.next()?;
    let addr = it.next()?.split('/').next()?;
    let ip: IpAddr = addr.parse().ok()?;
    match (fam, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

fn fam(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "IP6"
    } else {
        "IP4"
    }
}

/// Parses an SDP body. Lenient on line order and unknown lines, strict on the
/// lines we act on (o=, c=, m=).
pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
    if body.len() > MAX_BODY {
        return Err(SdpError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut lines = Vec::new();
    let mut media: Vec<MediaDesc> = Vec::new();
    let mut session_addr = None;
    let mut session_dir = None;
    let mut version = None;
    // Per media: (rtpmaps seen: pt -> codec / telephone-event), has explicit direction.
    let mut rtpmaps: Vec<Vec<(u8, Option<Codec>, bool)>> = Vec::new();
    let mut explicit_dir: Vec<bool> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if n == 0 && line != "v=0" {
            return Err(SdpError::NoVersion);
        }
        let (t, v) = match line.split_once('=') {
            Some((t, v)) if t.len() == 1 => (t, v),
            _ => return Err(SdpError::BadLine(n + 1)),
        };
        let cur = media.len().checked_sub(1);
        let kind = match t {
            "o" => {
                let f: Vec<&str> = v.split_whitespace().collect();
                if f.len() != 6 {
                    return Err(SdpError::BadOrigin);
                }
                version = f[2].parse().ok();
                Kind::Origin
            }
            "c" => {
                let ip = parse_conn(v).ok_or(SdpError::BadConnection(n + 1))?;
                match cur {
                    Some(i) => media[i].addr = Some(ip),
                    None => session_addr = Some(ip),
                }
                Kind::Connection {
                    hold: ip.is_unspecified(),
                }
            }
            "m" => {
                if media.len() >= MAX_MEDIA {
                    return Err(SdpError::TooManyMedia);
                }
                let mut f = v.split_whitespace();
                let kind = match f.next() {
                    Some("audio") => MediaKind::Audio,
                    Some("image") => MediaKind::Image,
                    Some(_) => MediaKind::Other,
                    None => return Err(SdpError::BadMedia(n + 1)),
                };
                // `<port>` or `<port>/<count>` (RFC 8866 §5.14).
                let port = f
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or(SdpError::BadMedia(n + 1))?;
                let proto = f.next().ok_or(SdpError::BadMedia(n + 1))?.to_string();
                let fmts: Vec<String> = f.map(str::to_string).collect();
                media.push(MediaDesc {
                    kind,
                    port,
                    proto,
                    fmts,
                    addr: None,
                    rtcp_port: None,
                    rtcp_mux: false,
                    direction: Direction::SendRecv,
                    codecs: Vec::new(),
                    telephone_event: None,
                });
                rtpmaps.push(Vec::new());
                explicit_dir.push(false);
                Kind::Media(media.len() - 1)
            }
            "a" => {
                if is_ice(v) {
                    Kind::Ice
                } else if let Some(d) = parse_direction(v) {
                    match cur {
                        Some(i) => {
                            media[i].direction = d;
                            explicit_dir[i] = true;
                        }
                        None => session_dir = Some(d),
                    }
                    Kind::Other
                } else if let (Some(i), Some(r)) = (cur, v.strip_prefix("rtcp:")) {
                    media[i].rtcp_port = r.split_whitespace().next().and_then(|p| p.parse().ok());
                    Kind::Rtcp(i)
                } else if let (Some(i), true) = (cur, v == "rtcp-mux") {
                    media[i].rtcp_mux = true;
                    Kind::Other
                } else if let (Some(i), Some(r)) = (cur, v.strip_prefix("rtpmap:")) {
                    // `<pt> <name>/<clock>[/<channels>]`
                    let mut it = r.split_whitespace();
                    if let (Some(pt), Some(enc)) =
                        (it.next().and_then(|p| p.parse::<u8>().ok()), it.next())
                    {
                        let mut e = enc.split('/');
                        let name = e.next().unwrap_or("");
                        let clock = e.next().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
                        let te = name.eq_ignore_ascii_case("telephone-event") && clock == 8000;
                        rtpmaps[i].push((pt, Codec::from_rtpmap(name, clock), te));
                    }
                    Kind::Other
                } else {
                    Kind::Other
                }
            }
            _ => Kind::Other,
        };
        lines.push((kind, line.to_string()));
    }
    if lines.is_empty() {
        return Err(SdpError::NoVersion);
    }
    if !lines.iter().any(|(k, _)| *k == Kind::Origin) {
        return Err(SdpError::BadOrigin);
    }
    for (i, m) in media.iter_mut().enumerate() {
        if m.addr.is_none() {
            m.addr = session_addr;
        }
        if !explicit_dir[i] {
            if let Some(d) = session_dir {
                m.direction = d;
            }
        }
        for f in &m.fmts {
            let Ok(pt) = f.parse::<u8>() else { continue };
            match rtpmaps[i].iter().find(|(p, _, _)| *p == pt) {
                Some((_, Some(c), _)) => m.codecs.push((pt, *c)),
                Some((_, None, true)) => m.telephone_event = Some(pt),
                Some((_, None, false)) => {}
                None => {
                    if let Some(c) = Codec::from_static_pt(pt) {
                        m.codecs.push((pt, c));
                    }
                }
            }
        }
    }
    Ok(Sdp {
        lines,
        media,
        version,
    })
}

impl Sdp {
    pub fn media(&self) -> &[MediaDesc] {
        &self.media
    }

    /// Any active T.38 stream (a fax switch-over, RFC 3362).
    pub fn has_t38(&self) -> bool {
        self.media.iter().any(|m| m.port != 0 && m.is_t38())
    }

    /// The o= sess-version.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// The SDP for the other leg (see [`Rewrite`]); output lines end in CRLF.
    pub fn rewrite(&self, plan: &Rewrite) -> Bytes {
        let mut out =
            String::with_capacity(self.lines.iter().map(|(_, l)| l.len() + 2).sum::<usize>() + 64);
        let addr = plan.addr;
        let port_of = |i: usize| plan.ports.get(i).copied().flatten();
        let mut cur: Option<usize> = None;
        let mut rtcp_written = false;
        let flush_rtcp = |out: &mut String, cur: Option<usize>, written: bool| {
            let Some(i) = cur else { return };
            let Some(p) = port_of(i) else { return };
            let m = &self.media[i];
            if plan.rtcp_attr
                && !written
                && !m.rtcp_mux
                && m.proto.to_ascii_uppercase().contains("RTP")
            {
                out.push_str(&format!(
                    "a=rtcp:{} IN {} {}\r\n",
                    p.wrapping_add(1),
                    fam(addr),
                    addr
                ));
            }
        };
        for (kind, line) in &self.lines {
            match kind {
                Kind::Origin => {
                    let f: Vec<&str> = line[2..].split_whitespace().collect();
                    let ver = plan
                        .version
                        .map_or_else(|| f[2].to_string(), |v| v.to_string());
                    out.push_str(&format!(
                        "o={} {} {} IN {} {}\r\n",
                        f[0],
                        f[1],
                        ver,
                        fam(addr),
                        addr
                    ));
                }
                Kind::Connection { hold: true } => {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
                Kind::Connection { hold: false } => {
                    let keep = cur.is_some_and(|i| port_of(i).is_none());
                    if keep {
                        out.push_str(line);
                        out.push_str("\r\n");
                    } else {
                        out.push_str(&format!("c=IN {} {}\r\n", fam(addr), addr));
                    }
                }
                Kind::Media(i) => {
                    flush_rtcp(&mut out, cur, rtcp_written);
                    cur = Some(*i);
                    rtcp_written = false;
                    match port_of(*i) {
                        Some(p) => {
                            let m = &self.media[*i];
                            let mut rest = line[2..].splitn(3, ' ');
                            let media = rest.next().unwrap_or("audio");
                            let _old = rest.next();
                            let tail = rest.next().unwrap_or(m.proto.as_str());
                            out.push_str(&format!("m={media} {p} {tail}\r\n"));
                        }
                        None => {
                            out.push_str(line);
                            out.push_str("\r\n");
                        }
                    }
                }
                Kind::Rtcp(i) => match port_of(*i) {
                    Some(p) => {
                        rtcp_written = true;
                        out.push_str(&format!(
                            "a=rtcp:{} IN {} {}\r\n",
                            p.wrapping_add(1),
                            fam(addr),
                            addr
                        ));
                    }
                    None => {
                        out.push_str(line);
                        out.push_str("\r\n");
                    }
                },
                Kind::Ice => {}
                Kind::Other => {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
        }
        flush_rtcp(&mut out, cur, rtcp_written);
        Bytes::from(out)
    }
}

/// The first G.711 codec of an offer, in its order of preference.
pub fn choose_g711(offer: &MediaDesc) -> Option<(u8, Codec)> {
    offer.codecs.first().copied()
}

/// SDP for media the gateway sources itself (tones, prompts): one audio line,
/// one codec (+ RFC 4733 telephone-event), sendrecv.
pub fn build_answer(
    addr: IpAddr,
    port: u16,
    codec: (u8, Codec),
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
) -> Bytes {
    let (pt, c) = codec;
    let mut s = format!(
        "v=0\r\no=trunkgate {session_id} {version} IN {f} {addr}\r\ns=trunkgate\r\nc=IN {f} {addr}\r\nt=0 0\r\n",
        f = fam(addr)
    );
    match telephone_event {
        Some(te) => s.push_str(&format!("m=audio {port} RTP/AVP {pt} {te}\r\n")),
        None => s.push_str(&format!("m=audio {port} RTP/AVP {pt}\r\n")),
    }
    s.push_str(&format!("a=rtpmap:{pt} {}/8000\r\n", c.name()));
    if let Some(te) = telephone_event {
        s.push_str(&format!(
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        ));
    }
    s.push_str(&format!(
        "a=rtcp:{} IN {} {addr}\r\na=ptime:20\r\na=sendrecv\r\n",
        port.wrapping_add(1),
        fam(addr)
    ));
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PBX: &str = "v=0\r\no=root 123 456 IN IP4 10.0.0.5\r\ns=Asterisk\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp:40001 IN IP4 10.0.0.5\r\na=sendrecv\r\n";

    fn plan(ports: Vec<Option<u16>>) -> Rewrite {
        Rewrite {
            addr: "192.0.2.1".parse().unwrap(),
            ports,
            version: Some(7),
            rtcp_attr: true,
        }
    }

    #[test]
    fn a_pbx_offer_parses_field_by_field() {
        let s = parse(PBX.as_bytes()).unwrap();
        assert_eq!(s.version(), Some(456));
        let m = &s.media()[0];
        assert_eq!(m.kind, MediaKind::Audio);
        assert_eq!((m.port, m.proto.as_str()), (40000, "RTP/AVP"));
        assert_eq!(m.addr, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(m.rtcp_port, Some(40001));
        assert_eq!(m.direction, Direction::SendRecv);
        assert_eq!(m.codecs, vec![(0, Codec::Pcmu), (8, Codec::Pcma)]);
        assert_eq!(m.telephone_event, Some(101));
        assert_eq!(choose_g711(m), Some((0, Codec::Pcmu)));
        assert!(!s.has_t38());
    }

    #[test]
    fn rewrite_points_at_us_and_keeps_the_rest() {
        let s = parse(PBX.as_bytes()).unwrap();
        let out = String::from_utf8(s.rewrite(&plan(vec![Some(20002)])).to_vec()).unwrap();
        assert_eq!(
            out,
            "v=0\r\no=root 123 7 IN IP4 192.0.2.1\r\ns=Asterisk\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp:20003 IN IP4 192.0.2.1\r\na=sendrecv\r\n"
        );
        // And it parses back with the planned values.
        let back = parse(out.as_bytes()).unwrap();
        assert_eq!(back.media()[0].port, 20002);
        assert_eq!(back.media()[0].rtcp_port, Some(20003));
    }

    #[test]
    fn ice_is_removed_and_rtcp_added_when_missing() {
        let webrtc = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=ice-options:trickle\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\nc=IN IP4 203.0.113.9\na=ice-ufrag:abcd\na=ice-pwd:0123456789abcdef0123\na=candidate:1 1 udp 2122260223 203.0.113.9 5000 typ host\na=end-of-candidates\na=rtpmap:111 opus/48000/2\na=sendonly\n";
        let s = parse(webrtc.as_bytes()).unwrap();
        assert_eq!(s.media()[0].codecs, vec![(0, Codec::Pcmu)]);
        assert_eq!(s.media()[0].direction, Direction::SendOnly);
        let out = String::from_utf8(s.rewrite(&plan(vec![Some(30000)])).to_vec()).unwrap();
        assert!(!out.contains("ice") && !out.contains("candidate"), "{out}");
        assert!(out.contains("m=audio 30000 UDP/TLS/RTP/SAVPF 111 0\r\n"));
        assert!(out.contains("a=rtcp:30001 IN IP4 192.0.2.1\r\n"));
        assert!(out.contains("a=sendonly\r\n") && out.ends_with("\r\n") && !out.contains("\n\n"));
    }

    #[test]
    fn hold_address_and_direction_survive() {
        let hold = PBX
            .replace("c=IN IP4 10.0.0.5", "c=IN IP4 0.0.0.0")
            .replace("a=sendrecv", "a=inactive");
        let s = parse(hold.as_bytes()).unwrap();
        assert!(s.media()[0].is_hold_address());
        assert_eq!(s.media()[0].direction, Direction::Inactive);
        let out = String::from_utf8(s.rewrite(&plan(vec![Some(20002)])).to_vec()).unwrap();
        assert!(out.contains("c=IN IP4 0.0.0.0\r\n") && out.contains("a=inactive\r\n"));
    }

    #[test]
    fn t38_and_disabled_lines() {
        let fax = "v=0\r\no=x 1 2 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=image 40010 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n";
        let s = parse(fax.as_bytes()).unwrap();
        assert!(s.has_t38() && s.media()[1].is_t38() && !s.media()[0].is_t38());
        let out = String::from_utf8(s.rewrite(&plan(vec![None, Some(20010)])).to_vec()).unwrap();
        assert!(out.contains("m=audio 0 RTP/AVP 0\r\n"));
        assert!(out.contains("m=image 20010 udptl t38\r\na=T38FaxVersion:0\r\n"));
        assert!(
            !out.contains("a=rtcp:"),
            "no RTCP for UDPTL or a disabled line: {out}"
        );
    }

    #[test]
    fn ipv6_both_ways() {
        let v6 = PBX.replace("IN IP4 10.0.0.5", "IN IP6 2001:db8::5");
        let s = parse(v6.as_bytes()).unwrap();
        assert_eq!(s.media()[0].addr, Some("2001:db8::5".parse().unwrap()));
        let out = s.rewrite(&plan(vec![Some(20002)]));
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("o=root 123 7 IN IP4 192.0.2.1\r\n")
                && out.contains("c=IN IP4 192.0.2.1\r\n")
        );
        let s = parse(PBX.as_bytes()).unwrap();
        let mut p = plan(vec![Some(20002)]);
        p.addr = "::1".parse().unwrap();
        let out = s.rewrite(&p);
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("c=IN IP6 ::1\r\n") && out.contains("a=rtcp:20003 IN IP6 ::1\r\n"));
    }

    #[test]
    fn malformed_sdp_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"o=x 1 1 IN IP4 1.2.3.4\r\n",
            b"v=0\r\no=short\r\n",
            b"v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\nm=audio port RTP/AVP 0\r\n",
            b"v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 nope\r\n",
            b"v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ngarbage\r\n",
            b"v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\n\xff\xfe\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let many = format!(
            "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\n{}",
            "m=audio 1 RTP/AVP 0\r\n".repeat(65)
        );
        assert_eq!(parse(many.as_bytes()).err(), Some(SdpError::TooManyMedia));
    }

    #[test]
    fn our_own_answer_parses_back() {
        let b = build_answer(
            "127.0.0.1".parse().unwrap(),
            20004,
            (8, Codec::Pcma),
            Some(101),
            9,
            3,
        );
        let s = parse(&b).unwrap();
        let m = &s.media()[0];
        assert_eq!(
            (m.port, m.codecs.clone(), m.telephone_event),
            (20004, vec![(8, Codec::Pcma)], Some(101))
        );
        assert_eq!(m.addr, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.version(), Some(3));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&data);
        }

        #[test]
        fn rewritten_offers_parse_with_the_planned_ports(port in 1u16..65000, ours in 1024u16..65000, pts in proptest::collection::vec(0u8..128, 1..6)) {
            let fmts: Vec<String> = pts.iter().map(|p| p.to_string()).collect();
            let text = format!("v=0\r\no=x 1 1 IN IP4 10.1.2.3\r\ns=-\r\nc=IN IP4 10.1.2.3\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n", fmts.join(" "));
            let s = parse(text.as_bytes()).unwrap();
            let back = parse(&s.rewrite(&plan(vec![Some(ours)]))).unwrap();
            proptest::prop_assert_eq!(back.media()[0].port, ours);
            proptest::prop_assert_eq!(back.media()[0].addr, Some("192.0.2.1".parse().unwrap()));
            proptest::prop_assert_eq!(&back.media()[0].fmts, &fmts);
        }
    }
}
