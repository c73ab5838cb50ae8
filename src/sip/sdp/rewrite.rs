//! Writing SDP: the relayed body for the other leg ([`Sdp::rewrite`]) and the
//! gateway's own answer when it sources media ([`build_answer`]).

use std::fmt::Write as _;
use std::net::IpAddr;

use bytes::Bytes;
use smallvec::SmallVec;

use super::Codec;
use super::{MediaDesc, Role, Sdp};

/// One entry per `m=` line, inline for a call's usual one or two lines.
pub type PerLine<T> = SmallVec<[T; 2]>;

/// How to rewrite a body for the other leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// Our relay address for this leg: goes into `o=`, `c=` and `a=rtcp`.
    pub addr: IpAddr,
    /// Per `m=` line in body order: Some(relay RTP port), or None to leave the
    /// port as is (e.g. a disabled line stays 0). Missing entries mean None.
    pub ports: PerLine<Option<u16>>,
    /// New `o=` sess-version, or None to keep the original.
    pub version: Option<u64>,
    /// Add `a=rtcp:<port+1>` to RTP lines without one and without rtcp-mux.
    pub rtcp_attr: bool,
    /// Per `m=` line: Some(security) replaces the transport profile and every
    /// `a=crypto` line of the section (SRTP is per leg, RFC 4568); None keeps them.
    pub sec: PerLine<Option<SecOut>>,
}

/// A section's transport profile and `a=crypto` lines toward one leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecOut {
    /// `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF` or `RTP/SAVPF`.
    pub proto: &'static str,
    /// Values of the `a=crypto:` lines to write (key material: never log them).
    pub crypto: Vec<String>,
}

fn addr_type(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl Rewrite {
    /// The relay port for section `i`; Some(0) counts as None (nothing to rewrite
    /// an `a=rtcp` to).
    fn port(&self, i: Option<usize>) -> Option<u16> {
        i.and_then(|i| self.ports.get(i).copied().flatten())
    }

    fn sec(&self, i: Option<usize>) -> Option<&SecOut> {
        i.and_then(|i| self.sec.get(i)).and_then(Option::as_ref)
    }

    /// RFC 3605 §2.1 `a=rtcp:<port> IN IP4|IP6 <addr>`, RTCP on the port above RTP.
    /// Nothing when RTP is on port 0 or 65535.
    /// `addr`: [`Self::addr`] as text.
    fn push_rtcp(&self, out: &mut String, rtp: u16, addr: &str) -> bool {
        let Some(rtcp) = rtp.checked_add(1).filter(|_| rtp != 0) else {
            return false;
        };
        out.push_str("a=rtcp:");
        out.push_str(itoa::Buffer::new().format(rtcp));
        out.push_str(" IN ");
        out.push_str(addr_type(self.addr));
        out.push(' ');
        out.push_str(addr);
        out.push_str("\r\n");
        true
    }
}

impl Sdp {
    /// The body to send to the other side. For each `m=` line i with
    /// `plan.ports[i] = Some(p)`: port set to p, `a=rtcp` (if present, or added
    /// when `plan.rtcp_attr` and the line is RTP without rtcp-mux) set to p+1 with
    /// our address. `c=` lines get `plan.addr` unless they held a hold address
    /// (0.0.0.0 / ::, RFC 3264 §8.4), which stays so hold still means hold. The
    /// `o=` address becomes `plan.addr`, its sess-version `plan.version` if Some.
    /// ICE attributes (RFC 8839) are dropped: the gateway is the media endpoint
    /// each side sees. Every other line is copied byte for byte, CRLF-terminated.
    pub fn rewrite(&self, plan: &Rewrite) -> Bytes {
        let ip = addr_type(plan.addr);
        let mut out = String::with_capacity(self.body.len() + 64);
        // Formatted once (without `fmt` for IPv4): it goes into `o=`, `c=`
        // and each `a=rtcp`.
        let addr = crate::sip::addr_text::ip(plan.addr);
        let addr = addr.as_str();
        for (i, line) in self.lines.iter().enumerate() {
            let text = self.body.get(line.span.clone()).unwrap_or("");
            let port = plan.port(line.section());
            let sec = plan.sec(line.section());
            match line.role {
                Role::Ice => {}
                Role::Crypto if sec.is_some() => {}
                Role::Origin => {
                    let mut f = text.get(2..).unwrap_or("").split_ascii_whitespace();
                    match (f.next(), f.next(), f.next()) {
                        (Some(user), Some(id), Some(version)) => {
                            let mut num = itoa::Buffer::new();
                            let version = match plan.version {
                                Some(v) => num.format(v),
                                None => version,
                            };
                            for part in ["o=", user, " ", id, " ", version, " IN ", ip, " "] {
                                out.push_str(part);
                            }
                            out.push_str(addr);
                            out.push_str("\r\n");
                        }
                        _ => push_line(&mut out, text),
                    }
                }
                Role::Connection { hold: false } => {
                    for part in ["c=IN ", ip, " ", addr, "\r\n"] {
                        out.push_str(part);
                    }
                }
                Role::Media => match (port, text.get(2..)) {
                    (Some(p), Some(value)) => {
                        let mut f = value.split_ascii_whitespace();
                        match (f.next(), f.next(), f.next()) {
                            (Some(media), Some(_), Some(proto)) => {
                                let proto = sec.map_or(proto, |s| s.proto);
                                let mut num = itoa::Buffer::new();
                                for part in ["m=", media, " ", num.format(p), " ", proto] {
                                    out.push_str(part);
                                }
                                for r in f {
                                    out.push(' ');
                                    out.push_str(r);
                                }
                                out.push_str("\r\n");
                            }
                            _ => push_line(&mut out, text),
                        }
                    }
                    _ => push_line(&mut out, text),
                },
                Role::Rtcp => {
                    if !port.is_some_and(|p| plan.push_rtcp(&mut out, p, addr)) {
                        push_line(&mut out, text);
                    }
                }
                Role::Connection { hold: true } | Role::Crypto | Role::Other => {
                    push_line(&mut out, text)
                }
            }
            let section_ends = line.section.is_some()
                && self.lines.get(i + 1).map(|l| l.section) != Some(line.section);
            if section_ends {
                for c in sec.map(|s| s.crypto.as_slice()).unwrap_or_default() {
                    out.push_str("a=crypto:");
                    push_line(&mut out, c);
                }
            }
            if section_ends && plan.rtcp_attr {
                let media = line.section().and_then(|s| self.media.get(s));
                if let (Some(m), Some(p)) = (media, port) {
                    if needs_rtcp_attr(m) {
                        plan.push_rtcp(&mut out, p, addr);
                    }
                }
            }
        }
        Bytes::from(out)
    }
}

fn push_line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push_str("\r\n");
}

fn needs_rtcp_attr(m: &MediaDesc) -> bool {
    m.is_rtp() && !m.rtcp_mux && m.rtcp_port.is_none()
}

/// The SDP answer the gateway produces when it sources media itself (ringback
/// or busy tone, played files): one audio `m=` line with the one codec chosen,
/// plus RFC 4733 telephone-event if given, sendrecv, 20 ms packets (RFC 3551
/// §4.5.14: G.711 default ptime).
pub fn build_answer(
    addr: IpAddr,
    port: u16,
    codec: (u8, Codec),
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
    sec: Option<&SecOut>,
) -> Bytes {
    let ip = addr_type(addr);
    let (pt, codec) = codec;
    let mut s = String::with_capacity(256);
    let _ = write!(
        s,
        "v=0\r\no=- {session_id} {version} IN {ip} {addr}\r\ns=-\r\nc=IN {ip} {addr}\r\nt=0 0\r\n"
    );
    let proto = sec.map_or("RTP/AVP", |s| s.proto);
    let _ = write!(s, "m=audio {port} {proto} {pt}");
    if let Some(te) = telephone_event {
        let _ = write!(s, " {te}");
    }
    let _ = write!(s, "\r\na=rtpmap:{pt} {}/8000\r\n", codec.name());
    if let Some(te) = telephone_event {
        let _ = write!(
            s,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
        );
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    for c in sec.map(|s| s.crypto.as_slice()).unwrap_or_default() {
        let _ = write!(s, "a=crypto:{c}\r\n");
    }
    Bytes::from(s)
}

/// The first G.711 codec in the offer's `m=` order (RFC 3264 §6.1: the offerer's
/// preference order).
pub fn choose_g711(offer: &MediaDesc) -> Option<(u8, Codec)> {
    offer.codecs.first().copied()
}
