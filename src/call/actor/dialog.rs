//! One leg's dialog state (RFC 3261 §12) and the requests we originate in it.
//! Each leg is its own dialog: its Call-ID, tags, Route set and Contact never
//! appear on the other leg (topology hiding).

use bytes::Bytes;

use crate::sip::{HeaderName, Message, MessageBuilder, Method, NameAddr};
use crate::transport::{Target, TransportKind};

use crate::call::hub::{new_branch, Arrival};

/// Which leg: the caller's (A, we are its UAS) or the callee's (B, we are
/// its UAC). One enum for the call layer and the media relay.
pub use crate::media::relay::Leg;

pub struct Dialog {
    pub call_id: Bytes,
    /// Our From (A: their To) header value, including our tag.
    pub local: Bytes,
    pub local_tag: Bytes,
    /// The peer's header value, including its tag once known.
    pub remote: Bytes,
    pub remote_tag: Option<Bytes>,
    /// Request-URI for in-dialog requests (the peer's Contact).
    pub remote_target: Bytes,
    /// Route set, in the order Route headers are written.
    pub route_set: Vec<Bytes>,
    pub local_cseq: u32,
    /// Where requests on this leg are sent.
    pub peer: Target,
    /// Our Via sent-by and Contact value for this leg.
    pub sent_by: String,
    pub contact: Bytes,
}

impl Dialog {
    /// The caller's dialog, from its INVITE (we are its UAS, §12.1.1): our
    /// tag on its To, its Contact (else From) as the target, its
    /// Record-Route as the route set; requests go back the way it came.
    /// `from`: the INVITE's From, parsed by the caller (`None`: it does not
    /// parse).
    pub fn caller(
        invite: &Message,
        from: Option<&NameAddr>,
        meta: &Arrival,
        local_tag: Bytes,
        sent_by: String,
    ) -> Dialog {
        let to = invite.header(&HeaderName::To).unwrap_or_default();
        let remote_target = match invite.contact() {
            Some(Ok(c)) => c.uri,
            _ => from.map(|f| f.uri.clone()).unwrap_or_default(),
        };
        Dialog {
            call_id: invite.call_id().unwrap_or_default(),
            local: with_tag(&to, &local_tag),
            local_tag,
            remote: invite.header(&HeaderName::From).unwrap_or_default(),
            remote_tag: from.and_then(NameAddr::tag),
            remote_target,
            route_set: invite.record_routes(),
            local_cseq: 0,
            peer: meta.flow(),
            contact: contact_for(&sent_by, meta.kind, wants_sips(invite)),
            sent_by,
        }
    }

    /// The dialog of another fork that answered our INVITE of sequence
    /// `cseq` (a 2xx we did not want, §13.2.2.4): ours on this leg, confirmed
    /// by `resp`, sent to `peer`, so that it can be ACKed and hung up.
    pub fn fork(&self, resp: &Message, cseq: u32, peer: Target) -> Dialog {
        let mut d = Dialog {
            call_id: resp.call_id().unwrap_or_default(),
            local: self.local.clone(),
            local_tag: self.local_tag.clone(),
            remote: self.remote.clone(),
            remote_tag: None,
            remote_target: self.remote_target.clone(),
            route_set: Vec::new(),
            local_cseq: cseq,
            peer,
            sent_by: self.sent_by.clone(),
            contact: self.contact.clone(),
        };
        d.confirm_from_response(resp);
        d
    }

    pub fn via_proto(&self) -> &'static str {
        match self.peer.kind {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// A new request in this dialog (§12.2.1.1): start line, Via with a new
    /// branch, Max-Forwards, Route set, From/To/Call-ID/CSeq. `cseq` None takes the
    /// next local sequence number. Returns the branch and the builder.
    pub fn request(
        &mut self,
        method: &Method,
        cseq: Option<u32>,
        max_forwards: u32,
    ) -> (Bytes, MessageBuilder) {
        let seq = match cseq {
            Some(s) => s,
            None => {
                self.local_cseq = self.local_cseq.wrapping_add(1);
                self.local_cseq
            }
        };
        let branch = new_branch();
        let b = self.request_with_branch(method, &branch, seq, max_forwards);
        (Bytes::from(branch), b)
    }

    pub fn request_with_branch(
        &self,
        method: &Method,
        branch: &str,
        seq: u32,
        max_forwards: u32,
    ) -> MessageBuilder {
        let mut b = MessageBuilder::request(method, &self.remote_target)
            .header_parts(
                "Via",
                &[
                    b"SIP/2.0/",
                    self.via_proto().as_bytes(),
                    b" ",
                    self.sent_by.as_bytes(),
                    b";branch=",
                    branch.as_bytes(),
                    b";rport",
                ],
            )
            .header(
                "Max-Forwards",
                itoa::Buffer::new().format(max_forwards).as_bytes(),
            );
        for r in &self.route_set {
            b = b.header("Route", r);
        }
        b.header("From", &self.local)
            .header("To", &self.remote)
            .header("Call-ID", &self.call_id)
            .header_parts(
                "CSeq",
                &[
                    itoa::Buffer::new().format(seq).as_bytes(),
                    b" ",
                    method.as_str().as_bytes(),
                ],
            )
    }

    /// Learns the peer's tag, target and route set from a dialog-creating
    /// response we received as UAC (§12.1.2: route set = Record-Route reversed).
    pub fn confirm_from_response(&mut self, resp: &Message) {
        if let Some(to) = resp.header(&crate::sip::HeaderName::To) {
            self.remote = to.clone();
        }
        self.remote_tag = resp.to_tag().ok().flatten();
        if let Some(Ok(c)) = resp.contact() {
            self.remote_target = c.uri.clone();
        }
        let mut rr = resp.record_routes();
        rr.reverse();
        self.route_set = rr;
    }
}

/// A name-addr with `;tag=` appended.
pub fn with_tag(value: &[u8], tag: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(value.len() + tag.len() + 5);
    v.extend_from_slice(value);
    v.extend_from_slice(b";tag=");
    v.extend_from_slice(tag);
    Bytes::from(v)
}

/// Our Contact header value for a leg. On TLS, `sips` picks a `sips:` URI
/// (RFC 3261 §8.1.1.8 / §12.1.1: required when the request's Request-URI, top
/// Record-Route or Contact is `sips:`); otherwise `sip:…;transport=tls`, which
/// also brings the peer's in-dialog requests back over TLS and is all that
/// UAs without `sips:` support (baresip 1.0 / libre) can route to.
pub fn contact_for(sent_by: &str, kind: TransportKind, sips: bool) -> Bytes {
    match kind {
        TransportKind::Udp => Bytes::from(format!("<sip:trunkgate@{sent_by}>")),
        TransportKind::Tcp => Bytes::from(format!("<sip:trunkgate@{sent_by};transport=tcp>")),
        TransportKind::Tls if sips => Bytes::from(format!("<sips:trunkgate@{sent_by}>")),
        TransportKind::Tls => Bytes::from(format!("<sip:trunkgate@{sent_by};transport=tls>")),
    }
}

/// Whether a dialog-creating request asks for `sips:` (RFC 3261 §12.1.1: its
/// Request-URI, else its top Record-Route, else its Contact is a SIPS URI).
pub fn wants_sips(req: &crate::sip::Message) -> bool {
    fn sips(v: &[u8]) -> bool {
        let v = v.trim_ascii_start();
        let v = v.iter().position(|&b| b == b'<').map_or(v, |i| &v[i + 1..]);
        v.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"sips:"))
    }
    if req.request_uri().is_some_and(|u| sips(u)) {
        return true;
    }
    match req.record_routes().first() {
        Some(rr) => sips(rr),
        None => req
            .header(&crate::sip::HeaderName::Contact)
            .is_some_and(|c| sips(&c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Message, ParseOptions};

    fn req(ruri: &str, extra: &str) -> Message {
        let text = format!(
            "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn tls_contact_follows_the_requests_scheme() {
        let plain = req(
            "sip:b@y;transport=tls",
            "Contact: <sip:a@x;transport=tls>\r\n",
        );
        assert!(!wants_sips(&plain));
        assert_eq!(
            contact_for("192.0.2.1:5061", TransportKind::Tls, wants_sips(&plain)),
            "<sip:trunkgate@192.0.2.1:5061;transport=tls>"
        );
        assert!(wants_sips(&req("SIPS:b@y", "")));
        assert!(wants_sips(&req("sip:b@y", "Contact: \"A\" <sips:a@x>\r\n")));
        // The top Record-Route decides over the Contact.
        assert!(wants_sips(&req(
            "sip:b@y",
            "Record-Route: <sips:p1;lr>, <sip:p2;lr>\r\nContact: <sip:a@x>\r\n"
        )));
        assert!(!wants_sips(&req(
            "sip:b@y",
            "Record-Route: <sip:p1;lr>\r\nContact: <sips:a@x>\r\n"
        )));
        assert_eq!(
            contact_for("192.0.2.1:5061", TransportKind::Tls, true),
            "<sips:trunkgate@192.0.2.1:5061>"
        );
    }
}
