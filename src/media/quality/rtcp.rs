//! What an endpoint says in RTCP about the media it receives: the report
//! block of an RFC 3550 §6.4 sender or receiver report, and the RFC 3611
//! §4.7 VoIP Metrics block of an extended report. Read in place from the
//! compound packet the relay forwards; nothing allocates.

/// The last report an endpoint sent about one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Far {
    /// Report blocks read (SR/RR).
    pub reports: u32,
    /// RFC 3550 §6.4.1 fraction lost since the previous report, /256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Interarrival jitter in timestamp units.
    pub jitter_ts: u32,
    pub xr: Option<XrVoip>,
}

/// RFC 3611 §4.7 VoIP Metrics (raw field values; 127 means unavailable for
/// R factor and MOS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XrVoip {
    /// Fraction of packets lost, /256.
    pub loss_rate: u8,
    /// Fraction of packets discarded (late or early), /256.
    pub discard_rate: u8,
    pub round_trip_ms: u16,
    pub end_system_delay_ms: u16,
    pub r_factor: u8,
    /// MOS × 10.
    pub mos_lq: u8,
    pub mos_cq: u8,
}

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_XR: u8 = 207;
const XR_VOIP_METRICS: u8 = 7;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Reads every report of a compound RTCP packet into `far`: the report
/// block about `want` (the SSRC the endpoint receives from us) when there
/// is one, else the first block. Malformed packets are read as far as they
/// are well-formed.
pub fn parse(pkt: &[u8], want: Option<u32>, far: &mut Far) {
    let mut off = 0usize;
    // A compound packet holds a handful of reports; bound the walk anyway.
    for _ in 0..16 {
        let Some(words) = be16(pkt, off + 2) else {
            return;
        };
        let first = pkt[off];
        if first >> 6 != 2 {
            return;
        }
        let end = off + (usize::from(words) + 1) * 4;
        let Some(body) = pkt.get(off..end) else {
            return;
        };
        let count = usize::from(first & 0x1f);
        match body[1] {
            PT_SR => report_blocks(body, 28, count, want, far),
            PT_RR => report_blocks(body, 8, count, want, far),
            PT_XR => xr_blocks(body, want, far),
            _ => {}
        }
        off = end;
        if off >= pkt.len() {
            return;
        }
    }
}

fn report_blocks(body: &[u8], start: usize, count: usize, want: Option<u32>, far: &mut Far) {
    let blocks = (0..count).filter_map(|i| body.get(start + 24 * i..start + 24 * (i + 1)));
    let mut chosen = None;
    for b in blocks {
        let ssrc = be32(b, 0);
        if chosen.is_none() || (want.is_some() && ssrc == want) {
            chosen = Some(b);
            if want.is_some() && ssrc == want {
                break;
            }
        }
    }
    let Some(b) = chosen else { return };
    let lost24 = (u32::from(b[5]) << 16) | (u32::from(b[6]) << 8) | u32::from(b[7]);
    // Sign-extend the 24-bit cumulative count.
    let cumulative = ((lost24 << 8) as i32) >> 8;
    far.reports = far.reports.saturating_add(1);
    far.fraction_lost = b[4];
    far.cumulative_lost = cumulative;
    far.jitter_ts = be32(b, 12).unwrap_or(0);
}

fn xr_blocks(body: &[u8], want: Option<u32>, far: &mut Far) {
    let mut off = 8usize;
    for _ in 0..16 {
        let (Some(&bt), Some(words)) = (body.get(off), be16(body, off + 2)) else {
            return;
        };
        let end = off + (usize::from(words) + 1) * 4;
        let Some(b) = body.get(off..end) else { return };
        if bt == XR_VOIP_METRICS && b.len() >= 36 {
            let ssrc = be32(b, 4);
            if want.is_none() || ssrc == want || far.xr.is_none() {
                far.xr = Some(XrVoip {
                    loss_rate: b[8],
                    discard_rate: b[9],
                    round_trip_ms: be16(b, 16).unwrap_or(0),
                    end_system_delay_ms: be16(b, 18).unwrap_or(0),
                    r_factor: b[24],
                    mos_lq: b[26],
                    mos_cq: b[27],
                });
            }
        }
        off = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RR from SSRC 9 with one block about `about`.
    pub(crate) fn rr(about: u32, fraction: u8, cumulative: i32, jitter: u32) -> Vec<u8> {
        let mut p = vec![0x81, PT_RR, 0, 7];
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(&about.to_be_bytes());
        p.push(fraction);
        p.extend_from_slice(&cumulative.to_be_bytes()[1..]);
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(&jitter.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p
    }

    #[test]
    fn reads_a_receiver_report_block() {
        let mut far = Far::default();
        parse(&rr(0x1111, 64, 12, 80), Some(0x1111), &mut far);
        assert_eq!(
            (
                far.reports,
                far.fraction_lost,
                far.cumulative_lost,
                far.jitter_ts
            ),
            (1, 64, 12, 80)
        );
        // 24-bit negative cumulative loss (duplicates) is sign-extended.
        parse(&rr(0x1111, 0, -3, 0), None, &mut far);
        assert_eq!((far.reports, far.cumulative_lost), (2, -3));
    }

    #[test]
    fn reads_sr_blocks_in_a_compound_packet_and_picks_the_wanted_ssrc() {
        // SR with two blocks (about 5 and about 7), then an SDES.
        let mut p = vec![0x82, PT_SR, 0, 18];
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(&[0; 20]);
        for (ssrc, frac) in [(5u32, 10u8), (7, 20)] {
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.push(frac);
            p.extend_from_slice(&[0, 0, 1]);
            p.extend_from_slice(&[0; 4]);
            p.extend_from_slice(&(u32::from(frac) * 2).to_be_bytes());
            p.extend_from_slice(&[0; 8]);
        }
        p.extend_from_slice(&[0x81, 202, 0, 1, 0, 0, 0, 9]);
        let mut far = Far::default();
        parse(&p, Some(7), &mut far);
        assert_eq!((far.fraction_lost, far.jitter_ts), (20, 40));
        parse(&p, Some(99), &mut far);
        assert_eq!((far.fraction_lost, far.jitter_ts), (10, 20));
    }

    #[test]
    fn reads_xr_voip_metrics_and_survives_truncation() {
        let mut p = vec![0x80, PT_XR, 0, 10];
        p.extend_from_slice(&9u32.to_be_bytes());
        let mut b = vec![XR_VOIP_METRICS, 0, 0, 8];
        b.extend_from_slice(&5u32.to_be_bytes());
        b.extend_from_slice(&[13, 3, 0, 0, 0, 0, 0, 0]); // loss, discard, densities, durations
        b.extend_from_slice(&120u16.to_be_bytes()); // round trip
        b.extend_from_slice(&40u16.to_be_bytes()); // end system delay
        b.extend_from_slice(&[0, 0, 0, 0, 88, 127, 41, 40, 0, 0]);
        b.extend_from_slice(&[0; 6]);
        assert_eq!(b.len(), 36);
        p.extend_from_slice(&b);
        let mut far = Far::default();
        parse(&p, Some(5), &mut far);
        assert_eq!(
            far.xr,
            Some(XrVoip {
                loss_rate: 13,
                discard_rate: 3,
                round_trip_ms: 120,
                end_system_delay_ms: 40,
                r_factor: 88,
                mos_lq: 41,
                mos_cq: 40,
            })
        );
        for cut in 0..p.len() {
            let mut f = Far::default();
            parse(&p[..cut], None, &mut f);
            assert_eq!((f.reports, f.xr), (0, None));
        }
        let mut junk = Far::default();
        parse(&[0xff; 64], None, &mut junk);
        assert_eq!(junk, Far::default());
    }
}
