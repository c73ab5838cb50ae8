//! The dead-media watch: on an answered call not on hold, no RTP from
//! either leg (or a leg whose stream flowed and then stopped) for the RTP
//! timeout is reported once.

use std::time::Duration;

use tokio::time::Instant;

use super::Leg;

pub(super) struct Watch {
    answered: bool,
    hold: bool,
    timed_out: bool,
    last_rx: Instant,
    /// Per leg: the last RTP since the answer (or the last hold change), `None`
    /// while that leg has sent none. A leg whose stream flowed and then stopped
    /// for the RTP timeout is a dead path (a black-holed peer) even while the
    /// other leg still sends.
    last_rx_leg: [Option<Instant>; 2],
}

impl Watch {
    pub(super) fn new(now: Instant) -> Watch {
        Watch {
            answered: false,
            hold: false,
            timed_out: false,
            last_rx: now,
            last_rx_leg: [None; 2],
        }
    }

    /// The task starts watching (no RTP yet).
    pub(super) fn start(&mut self, now: Instant) {
        self.last_rx = now;
    }

    /// The call is answered: watch from now on.
    pub(super) fn answered(&mut self, now: Instant) {
        self.answered = true;
        self.last_rx = now;
        self.last_rx_leg = [None; 2];
    }

    /// Pause the watch (both sides `inactive`) or resume it.
    pub(super) fn hold(&mut self, on: bool, now: Instant) {
        self.hold = on;
        self.last_rx = now;
        self.last_rx_leg = [None; 2];
    }

    /// An RTP packet from `leg`.
    #[inline]
    pub(super) fn rx(&mut self, leg: Leg, now: Instant) {
        self.last_rx = now;
        if self.answered {
            self.last_rx_leg[leg as usize] = Some(now);
        }
    }

    /// True once, when the media has been dead for `limit`.
    pub(super) fn timed_out(&mut self, limit: Duration) -> bool {
        let leg_stopped = self
            .last_rx_leg
            .iter()
            .any(|t| t.is_some_and(|t| t.elapsed() >= limit));
        if self.answered
            && !self.hold
            && !self.timed_out
            && (self.last_rx.elapsed() >= limit || leg_stopped)
        {
            self.timed_out = true;
            return true;
        }
        false
    }
}
