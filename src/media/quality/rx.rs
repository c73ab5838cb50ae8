//! Receive statistics of the RTP one leg sends (RFC 3550 A.1 and A.8):
//! sequence numbers with wrap and reordering, duplicates, loss and its
//! longest burst, interarrival jitter, the longest silence. Plain integer
//! arithmetic on a fixed-size state, called for every packet.

/// RFC 3550 A.1: a forward jump of at least this many sequence numbers is a
/// restart (confirmed by the next packet), not loss.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: at most this far behind the highest sequence number a
/// packet is a late (reordered) one; further behind it is a restart.
const MAX_MISORDER: u16 = 100;
const NO_BAD_SEQ: u32 = u32::MAX;
/// Bound on one jitter difference (a timestamp jump of a minute is a restart, not jitter).
const MAX_TRANSIT_DELTA_US: u64 = 60_000_000;
/// Sequence, loss, jitter and gap state of the RTP one leg sends
/// (RFC 3550 A.1 and A.8, plus a 128-packet window that tells duplicates
/// from late packets and measures loss bursts).
#[derive(Clone, Debug)]
pub struct Rx {
    pub(super) seen: bool,
    pub(super) ssrc: u32,
    max_seq: u16,
    /// Sequence-number wraps × 65536.
    cycles: u64,
    /// Extended sequence number of the first packet of the current source.
    base: u64,
    bad_seq: u32,
    /// Bit i: extended sequence number `max - i` has arrived.
    window: u128,
    /// Expected packets of earlier sources (SSRC change or restart).
    expected_prior: u64,
    /// Distinct packets received (duplicates not counted).
    received: u64,
    duplicates: u64,
    out_of_order: u64,
    /// Losses in a row that have left the window, and the longest run so far.
    run: u64,
    max_burst: u64,
    have_transit: bool,
    last_arrival_us: u64,
    last_ts: u32,
    /// RFC 3550 A.8 jitter estimate × 16, in microseconds.
    jitter16_us: u64,
    clock: u32,
    pub(super) pt: u8,
    /// Time of the last packet (µs since the task's epoch); 0: none yet.
    pub(super) last_us: u64,
    /// Start of the current silence after the answer; 0: not counting.
    pub(super) gap_from_us: u64,
    max_gap_us: u64,
}

impl Default for Rx {
    fn default() -> Self {
        Rx {
            seen: false,
            ssrc: 0,
            max_seq: 0,
            cycles: 0,
            base: 0,
            bad_seq: NO_BAD_SEQ,
            window: 0,
            expected_prior: 0,
            received: 0,
            duplicates: 0,
            out_of_order: 0,
            run: 0,
            max_burst: 0,
            have_transit: false,
            last_arrival_us: 0,
            last_ts: 0,
            jitter16_us: 0,
            clock: 0,
            // Not a payload type: the first packet sets the codec.
            pt: 0xff,
            last_us: 0,
            gap_from_us: 0,
            max_gap_us: 0,
        }
    }
}

impl Rx {
    fn ext_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// Window bits that stand for packets of the current source.
    fn valid_bits(&self) -> u64 {
        (self.ext_max() - self.base + 1).min(128)
    }

    /// One RTP packet: `seq`/`ts`/`ssrc` from its header, `now_us` its
    /// arrival, `clock` the payload type's rate (0: unknown, no jitter),
    /// `jitter` false for packets that do not follow the media clock
    /// (RFC 4733 events repeat their timestamp).
    pub fn packet(&mut self, seq: u16, ts: u32, ssrc: u32, now_us: u64, clock: u32, jitter: bool) {
        if !self.seen || ssrc != self.ssrc {
            self.restart(seq);
            self.ssrc = ssrc;
            self.seen = true;
            self.received += 1;
        } else {
            let udelta = seq.wrapping_sub(self.max_seq);
            if udelta == 0 {
                self.duplicates += 1;
                return;
            } else if udelta < MAX_DROPOUT {
                self.advance(u64::from(udelta));
                if seq < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = seq;
                self.received += 1;
                self.bad_seq = NO_BAD_SEQ;
            } else if udelta <= u16::MAX - MAX_MISORDER {
                // A jump: a restarted sender if the next packet follows it (RFC 3550 A.1).
                if u32::from(seq) != self.bad_seq {
                    self.bad_seq = u32::from(seq.wrapping_add(1));
                    return;
                }
                self.restart(seq);
                self.received += 1;
            } else {
                let back = u64::from(self.max_seq.wrapping_sub(seq));
                if back >= self.valid_bits() {
                    // Older than the first packet of this source: it starts earlier.
                    if self.ext_max() < back {
                        // Sent before a wrap this source made before its first
                        // packet reached us (e.g. 65530 after 5): count from
                        // one cycle later so the extended numbers stay positive.
                        self.cycles += 1 << 16;
                        self.base += 1 << 16;
                    }
                    self.base = self.ext_max() - back;
                } else if self.window & (1u128 << back) != 0 {
                    self.duplicates += 1;
                    return;
                }
                self.window |= 1u128 << back;
                self.received += 1;
                self.out_of_order += 1;
            }
        }
        self.pt_clock(clock);
        if jitter {
            self.transit(ts, now_us);
        }
    }

    fn pt_clock(&mut self, clock: u32) {
        if clock != self.clock {
            self.clock = clock;
            self.have_transit = false;
        }
    }

    /// RFC 3550 §6.4.1 / A.8: J += (|D(i-1,i)| - J) / 16, with D in
    /// microseconds (arrival clock) against the timestamp step at the
    /// payload's clock rate.
    fn transit(&mut self, ts: u32, now_us: u64) {
        if self.clock == 0 {
            return;
        }
        if self.have_transit {
            let arrival = now_us.saturating_sub(self.last_arrival_us) as i64;
            let step =
                i64::from(ts.wrapping_sub(self.last_ts) as i32) * 1_000_000 / i64::from(self.clock);
            let d = (arrival - step).unsigned_abs().min(MAX_TRANSIT_DELTA_US);
            // RFC 3550 A.8: jitter += d - ((jitter + 8) >> 4), the estimate kept × 16.
            let j = self.jitter16_us;
            self.jitter16_us = j + d - ((j + 8) >> 4);
        }
        self.have_transit = true;
        self.last_arrival_us = now_us;
        self.last_ts = ts;
    }

    /// A new source (first packet, SSRC change, confirmed restart): what
    /// was expected so far is kept, sequence tracking starts at `seq`.
    fn restart(&mut self, seq: u16) {
        if self.seen {
            self.expected_prior += self.ext_max() - self.base + 1;
            self.max_burst = self.burst();
            self.run = 0;
        }
        self.max_seq = seq;
        self.cycles = 0;
        self.base = u64::from(seq);
        self.window = 1;
        self.bad_seq = NO_BAD_SEQ;
        self.have_transit = false;
    }

    /// The highest sequence number moves up by `n`: the oldest window bits
    /// leave, each a received packet or a loss (counted into bursts).
    fn advance(&mut self, n: u64) {
        let valid = self.valid_bits();
        for k in 0..n.min(128) {
            let back = 127 - k;
            if back >= valid {
                continue;
            }
            if self.window & (1u128 << back) == 0 {
                self.run += 1;
            } else {
                self.max_burst = self.max_burst.max(self.run);
                self.run = 0;
            }
        }
        if n >= 128 {
            // Sequence numbers that were never inside the window: all lost.
            self.run += n - 128;
            self.window = 1;
        } else {
            self.window = (self.window << n) | 1;
        }
    }

    /// The longest loss burst so far, counting the losses still in the window.
    pub fn burst(&self) -> u64 {
        if !self.seen {
            return self.max_burst;
        }
        let (mut best, mut run) = (self.max_burst, self.run);
        for back in (0..self.valid_bits()).rev() {
            if self.window & (1u128 << back) == 0 {
                run += 1;
            } else {
                best = best.max(run);
                run = 0;
            }
        }
        best.max(run)
    }

    /// Packets expected from the sequence numbers (RFC 3550 A.3).
    pub fn expected(&self) -> u64 {
        if !self.seen {
            return 0;
        }
        self.expected_prior + self.ext_max() - self.base + 1
    }

    /// Distinct packets received.
    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Interarrival jitter in microseconds.
    pub fn jitter_us(&self) -> u64 {
        self.jitter16_us >> 4
    }

    /// Interarrival jitter in timestamp units, as an RTCP receiver report carries it.
    pub fn jitter_ts(&self) -> u64 {
        self.jitter_us() * u64::from(self.clock) / 1_000_000
    }

    pub fn clock(&self) -> u32 {
        self.clock
    }

    /// Silence after the answer: `counting` while the call is answered and
    /// not on hold.
    pub(super) fn gap(&mut self, now_us: u64, counting: bool) {
        if counting && self.gap_from_us != 0 {
            self.max_gap_us = self.max_gap_us.max(now_us - self.gap_from_us);
        }
        self.gap_from_us = if counting { now_us } else { 0 };
    }

    /// The longest silence so far, the one still running at `now_us` included.
    pub(super) fn max_gap_at(&self, now_us: u64) -> u64 {
        let open = if self.gap_from_us != 0 {
            now_us.saturating_sub(self.gap_from_us)
        } else {
            0
        };
        self.max_gap_us.max(open)
    }
}
