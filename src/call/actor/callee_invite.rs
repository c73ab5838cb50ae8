//! The callee's INVITE, built from the caller's: a fresh dialog toward the
//! hop (our tag and Call-ID), our From (the caller's user, or the caller ID a
//! call-flow worker set, with a bounded display name, on our host), the
//! headers that may pass ([`PASS_INVITE`]) and our SDP (the caller's body
//! as it is when media is not anchored). Pure: no I/O, no call state.

use bytes::Bytes;

use super::dialog::{contact_for, with_tag, Dialog};
use crate::call::respond::ALLOW;
use crate::call::respond::{bounded_display, copy_headers, with_body};
use crate::call::route::Hop;
use crate::config::SipSettings;
use crate::sip::{Message, Method, NameAddr, Uri};
use crate::transport::Target;

/// Headers of the caller's INVITE passed on to the carrier (everything else is
/// dropped: the carrier must not learn the PBX's topology or internals).
const PASS_INVITE: &[&str] = &[
    "Supported",
    "Require",
    "Session-Expires",
    "Min-SE",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Privacy",
    "Remote-Party-ID",
    "Diversion",
    "Subject",
    "Content-Disposition",
    "Accept",
];

/// The parts of the caller's From the callee's INVITE and the call log read,
/// parsed once when the call starts ([`CallerFrom::of`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CallerFrom {
    /// The display name as written (`None`: absent, or no From to parse).
    pub(super) display: Option<Bytes>,
    /// The From URI's user, still %-escaped (`None`: none, or no URI).
    pub(super) user: Option<Bytes>,
}

impl CallerFrom {
    /// From the caller's parsed From (`None`: it did not parse) and that From's
    /// parsed URI (`None`: absent or it did not parse).
    pub(super) fn of(from: Option<&NameAddr>, uri: Option<&Uri>) -> CallerFrom {
        match from {
            Some(f) => CallerFrom {
                display: f.display.clone(),
                user: uri.and_then(|u| u.user.clone()),
            },
            None => CallerFrom::default(),
        }
    }
}

/// What the callee's INVITE is built from.
pub(super) struct CalleeInvite<'a> {
    pub(super) hop: &'a Hop,
    pub(super) caller_invite: &'a Message,
    /// The caller's From display name and user.
    pub(super) caller_from: &'a CallerFrom,
    /// Our offer toward the callee (`None`: media not anchored).
    pub(super) sdp: Option<&'a Bytes>,
    /// Our From tag and the B leg's Call-ID.
    pub(super) tag: &'a Bytes,
    pub(super) call_id: &'a Bytes,
    /// Set by a call-flow worker: replaces the caller's user in From.
    pub(super) caller_id: Option<&'a str>,
    pub(super) sip: &'a SipSettings,
    pub(super) max_forwards: u32,
}

impl CalleeInvite<'_> {
    /// The B leg's dialog and INVITE (branch, CSeq, bytes), sent to `peer`
    /// (the hop's target, or the same address over TCP when the INVITE is
    /// too big for UDP) from our address `sent_by` toward it.
    pub(super) fn build(&self, peer: Target, sent_by: String) -> (Dialog, Bytes, u32, Bytes) {
        let (hop, inv, tag, call_id) = (self.hop, self.caller_invite, self.tag, self.call_id);
        let host = sent_by
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| sent_by.clone());
        let user = self
            .caller_from
            .user
            .as_ref()
            .map(|u| String::from_utf8_lossy(u).into_owned());
        let max = self.sip.max_display_name;
        let display = self.caller_from.display.as_ref().map(|d| {
            let d = String::from_utf8_lossy(d)
                .trim()
                .trim_matches('"')
                .to_string();
            bounded_display(d, max)
        });
        let user = self
            .caller_id
            .map(str::to_string)
            .or(user)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "anonymous".to_string());
        let from = match display.filter(|d| !d.is_empty()) {
            Some(d) => format!("\"{d}\" <sip:{user}@{host}>"),
            None => format!("<sip:{user}@{host}>"),
        };
        let ruri = hop.ruri.clone();
        let mut d = Dialog {
            call_id: call_id.clone(),
            local: with_tag(from.as_bytes(), tag),
            local_tag: tag.clone(),
            remote: Bytes::from(hop.to.clone()),
            remote_tag: None,
            remote_target: Bytes::from(ruri),
            route_set: Vec::new(),
            local_cseq: 0,
            // Toward carriers and destinations over TLS: always `sips:`.
            contact: contact_for(&sent_by, peer.kind, true),
            sent_by,
            peer,
        };
        let (branch, mut b) = d.request(&Method::Invite, None, self.max_forwards);
        let cseq = d.local_cseq;
        b = b.header("Contact", &d.contact).header("Allow", ALLOW);
        b = copy_headers(inv, PASS_INVITE, self.sip.max_copied_header, b);
        b = b.header("User-Agent", &self.sip.user_agent);
        let bytes = match self.sdp {
            Some(sdp) => b.body("application/sdp", sdp),
            None => with_body(b, inv),
        };
        (d, branch, cseq, bytes)
    }
}
