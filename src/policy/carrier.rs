//! Carrier order and carrier failover (outbound calls).

use crate::config::Carrier;

/// Indices of `carriers` in the order to try them: priority ascending, ties in config order.
pub fn carrier_order(carriers: &[Carrier]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..carriers.len()).collect();
    v.sort_by_key(|&i| carriers[i].priority);
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
            address: "127.0.0.1:5090".parse().unwrap(),
            transport: Transport::Udp,
            priority,
            inbound_sources: Vec::new(),
            tls_server_name: None,
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
