//! What a call's media task has been told, per leg and media line, so an
//! SDP that changes nothing (the caller's offer relayed again for the next
//! hop) sends nothing: every message wakes the media task's thread.

use std::net::SocketAddr;
use std::sync::LazyLock;

use crate::media::relay::{Cmd, Leg, PtMap, Remote, MAX_STREAMS};
use crate::media::srtp::LegKeys;
use crate::sip::sdp::{self, MediaDesc};

/// What the media task knows of one leg's media line.
#[derive(Clone, Copy, Default)]
struct Line {
    /// `Some(r)`: [`Cmd::Remote`] with `r` was sent.
    remote: Option<Option<Remote>>,
    /// Plain RTP ([`Cmd::Srtp`] with no keys) was sent.
    plain: bool,
}

/// The remotes, keys and hold state the media task was last told.
#[derive(Default)]
pub(super) struct Told {
    lines: [Vec<Line>; 2],
    /// The hold state last sent.
    hold: Option<bool>,
    /// The call is answered: from then on every SDP's hold state restarts
    /// the dead-media watch, so it is always sent.
    pub(super) answered: bool,
}

impl Told {
    /// What the media task knows of `leg`'s line `idx` (`None`: no such line).
    fn line(&mut self, leg: Leg, idx: usize) -> Option<&mut Line> {
        if idx >= MAX_STREAMS {
            return None;
        }
        let list = &mut self.lines[leg as usize];
        if list.len() <= idx {
            // Exactly the lines the SDP has (a first push would make room
            // for four ~200-byte lines: 1.6 KB per live call, dhat).
            list.reserve_exact(idx + 1 - list.len());
            list.resize(idx + 1, Line::default());
        }
        list.get_mut(idx)
    }

    /// `leg`'s remote on line `idx`, unless the media task has it.
    pub(super) fn remote(
        &mut self,
        leg: Leg,
        idx: usize,
        remote: Option<Remote>,
        cmds: &mut Vec<Cmd>,
    ) {
        let known = self
            .line(leg, idx)
            .is_some_and(|t| t.remote.replace(remote) == Some(remote));
        if !known {
            cmds.push(Cmd::Remote {
                idx,
                leg,
                remote: remote.map(Box::new),
            });
        }
    }

    /// `leg`'s SRTP keys on line `idx` (`None`: plain RTP, not sent again).
    pub(super) fn keys(
        &mut self,
        leg: Leg,
        idx: usize,
        keys: Option<LegKeys>,
        cmds: &mut Vec<Cmd>,
    ) {
        let plain = keys.is_none();
        let again = self
            .line(leg, idx)
            .is_some_and(|t| std::mem::replace(&mut t.plain, plain) && plain);
        if !again {
            cmds.push(Cmd::Srtp {
                idx,
                leg,
                keys: keys.map(Box::new),
            });
        }
    }

    /// The call's hold state (both legs `inactive`), if it changed or the
    /// call is answered.
    pub(super) fn hold(&mut self, hold: bool, cmds: &mut Vec<Cmd>) {
        if self.hold != Some(hold) || self.answered {
            self.hold = Some(hold);
            cmds.push(Cmd::Hold(hold));
        }
    }
}

/// RFC 3551's static payload types, built once: every SDP line starts from
/// them (a copy of 128 bytes instead of two dozen inserts per line).
static STATIC_PTS: LazyLock<PtMap> = LazyLock::new(PtMap::default);

/// Where a media line `m` wants its media, as the media task takes it
/// (`None`: no connection address).
pub(super) fn remote_of(m: &MediaDesc) -> Option<Remote> {
    let ip = m.addr?;
    let rtp = SocketAddr::new(ip, m.port);
    let rtcp = SocketAddr::new(ip, m.rtcp_port.unwrap_or(m.port.wrapping_add(1)));
    let rtcp = if m.rtcp_mux { rtp } else { rtcp };
    let mut pts = *STATIC_PTS;
    for (pt, rate) in &m.clocks {
        pts.set_clock(*pt, *rate);
    }
    for (pt, c) in &m.codecs {
        pts.set(*pt, *c);
    }
    let raw = m.kind != sdp::MediaKind::Audio || !m.proto_has("RTP");
    Some(Remote {
        rtp,
        rtcp,
        pts,
        raw,
        telephone_event: m.telephone_event,
    })
}
