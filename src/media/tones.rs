//! Telephone tones the gateway plays itself: the localized ringback of the
//! early-media override and the busy tone of an inbound trunk at its limit.
//! Frequencies and cadences per country (ITU-T E.180 Supplement 2) are data in
//! `tones.toml`, parsed and checked once; [`ToneGen`] turns a cadence into
//! 20 ms G.711 frames, sample-accurate and phase-continuous, without
//! allocating. The country of a number comes from libphonenumber's metadata
//! (`phonenumber` crate).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::g711;
use crate::sip::sdp::Codec;

/// Which tone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToneKind {
    Ringback,
    Busy,
}

/// One step of a cadence: these frequencies (summed; none = silence) for `ms`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub ms: u32,
    pub hz: Vec<f64>,
}

/// A tone: its segments, repeated forever.
#[derive(Clone, Debug, PartialEq)]
pub struct Cadence {
    pub segments: Vec<Segment>,
    /// Samples (8 kHz) in one full cycle.
    period: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCountry {
    #[allow(dead_code)]
    name: String,
    ringback: Vec<Segment>,
    busy: Vec<Segment>,
}

struct Table {
    countries: HashMap<String, (Cadence, Cadence)>,
    default: (Cadence, Cadence),
}

const DATA: &str = include_str!("tones.toml");

/// Total level about -13 dBm0 (0.22 of full scale), shared by the frequencies of a segment.
const LEVEL: f64 = 0.22 * 32767.0;

fn cadence(segments: Vec<Segment>, what: &str) -> Result<Cadence, String> {
    if segments.is_empty() || segments.iter().all(|s| s.hz.is_empty()) {
        return Err(format!("{what}: needs at least one tone segment"));
    }
    for s in &segments {
        if !(1..=10_000).contains(&s.ms) {
            return Err(format!(
                "{what}: segment length {} ms outside 1..=10000",
                s.ms
            ));
        }
        if s.hz.iter().any(|f| !(*f > 0.0 && *f < 4000.0)) {
            return Err(format!("{what}: frequency outside 0..4000 Hz"));
        }
    }
    let period = segments.iter().map(|s| u64::from(s.ms) * 8).sum();
    Ok(Cadence { segments, period })
}

fn load() -> Result<Table, String> {
    let raw: HashMap<String, RawCountry> = toml::from_str(DATA).map_err(|e| e.to_string())?;
    let mut countries = HashMap::new();
    let mut default = None;
    for (cc, c) in raw {
        let pair = (
            cadence(c.ringback, &format!("{cc}.ringback"))?,
            cadence(c.busy, &format!("{cc}.busy"))?,
        );
        if cc == "default" {
            default = Some(pair);
        } else if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()) {
            countries.insert(cc, pair);
        } else {
            return Err(format!("{cc}: not an ISO 3166 alpha-2 code"));
        }
    }
    let default = default.ok_or("no [default] entry")?;
    Ok(Table { countries, default })
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    // The data is compiled in and checked by a unit test; a broken file falls back
    // to the ITU default alone rather than failing calls.
    T.get_or_init(|| {
        load().unwrap_or_else(|e| {
            tracing::error!(error = %e, "tones.toml invalid; using the ITU-T default tone only");
            let tone = |on, off| Cadence {
                segments: vec![
                    Segment {
                        ms: on,
                        hz: vec![425.0],
                    },
                    Segment {
                        ms: off,
                        hz: vec![],
                    },
                ],
                period: u64::from(on + off) * 8,
            };
            Table {
                countries: HashMap::new(),
                default: (tone(1000, 4000), tone(500, 500)),
            }
        })
    })
}

/// The tone of `country` (ISO alpha-2, any case); unknown or `None` -> the ITU-T default.
pub fn tone(country: Option<&str>, kind: ToneKind) -> &'static Cadence {
    let t = table();
    let pair = country
        .and_then(|c| t.countries.get(&c.to_ascii_uppercase()))
        .unwrap_or(&t.default);
    match kind {
        ToneKind::Ringback => &pair.0,
        ToneKind::Busy => &pair.1,
    }
}

/// The table has tones for this ISO alpha-2 code.
pub fn has_country(cc: &str) -> bool {
    table().countries.contains_key(&cc.to_ascii_uppercase())
}

/// ISO 3166 alpha-2 region of an E.164 number (`+` optional), from
/// libphonenumber's metadata. `None` for anything that is not a number of a
/// known region.
pub fn country_of_number(e164: &str) -> Option<String> {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = phonenumber::parse(None, format!("+{digits}")).ok()?;
    let id = n.country().id()?;
    Some(id.as_ref().to_string())
}

/// Generates a cadence as 20 ms G.711 frames (160 samples at 8 kHz).
pub struct ToneGen {
    cadence: &'static Cadence,
    codec: Codec,
    /// Absolute sample index: phase and cadence position derive from it.
    n: u64,
}

impl ToneGen {
    pub fn new(cadence: &'static Cadence, codec: Codec) -> ToneGen {
        ToneGen {
            cadence,
            codec,
            n: 0,
        }
    }

    /// The next 20 ms. A segment boundary may fall inside the frame.
    pub fn next_frame(&mut self, out: &mut [u8; 160]) {
        let mut pcm = [0i16; 160];
        let period = self.cadence.period.max(1);
        for s in pcm.iter_mut() {
            let mut pos = self.n % period;
            let mut seg = None;
            for g in &self.cadence.segments {
                let len = u64::from(g.ms) * 8;
                if pos < len {
                    seg = Some(g);
                    break;
                }
                pos -= len;
            }
            if let Some(g) = seg.filter(|g| !g.hz.is_empty()) {
                let t = self.n as f64 / 8000.0;
                let amp = LEVEL / g.hz.len() as f64;
                let v: f64 =
                    g.hz.iter()
                        .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                        .sum();
                *s = (v * amp) as i16;
            }
            self.n += 1;
        }
        g711::encode(self.codec, &pcm, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goertzel(pcm: &[i16], freq: f64) -> f64 {
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in pcm {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (pcm.len() as f64).powi(2)
    }

    /// `frames` frames of the tone, decoded back to PCM.
    fn render(cc: &str, kind: ToneKind, codec: Codec, frames: usize) -> Vec<i16> {
        let mut g = ToneGen::new(tone(Some(cc), kind), codec);
        let mut pcm = Vec::new();
        for _ in 0..frames {
            let mut f = [0u8; 160];
            g.next_frame(&mut f);
            let mut d = [0i16; 160];
            g711::decode(codec, &f, &mut d);
            pcm.extend_from_slice(&d);
        }
        pcm
    }

    #[test]
    fn the_table_parses_and_is_complete() {
        let t = load().expect("tones.toml is valid");
        assert!(t.countries.len() >= 40, "{} countries", t.countries.len());
        for cc in ["US", "GB", "DE", "FR", "JP", "AU", "BR", "IN", "CN", "ZA"] {
            assert!(has_country(cc), "{cc}");
        }
        assert!(has_country("gb") && !has_country("XX"));
        assert_eq!(tone(Some("XX"), ToneKind::Ringback), &t.default.0);
        assert_eq!(tone(None, ToneKind::Busy).segments[0].hz, vec![425.0]);
    }

    #[test]
    fn countries_of_numbers() {
        assert_eq!(country_of_number("+14155550100").as_deref(), Some("US"));
        assert_eq!(country_of_number("+442079460000").as_deref(), Some("GB"));
        assert_eq!(country_of_number("4930123456").as_deref(), Some("DE"));
        assert_eq!(country_of_number("+33142685300").as_deref(), Some("FR"));
        assert_eq!(country_of_number("+81312345678").as_deref(), Some("JP"));
        for bad in ["", "+", "abc", "+1-415", "+9999999999999999999"] {
            assert_eq!(country_of_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_tones_have_the_tables_frequencies() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            // The first 300 ms of each is "on".
            let us = render("US", ToneKind::Ringback, codec, 15);
            assert!(goertzel(&us, 440.0) > 100.0 * goertzel(&us, 1000.0));
            assert!(goertzel(&us, 480.0) > 100.0 * goertzel(&us, 1000.0));
            let gb = render("GB", ToneKind::Ringback, codec, 15);
            assert!(goertzel(&gb, 400.0) > 100.0 * goertzel(&gb, 620.0));
            assert!(goertzel(&gb, 450.0) > 100.0 * goertzel(&gb, 620.0));
            let de = render("DE", ToneKind::Busy, codec, 15);
            assert!(goertzel(&de, 425.0) > 100.0 * goertzel(&de, 480.0));
            let us_busy = render("US", ToneKind::Busy, codec, 15);
            assert!(goertzel(&us_busy, 620.0) > 100.0 * goertzel(&us_busy, 440.0));
        }
    }

    /// On/off runs measured in 1 ms windows of the decoded output.
    fn runs(pcm: &[i16]) -> Vec<(bool, usize)> {
        let mut out: Vec<(bool, usize)> = Vec::new();
        for w in pcm.chunks(8) {
            let on = w.iter().any(|s| s.unsigned_abs() > 200);
            match out.last_mut() {
                Some((o, n)) if *o == on => *n += 1,
                _ => out.push((on, 1)),
            }
        }
        out
    }

    #[test]
    fn cadences_match_the_table_within_a_packet() {
        for (cc, kind) in [
            ("GB", ToneKind::Ringback),
            ("US", ToneKind::Busy),
            ("ES", ToneKind::Busy),
            ("RO", ToneKind::Busy),
        ] {
            let c = tone(Some(cc), kind);
            let frames = (c.period * 2 / 160 + 1) as usize;
            let r = runs(&render(cc, kind, Codec::Pcmu, frames));
            // Two full cycles: every run but the last matches its segment (±20 ms).
            let expect: Vec<(bool, u32)> = c
                .segments
                .iter()
                .chain(c.segments.iter())
                .map(|s| (!s.hz.is_empty(), s.ms))
                .collect();
            for (i, ((on, ms), (got_on, got_ms))) in expect.iter().zip(&r).enumerate() {
                if i + 1 == r.len() {
                    break;
                }
                assert_eq!(on, got_on, "{cc} {kind:?} run {i}");
                assert!(
                    (*got_ms as i64 - i64::from(*ms)).abs() <= 20,
                    "{cc} {kind:?} run {i}: {got_ms} ms vs {ms} ms"
                );
            }
        }
    }
}
