use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::config::{Authentication, OutboundSettings, TrunkStatus};

const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn trunk(id: u128, domain: Option<&str>, auth: &[(AuthSource, &str)]) -> Trunk {
    Trunk {
        trunk_id: Uuid::from_u128(id),
        media_encryption: Default::default(),
        status: TrunkStatus::Active,
        direction: Direction::Outbound,
        simultaneous_call_limit: None,
        description: None,
        recording: None,
        inbound: None,
        outbound: Some(OutboundSettings {
            domain: domain.map(str::to_string),
            authentication: auth
                .iter()
                .map(|(s, v)| Authentication {
                    source: *s,
                    value: v.to_string(),
                })
                .collect(),
            ..Default::default()
        }),
    }
}

fn facts<'a>(
    host: &'a str,
    user: Option<&'a str>,
    src: &str,
    sid: Option<&'a str>,
) -> OutboundFacts<'a> {
    OutboundFacts {
        ruri_host: host,
        ruri_user: user,
        source: src.parse().unwrap(),
        twilio_account_sid: sid,
    }
}

fn twilio() -> TwilioSettings {
    TwilioSettings {
        signaling_ranges: vec!["54.172.60.0/30".parse().unwrap()],
    }
}

fn admit(table: &TrunkTable, f: &OutboundFacts) -> Result<u128, Rejection> {
    admit_outbound(table, &twilio(), f).map(|a| a.trunk.trunk_id.as_u128())
}

#[test]
fn domain_match_is_case_insensitive_and_checks_auth() {
    let t = TrunkTable::new(&[
        trunk(
            1,
            Some("pbx1.example.com"),
            &[(AuthSource::Other, "192.0.2.0/24")],
        ),
        trunk(2, None, &[(AuthSource::Other, "0.0.0.0/0")]),
    ]);
    assert_eq!(
        admit(
            &t,
            &facts("PBX1.Example.COM", Some("+14155550100"), "192.0.2.7", None)
        ),
        Ok(1)
    );
    // Domain matched, wrong source: refused even though trunk 2 would admit the source.
    assert_eq!(
        admit(
            &t,
            &facts("pbx1.example.com", Some("+1"), "198.51.100.1", None)
        ),
        Err(Rejection::AuthFailed)
    );
    // Unknown host: matched by source among null-domain trunks.
    assert_eq!(
        admit(&t, &facts("127.0.0.1", Some("+1"), "198.51.100.1", None)),
        Ok(2)
    );
}

#[test]
fn null_domain_trunks_by_source_in_config_order_v4_and_v6() {
    let t = TrunkTable::new(&[
        trunk(1, None, &[(AuthSource::Other, "10.0.0.0/8")]),
        trunk(
            2,
            None,
            &[
                (AuthSource::Other, "10.1.0.0/16"),
                (AuthSource::Other, "2001:db8::/32"),
            ],
        ),
        trunk(3, None, &[(AuthSource::Other, "203.0.113.9")]),
    ]);
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "10.1.2.3", None)),
        Ok(1),
        "first in config order"
    );
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "2001:db8::5", None)),
        Ok(2)
    );
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "203.0.113.9", None)),
        Ok(3)
    );
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "::ffff:203.0.113.9", None)),
        Ok(3),
        "v4-mapped source"
    );
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "203.0.113.10", None)),
        Err(Rejection::NoTrunk)
    );
    assert_eq!(
        admit(&t, &facts("x", Some("1"), "2001:db9::1", None)),
        Err(Rejection::NoTrunk)
    );
}

#[test]
fn twilio_needs_sid_and_range() {
    let t = TrunkTable::new(&[trunk(
        1,
        Some("tw.example.com"),
        &[(AuthSource::Twilio, SID)],
    )]);
    assert_eq!(
        admit(
            &t,
            &facts("tw.example.com", Some("+1"), "54.172.60.1", Some(SID))
        ),
        Ok(1)
    );
    assert_eq!(
        admit(
            &t,
            &facts("tw.example.com", Some("+1"), "198.51.100.1", Some(SID))
        ),
        Err(Rejection::AuthFailed),
        "right SID, wrong source"
    );
    let other = "AC00000000000000000000000000000000";
    assert_eq!(
        admit(
            &t,
            &facts("tw.example.com", Some("+1"), "54.172.60.1", Some(other))
        ),
        Err(Rejection::AuthFailed),
        "wrong SID, right source"
    );
    assert_eq!(
        admit(
            &t,
            &facts("tw.example.com", Some("+1"), "54.172.60.1", None)
        ),
        Err(Rejection::AuthFailed)
    );
    // Mixed list: either entry admits.
    let t = TrunkTable::new(&[trunk(
        1,
        Some("m.example.com"),
        &[(AuthSource::Twilio, SID), (AuthSource::Other, "192.0.2.1")],
    )]);
    assert_eq!(
        admit(&t, &facts("m.example.com", Some("+1"), "192.0.2.1", None)),
        Ok(1)
    );
    assert_eq!(
        admit(
            &t,
            &facts("m.example.com", Some("+1"), "54.172.60.2", Some(SID))
        ),
        Ok(1)
    );
}

#[test]
fn inactive_trunk_and_undialable_numbers() {
    let mut tr = trunk(1, None, &[(AuthSource::Other, "127.0.0.0/8")]);
    tr.status = TrunkStatus::Inactive;
    let t = TrunkTable::new(&[tr]);
    assert_eq!(
        admit(&t, &facts("h", Some("+1"), "127.0.0.1", None)),
        Err(Rejection::TrunkInactive)
    );
    let t = TrunkTable::new(&[trunk(1, None, &[(AuthSource::Other, "127.0.0.0/8")])]);
    for bad in [
        None,
        Some(""),
        Some("abc"),
        Some("+"),
        Some("1+2"),
        Some("123456789012345678901"),
    ] {
        assert_eq!(
            admit(&t, &facts("h", bad, "127.0.0.1", None)),
            Err(Rejection::NotDialable),
            "{bad:?}"
        );
    }
    assert_eq!(Rejection::NotDialable.code(), 484);
    assert_eq!(Rejection::AuthFailed.code(), 403);
}

#[test]
fn dialed_number_normalisation() {
    assert_eq!(
        normalize_dialed("+14155550100").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(
        normalize_dialed("+1-415-555-0100").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(
        normalize_dialed("+1 (415) 555.0100;phone-context=+1").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(normalize_dialed("0044207").as_deref(), Some("0044207"));
    assert_eq!(normalize_dialed("*67").as_deref(), None);
}

fn mask_contains(net: u32, prefix: u8, ip: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (net & mask) == (ip & mask)
}

proptest! {
    #[test]
    fn cidr_admission_matches_mask_arithmetic(net in any::<u32>(), prefix in 0u8..=32, ip in any::<u32>()) {
        let n = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(net), prefix).unwrap().trunc();
        let t = TrunkTable::new(&[trunk(1, None, &[(AuthSource::Other, &n.to_string())])]);
        let src = IpAddr::from(std::net::Ipv4Addr::from(ip)).to_string();
        let got = admit(&t, &facts("h", Some("1"), &src, None)).is_ok();
        prop_assert_eq!(got, mask_contains(net, prefix, ip));
    }

    #[test]
    fn v6_cidr_admission_matches_mask_arithmetic(net in any::<u128>(), prefix in 0u8..=128, ip in any::<u128>()) {
        let n = ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(net), prefix).unwrap().trunc();
        let t = TrunkTable::new(&[trunk(1, None, &[(AuthSource::Other, &n.to_string())])]);
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
        let addr = std::net::Ipv6Addr::from(ip);
        let expected = (net & mask) == (ip & mask)
            // a v4-mapped source is compared as IPv4 and never matches a v6 net
            && addr.to_ipv4_mapped().is_none();
        let got = admit(&t, &facts("h", Some("1"), &addr.to_string(), None)).is_ok();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn dialed_normalisation_never_panics_and_is_digits(s in ".{0,40}") {
        if let Some(d) = normalize_dialed(&s) {
            let digits = d.strip_prefix('+').unwrap_or(&d);
            prop_assert!(!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
