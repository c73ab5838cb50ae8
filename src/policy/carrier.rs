//! Carrier order and carrier failover (outbound calls).

use crate::config::Carrier;
/// The settings are config (`[[carriers]] health_*`); the decision on them is here.
pub use crate::config::HealthSettings;

/// Indices of `carriers` in the order to try them: priority ascending, ties in config order.
pub fn carrier_order(carriers: &[Carrier]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..carriers.len()).collect();
    v.sort_by_key(|&i| carriers[i].priority);
    v
}

/// One carrier's health as its pings see it: up until `down_after` pings in
/// a row go unanswered, then down until `up_after` pings in a row are
/// answered (any response is an answer: the carrier's SIP stack is alive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    up: bool,
    streak: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            up: true,
            streak: 0,
        }
    }
}

impl Health {
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Records one ping's result; `Some(new state)` when the state changed.
    pub fn observe(&mut self, answered: bool, s: &HealthSettings) -> Option<bool> {
        if answered == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.up { s.down_after } else { s.up_after };
        if self.streak >= needed {
            self.up = !self.up;
            self.streak = 0;
            return Some(self.up);
        }
        None
    }
}

/// [`carrier_order`] with health: carriers that are up first (priority
/// order), then the down ones (priority order) as a last resort — a down
/// carrier costs no Timer B while another is up, and is still tried when
/// every carrier is down.
pub fn carrier_order_by_health(carriers: &[Carrier], up: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut v = carrier_order(carriers);
    v.sort_by_key(|&i| !up(i)); // stable: priority order kept within each group
    v
}

/// How one attempt toward a carrier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The request could not be sent (connection refused, ICMP, …).
    TransportError,
    /// No response at all (Timer B).
    Timeout,
    /// A final response.
    Final(u16),
}

/// Move to the next carrier? Yes when the carrier could not take the call:
/// transport error, timeout, 408 or any 5xx (incl. 503). Never once the callee
/// sent early media (a 1xx with SDP) — the caller already hears the far end —
/// and never on the callee's own decisions (other 4xx, 6xx), which go back.
pub fn try_next_carrier(outcome: AttemptOutcome, early_media_seen: bool) -> bool {
    if early_media_seen {
        return false;
    }
    match outcome {
        AttemptOutcome::TransportError | AttemptOutcome::Timeout => true,
        AttemptOutcome::Final(code) => code == 408 || (500..600).contains(&code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Transport;

    fn c(name: &str, priority: u32) -> Carrier {
        Carrier {
            name: name.into(),
            srtp: Default::default(),
            address: "127.0.0.1:5090".parse().unwrap(),
            transport: Transport::Udp,
            priority,
            inbound_sources: Vec::new(),
            tls_server_name: None,
            health: None,
        }
    }

    #[test]
    fn order_by_priority_then_config_order() {
        assert_eq!(
            carrier_order(&[c("a", 20), c("b", 10), c("c", 20), c("d", 5)]),
            vec![3, 1, 0, 2]
        );
        assert!(carrier_order(&[]).is_empty());
    }

    #[test]
    fn down_carriers_go_last_in_priority_order() {
        let cs = [c("a", 20), c("b", 10), c("c", 20), c("d", 5)];
        // d (5) and a (20) down: b, c up first, then d, a.
        assert_eq!(
            carrier_order_by_health(&cs, |i| i != 3 && i != 0),
            vec![1, 2, 3, 0]
        );
        assert_eq!(carrier_order_by_health(&cs, |_| false), vec![3, 1, 0, 2]);
        assert_eq!(carrier_order_by_health(&cs, |_| true), vec![3, 1, 0, 2]);
    }

    #[test]
    fn health_needs_streaks_to_change_state() {
        let s = HealthSettings {
            interval: std::time::Duration::from_secs(1),
            down_after: 3,
            up_after: 2,
        };
        let mut h = Health::default();
        assert!(h.is_up());
        assert_eq!(h.observe(false, &s), None);
        assert_eq!(h.observe(false, &s), None);
        assert_eq!(h.observe(true, &s), None, "an answer resets the streak");
        assert_eq!(h.observe(false, &s), None);
        assert_eq!(h.observe(false, &s), None);
        assert_eq!(
            h.observe(false, &s),
            Some(false),
            "third miss in a row: down"
        );
        assert!(!h.is_up());
        assert_eq!(h.observe(false, &s), None, "logged once");
        assert_eq!(h.observe(true, &s), None);
        assert_eq!(h.observe(false, &s), None, "a miss resets the up streak");
        assert_eq!(h.observe(true, &s), None);
        assert_eq!(h.observe(true, &s), Some(true));
        assert!(h.is_up());
    }

    #[test]
    fn failover_rules() {
        use AttemptOutcome::*;
        for (o, want) in [
            (TransportError, true),
            (Timeout, true),
            (Final(408), true),
            (Final(500), true),
            (Final(503), true),
            (Final(504), true),
            (Final(480), false),
            (Final(486), false),
            (Final(404), false),
            (Final(403), false),
            (Final(603), false),
            (Final(600), false),
        ] {
            assert_eq!(try_next_carrier(o, false), want, "{o:?}");
        }
        assert!(
            !try_next_carrier(Final(503), true),
            "never after early media"
        );
        assert!(!try_next_carrier(Timeout, true));
    }
}
