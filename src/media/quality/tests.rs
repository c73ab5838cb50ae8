//! The tracker's arithmetic against sequences worked out by hand.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// Feeds `seqs` (SSRC 1, 20 ms apart, timestamps following the sequence numbers).
fn rx_of(seqs: &[u16]) -> Rx {
    let mut rx = Rx::default();
    for (i, &s) in seqs.iter().enumerate() {
        let ts = u32::from(s).wrapping_mul(160);
        rx.packet(s, ts, 1, 20_000 * i as u64 + 1, 8000, true);
    }
    rx
}

fn counts(rx: &Rx) -> (u64, u64, u64, u64, u64, u64) {
    (
        rx.expected(),
        rx.received(),
        rx.lost(),
        rx.duplicates(),
        rx.out_of_order(),
        rx.burst(),
    )
}

#[test]
fn in_order_stream_loses_nothing() {
    let seqs: Vec<u16> = (100..110).collect();
    assert_eq!(counts(&rx_of(&seqs)), (10, 10, 0, 0, 0, 0));
}

#[test]
fn gaps_are_losses_and_the_longest_run_is_the_burst() {
    // 0..=9 with 3, 4, 7, 8 missing: 4 lost, longest run 2.
    assert_eq!(counts(&rx_of(&[0, 1, 2, 5, 6, 9])), (10, 6, 4, 0, 0, 2));
    // Runs of 1, 3 and 2: burst 3.
    assert_eq!(counts(&rx_of(&[10, 12, 16, 17, 20])), (11, 5, 6, 0, 0, 3));
}

#[test]
fn sequence_wrap_at_65535_continues_the_count() {
    // 65533, 65534, 65535, 0, 1, (2 lost), 3: 7 expected, 1 lost.
    let rx = rx_of(&[65533, 65534, 65535, 0, 1, 3]);
    assert_eq!(counts(&rx), (7, 6, 1, 0, 0, 1));
    // Many wraps: 3 × 65536 packets, every 100th lost.
    let mut rx = Rx::default();
    let mut sent = 0u64;
    for n in 0..3 * 65536u64 {
        if n % 100 != 50 {
            rx.packet(n as u16, (n * 160) as u32, 9, n * 20_000 + 1, 8000, true);
            sent += 1;
        }
    }
    assert_eq!(rx.expected(), 3 * 65536);
    assert_eq!(rx.received(), sent);
    assert_eq!(rx.lost(), 3 * 65536 - sent);
    assert_eq!(rx.burst(), 1);
}

#[test]
fn reordered_and_duplicated_packets_are_not_losses() {
    // 3 arrives after 4: out of order, nothing lost.
    assert_eq!(counts(&rx_of(&[1, 2, 4, 3, 5])), (5, 5, 0, 0, 1, 0));
    // Duplicates of the newest and of an older packet.
    assert_eq!(counts(&rx_of(&[1, 2, 2, 3, 3, 1, 3])), (3, 3, 0, 4, 0, 0));
    // Reordered across the wrap.
    assert_eq!(counts(&rx_of(&[65534, 0, 65535, 1])), (4, 4, 0, 0, 1, 0));
    // The very first packet overtaken: the stream starts one earlier.
    assert_eq!(counts(&rx_of(&[11, 10, 12])), (3, 3, 0, 0, 1, 0));
    // Late by 100 (the RFC 3550 misorder limit) still fills its gap.
    let mut seqs: Vec<u16> = (0..=200).filter(|s| *s != 100).collect();
    seqs.push(100);
    assert_eq!(counts(&rx_of(&seqs)), (201, 201, 0, 0, 1, 0));
}

/// Found by the `rtp` fuzz target: a late packet from before a wrap the source
/// made before its first packet reached us (65530 after 5) underflowed the
/// extended sequence numbers.
#[test]
fn a_late_packet_from_before_the_first_wrap_counts_as_reordered() {
    // 65530, 65531 … 65535, 0 … 5: 12 expected; 65530 and 6..=5 arrive.
    assert_eq!(counts(&rx_of(&[5, 65530])), (12, 2, 10, 0, 1, 10));
    let later = rx_of(&[5, 65530, 6, 7]);
    assert_eq!(later.expected(), 14);
    assert_eq!(later.received(), 4);
}

#[test]
fn a_long_gap_is_one_burst() {
    assert_eq!(counts(&rx_of(&[0, 300, 301])), (302, 3, 299, 0, 0, 299));
    assert_eq!(counts(&rx_of(&[0, 1, 130, 131])), (132, 4, 128, 0, 0, 128));
}

#[test]
fn a_restarted_sender_is_confirmed_by_its_second_packet() {
    // A jump beyond MAX_DROPOUT: the first packet after it is held back,
    // the second confirms the restart; nothing counts as lost.
    let rx = rx_of(&[0, 1, 2, 40000, 40001, 40002]);
    assert_eq!((rx.expected(), rx.received(), rx.lost()), (5, 5, 0));
    // A single stray packet far away is ignored.
    let rx = rx_of(&[0, 1, 2, 40000, 3, 4]);
    assert_eq!((rx.expected(), rx.received(), rx.lost()), (5, 5, 0));
}

#[test]
fn a_new_ssrc_starts_a_new_count() {
    let mut rx = Rx::default();
    for s in 0..5u16 {
        rx.packet(s, 0, 0xA, 1, 8000, false);
    }
    for s in [1000u16, 1001, 1003] {
        rx.packet(s, 0, 0xB, 1, 8000, false);
    }
    assert_eq!((rx.expected(), rx.received(), rx.lost()), (9, 8, 1));
}

#[test]
fn jitter_follows_rfc_3550_a8_by_hand() {
    // 8 kHz, 160 samples (20 ms) apart; arrivals at 0, 20, 45, 60 ms.
    let mut rx = Rx::default();
    for (i, at) in [0u64, 20_000, 45_000, 60_000].into_iter().enumerate() {
        rx.packet(i as u16, 1000 + 160 * i as u32, 1, at + 1, 8000, true);
    }
    // D = 0, +5 ms, -5 ms: J = 0 -> 312.5 µs -> 312.5 + (5000 - 312.5)/16 = 605.5 µs.
    assert_eq!(rx.jitter_us(), 605);
    // In timestamp units at 8 kHz: 605 µs = 4.84 -> 4.
    assert_eq!(rx.jitter_ts(), 4);
    // Perfectly paced packets with a timestamp wrap keep the jitter at 0.
    let mut rx = Rx::default();
    for i in 0..50u32 {
        let ts = (u32::MAX - 800).wrapping_add(160 * i);
        rx.packet(i as u16, ts, 1, u64::from(i) * 20_000 + 1, 8000, true);
    }
    assert_eq!(rx.jitter_us(), 0);
    // 48 kHz clock: 960 samples per 20 ms; arrivals 2 ms late every other packet.
    let mut rx = Rx::default();
    let mut want = 0f64;
    for i in 0..20u64 {
        let late = if i % 2 == 1 { 2000 } else { 0 };
        rx.packet(
            i as u16,
            (i * 960) as u32,
            1,
            i * 20_000 + late + 1,
            48000,
            true,
        );
        if i > 0 {
            want += (2000.0 - want) / 16.0;
        }
    }
    assert!(
        (rx.jitter_us() as f64 - want).abs() <= 2.0,
        "{} vs {want}",
        rx.jitter_us()
    );
}

#[test]
fn duplicates_and_events_do_not_move_the_jitter() {
    let mut rx = Rx::default();
    rx.packet(0, 0, 1, 1, 8000, true);
    rx.packet(1, 160, 1, 20_001, 8000, true);
    rx.packet(1, 160, 1, 35_001, 8000, true); // duplicate, late
    rx.packet(2, 320, 1, 40_001, 8000, false); // RFC 4733 event: no transit
    rx.packet(3, 480, 1, 60_001, 8000, true);
    assert_eq!(rx.jitter_us(), 0);
    assert_eq!(rx.duplicates(), 1);
}

fn pkt(seq: u16, ts: u32, ssrc: u32) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

#[test]
fn one_way_audio_is_flagged_once_after_the_silence() {
    let opts = QualityOptions {
        enabled: true,
        one_way_after: Some(Duration::from_secs(5)),
    };
    let mut q = Quality::new(opts);
    q.bridged();
    let t0 = Instant::now();
    q.answered(t0);
    let mut flagged = Vec::new();
    for i in 0..400u16 {
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        if let Some(ow) = q.rtp(0, Leg::Caller, &pkt(i, 160 * u32::from(i), 5), None, at) {
            flagged.push((i, ow));
        }
    }
    // 5 s = 250 packets of 20 ms after the answer; once only.
    assert_eq!(
        flagged,
        vec![(
            250,
            OneWay {
                flowing: Leg::Caller,
                latching: false
            }
        )]
    );
    let r = q.report(t0 + Duration::from_secs(8)).unwrap();
    assert_eq!(r.one_way_audio.as_deref(), Some("caller_to_callee"));
    assert_eq!(r.one_way_cause.as_deref(), Some("no_rtp"));
    assert_eq!(r.callee_to_caller.packets_received, 0);
    assert_eq!(r.callee_to_caller.mos, None);
    assert_eq!(r.callee_to_caller.max_silence_ms, 8000);
    assert_eq!(r.caller_to_callee.packets_received, 400);
    // Silence at the end of the caller's stream: 8 s - 7.98 s.
    assert_eq!(r.caller_to_callee.max_silence_ms, 20);
}

#[test]
fn latching_failures_name_the_cause_and_hold_pauses_the_watch() {
    let mut q = Quality::new(QualityOptions::default());
    q.bridged();
    let t0 = Instant::now();
    q.answered(t0);
    q.latch_failed(Leg::Callee);
    let ow = q.rtp(
        0,
        Leg::Caller,
        &pkt(1, 0, 5),
        None,
        t0 + Duration::from_secs(6),
    );
    assert_eq!(
        ow,
        Some(OneWay {
            flowing: Leg::Caller,
            latching: true
        })
    );
    let mut q = Quality::new(QualityOptions::default());
    q.bridged();
    q.answered(t0);
    q.hold(true, t0 + Duration::from_secs(1));
    assert_eq!(
        q.rtp(
            0,
            Leg::Caller,
            &pkt(1, 0, 5),
            None,
            t0 + Duration::from_secs(7)
        ),
        None
    );
    q.hold(false, t0 + Duration::from_secs(8));
    assert_eq!(
        q.rtp(
            0,
            Leg::Caller,
            &pkt(2, 0, 5),
            None,
            t0 + Duration::from_secs(12)
        ),
        None
    );
    assert!(q
        .rtp(
            0,
            Leg::Caller,
            &pkt(3, 0, 5),
            None,
            t0 + Duration::from_secs(13)
        )
        .is_some());
}

#[test]
fn rtcp_on_the_rtp_port_is_read_as_reports_not_counted_as_rtp() {
    let mut q = Quality::new(QualityOptions::default());
    let t0 = Instant::now();
    for i in 0..10u16 {
        q.rtp(0, Leg::Caller, &pkt(i, 160 * u32::from(i), 0x77), None, t0);
    }
    // The callee's RR (rtcp-mux) about the caller's SSRC: 25 % lost.
    let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 9];
    rr.extend_from_slice(&0x77u32.to_be_bytes());
    rr.extend_from_slice(&[64, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 80]);
    rr.extend_from_slice(&[0; 8]);
    q.rtp(0, Leg::Callee, &rr, None, t0);
    let r = q.report(t0).unwrap();
    assert_eq!(r.callee_to_caller.packets_received, 0);
    let far = r.caller_to_callee.endpoint_report.expect("RR kept");
    assert_eq!(
        (far.reports, far.fraction_lost_pct, far.cumulative_lost),
        (1, 25.0, 3)
    );
    assert_eq!(far.jitter_ms, Some(10.0));
}

#[test]
fn off_measures_nothing() {
    let mut q = Quality::new(QualityOptions {
        enabled: false,
        one_way_after: None,
    });
    assert_eq!(
        q.rtp(0, Leg::Caller, &pkt(1, 0, 5), None, Instant::now()),
        None
    );
    assert!(q.report(Instant::now()).is_none());
}

#[test]
fn the_state_is_small() {
    // Bytes a call's media task carries for quality tracking (README figure).
    assert!(
        std::mem::size_of::<Quality>() <= 576,
        "{}",
        std::mem::size_of::<Quality>()
    );
}

#[test]
fn audio_the_gateway_plays_or_a_call_without_callee_is_not_one_way() {
    let t0 = Instant::now();
    // A call-flow call: the caller talks to the gateway only.
    let mut q = Quality::new(QualityOptions::default());
    q.answered(t0);
    let late = t0 + Duration::from_secs(9);
    assert_eq!(q.rtp(0, Leg::Caller, &pkt(1, 0, 5), None, late), None);
    // Bridged, but the gateway plays a prompt to the caller meanwhile.
    let mut q = Quality::new(QualityOptions::default());
    q.bridged();
    q.answered(t0);
    q.generated(t0 + Duration::from_secs(4));
    let at8 = t0 + Duration::from_secs(8);
    assert_eq!(q.rtp(0, Leg::Caller, &pkt(1, 0, 5), None, at8), None);
    assert!(q.rtp(0, Leg::Caller, &pkt(2, 0, 5), None, late).is_some());
}
