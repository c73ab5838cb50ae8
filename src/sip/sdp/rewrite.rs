//! Writing SDP: the relayed body for the other leg ([`Sdp::rewrite`]) and the
//! gateway's own answer when it sources media ([`build_answer`]).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::ops::Range;

use bytes::Bytes;

use super::Codec;
use super::{MediaDesc, Role, Sdp};

/// How to rewrite a body for the other leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// Our relay address for this leg: goes into `o=`, `c=` and `a=rtcp`.
    pub addr: IpAddr,
    /// Per `m=` line in body order: Some(relay RTP port), or None to leave the
    /// port as is (e.g. a disabled line stays 0). Missing entries mean None.
    pub ports: Vec<Option<u16>>,
    /// New `o=` sess-version, or None to keep the original.
    pub version: Option<u64>,
    /// Add `a=rtcp:<port+1>` to RTP lines without one and without rtcp-mux.
    pub rtcp_attr: bool,
    /// Per `m=` line: Some(security) replaces the transport profile and every
    /// `a=crypto` line of the section (SRTP is per leg, RFC 4568); None keeps them.
    pub sec: Vec<Option<SecOut>>,
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
    /// `addr`: [`Self::addr`] as the output writes it.
    fn push_rtcp(&self, out: &mut String, rtp: u16, addr: &mut AddrOut) -> bool {
        let Some(rtcp) = rtp.checked_add(1).filter(|_| rtp != 0) else {
            return false;
        };
        out.push_str("a=rtcp:");
        out.push_str(itoa::Buffer::new().format(rtcp));
        out.push_str(" IN ");
        out.push_str(addr_type(self.addr));
        out.push(' ');
        addr.push(out);
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
        // Formatted once (without `fmt`), in the output itself: it goes into
        // `o=`, `c=` and each `a=rtcp`.
        let mut addr = AddrOut {
            addr: plan.addr,
            at: None,
        };
        let mut out = String::with_capacity(self.body.len() + 64);
        let mut kept = Verbatim {
            body: &self.body,
            run: 0..0,
        };
        let lines = self.lines.as_slice();
        for (i, line) in lines.iter().enumerate() {
            let text = self.body.get(line.span.clone()).unwrap_or("");
            let port = plan.port(line.section());
            let sec = plan.sec(line.section());
            match line.role {
                Role::Ice => {}
                Role::Crypto if sec.is_some() => {}
                Role::Origin => {
                    kept.flush(&mut out);
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
                            addr.push(&mut out);
                            out.push_str("\r\n");
                        }
                        _ => push_line(&mut out, text),
                    }
                }
                Role::Connection { hold: false } => {
                    kept.flush(&mut out);
                    for part in ["c=IN ", ip, " "] {
                        out.push_str(part);
                    }
                    addr.push(&mut out);
                    out.push_str("\r\n");
                }
                Role::Media => {
                    kept.flush(&mut out);
                    match (port, text.get(2..)) {
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
                    }
                }
                Role::Rtcp => {
                    kept.flush(&mut out);
                    if !port.is_some_and(|p| plan.push_rtcp(&mut out, p, &mut addr)) {
                        push_line(&mut out, text);
                    }
                }
                Role::Connection { hold: true } | Role::Crypto | Role::Other => {
                    kept.keep(&mut out, &line.span)
                }
            }
            let section_ends =
                line.section.is_some() && lines.get(i + 1).map(|l| l.section) != Some(line.section);
            if section_ends {
                kept.flush(&mut out);
                for c in sec.map(|s| s.crypto.as_slice()).unwrap_or_default() {
                    out.push_str("a=crypto:");
                    push_line(&mut out, c);
                }
            }
            if section_ends && plan.rtcp_attr {
                let media = line.section().and_then(|s| self.media.get(s));
                if let (Some(m), Some(p)) = (media, port) {
                    if needs_rtcp_attr(m) {
                        plan.push_rtcp(&mut out, p, &mut addr);
                    }
                }
            }
        }
        kept.flush(&mut out);
        Bytes::from(out)
    }
}

/// Our address in a rewritten body: written into the output where it first
/// goes, then copied from there (no string of its own per rewrite).
struct AddrOut {
    addr: IpAddr,
    /// Where the output has it (`None`: not written yet).
    at: Option<Range<usize>>,
}

impl AddrOut {
    fn push(&mut self, out: &mut String) {
        match &self.at {
            // Our own ASCII text, earlier in `out`: in bounds, on char boundaries.
            Some(at) => out.extend_from_within(at.clone()),
            None => {
                let start = out.len();
                match self.addr {
                    IpAddr::V4(a) => crate::sip::addr_text::push_ipv4(out, a),
                    IpAddr::V6(_) => out.push_str(&crate::sip::addr_text::ip(self.addr)),
                }
                self.at = Some(start..out.len());
            }
        }
    }
}

/// The lines a rewrite copies as they are, sent out in runs: consecutive
/// CRLF-ended lines of the body in one copy (byte for byte what a push of
/// each line and its CRLF writes) instead of two pushes a line.
struct Verbatim<'a> {
    body: &'a str,
    /// Body bytes kept and not yet written (empty: none).
    run: Range<usize>,
}

impl Verbatim<'_> {
    /// The line at `span` goes out as it is (after the run so far).
    fn keep(&mut self, out: &mut String, span: &Range<usize>) {
        let end = span.end;
        if self.body.as_bytes().get(end..end + 2) == Some(b"\r\n".as_slice()) {
            if self.run.is_empty() || self.run.end != span.start {
                self.flush(out);
                self.run.start = span.start;
            }
            self.run.end = end + 2;
        } else {
            // A bare LF (or the body's last line): written with a CRLF.
            self.flush(out);
            push_line(out, self.body.get(span.clone()).unwrap_or(""));
        }
    }

    /// Writes the run kept so far (before anything the rewrite rebuilds).
    fn flush(&mut self, out: &mut String) {
        if !self.run.is_empty() {
            // Runs start at line starts and end after a LF: char boundaries.
            out.push_str(self.body.get(self.run.clone()).unwrap_or(""));
            self.run = 0..0;
        }
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
