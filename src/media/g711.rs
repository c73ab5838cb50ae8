//! ITU-T G.711 µ-law (PCMU) and A-law (PCMA), hand-written: the one crate
//! found had A-law errors on 897 inputs (DESIGN.md). Decoding is a 256-entry
//! table built at compile time; encoding is the segment search of G.711 §3.
//! Both are allocation-free and used on the packet path (tones, recording).

use crate::sip::sdp::Codec;

/// µ-law bias (G.711 §3.2: 33 in 14-bit units, 132 in 16-bit).
const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as µ-law.
pub fn ulaw_encode(s: i16) -> u8 {
    let mut x = i32::from(s);
    let sign = if x < 0 {
        x = -x;
        0x80
    } else {
        0
    };
    x = x.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment: position of the highest set bit above bit 7.
    let seg = (31 - (x as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (x >> (seg + 3)) & 0x0f;
    !(sign | (seg << 4) as u8 | mantissa as u8)
}

const fn ulaw_to_linear(b: u8) -> i16 {
    let u = !b;
    let seg = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    let mag = (((mantissa << 3) + ULAW_BIAS) << seg) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// Encodes one 16-bit linear sample as A-law (even bits inverted, G.711 §3.3).
pub fn alaw_encode(s: i16) -> u8 {
    let mut x = i32::from(s) >> 3; // 13-bit magnitude domain
    let sign = if x >= 0 {
        0x80
    } else {
        x = -x - 1;
        0
    };
    let x = x.min(0x0fff);
    let out = if x < 32 {
        (x >> 1) as u8
    } else {
        let seg = 31 - (x as u32).leading_zeros() as i32 - 4; // 1..=7
        ((seg << 4) | ((x >> seg) & 0x0f)) as u8
    };
    (out | sign) ^ 0x55
}

const fn alaw_to_linear(b: u8) -> i16 {
    let a = b ^ 0x55;
    let seg = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0f) as i32;
    let mag = if seg == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (seg - 1)
    };
    if a & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_to_linear(i as u8)
        } else {
            ulaw_to_linear(i as u8)
        };
        i += 1;
    }
    t
}

const ULAW: [i16; 256] = table(false);
const ALAW: [i16; 256] = table(true);

pub fn ulaw_decode(b: u8) -> i16 {
    ULAW[usize::from(b)]
}

pub fn alaw_decode(b: u8) -> i16 {
    ALAW[usize::from(b)]
}

/// Encodes `pcm` into `out` (as many samples as both hold).
pub fn encode(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    let f = match codec {
        Codec::Pcmu => ulaw_encode,
        Codec::Pcma => alaw_encode,
    };
    for (o, s) in out.iter_mut().zip(pcm) {
        *o = f(*s);
    }
}

/// Decodes `g711` into `out` (as many samples as both hold).
pub fn decode(codec: Codec, g711: &[u8], out: &mut [i16]) {
    let t = match codec {
        Codec::Pcmu => &ULAW,
        Codec::Pcma => &ALAW,
    };
    for (o, b) in out.iter_mut().zip(g711) {
        *o = t[usize::from(*b)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widely published decode tables (Sun g711.c, CPython audioop, …):
    /// A-law codes 0x00..0x38 and µ-law codes 0xd0..0xff, used as they are.
    const ALAW_REF: [i16; 56] = [
        -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528,
        -6272, -7040, -6784, -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648,
        -4032, -3904, -3264, -3136, -3520, -3392, -22016, -20992, -24064, -23040, -17920, -16896,
        -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, -11008,
        -10496, -12032, -11520, -8960, -8448, -9984, -9472,
    ];
    const ULAW_REF_TAIL: [i16; 48] = [
        876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460, 428, 396, 372, 356,
        340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132, 120, 112, 104, 96,
        88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
    ];

    #[test]
    fn decode_matches_the_reference_table() {
        for (i, v) in ALAW_REF.iter().enumerate() {
            assert_eq!(alaw_decode(i as u8), *v, "alaw {i:#04x}");
            assert_eq!(alaw_decode(i as u8 | 0x80), -*v, "alaw {:#04x}", i | 0x80);
        }
        for (i, v) in ULAW_REF_TAIL.iter().enumerate() {
            let b = 0xd0 + i as u8;
            assert_eq!(ulaw_decode(b), *v, "ulaw {b:#04x}");
            assert_eq!(ulaw_decode(b & 0x7f), -*v, "ulaw {:#04x}", b & 0x7f);
        }
        assert_eq!((ulaw_decode(0x00), ulaw_decode(0x80)), (-32124, 32124));
        assert_eq!((alaw_decode(0x55), alaw_decode(0xd5)), (-8, 8));
    }

    #[test]
    fn every_code_round_trips() {
        for b in 0..=255u8 {
            let u = ulaw_encode(ulaw_decode(b));
            // µ-law has two zeros (0x7f and 0xff): -0 encodes as +0.
            if b != 0x7f {
                assert_eq!(u, b, "ulaw {b:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(b)), b, "alaw {b:#04x}");
        }
    }

    #[test]
    fn extremes_and_monotonic() {
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xaa);
        assert_eq!(alaw_encode(i16::MIN), 0x2a);
        let mut last = i32::MIN;
        for s in (-32768i32..32768).step_by(7) {
            let d = i32::from(ulaw_decode(ulaw_encode(s as i16)));
            assert!(d >= last, "ulaw not monotonic at {s}");
            last = d;
        }
        let mut last = i32::MIN;
        for s in (-32768i32..32768).step_by(7) {
            let d = i32::from(alaw_decode(alaw_encode(s as i16)));
            assert!(d >= last, "alaw not monotonic at {s}");
            last = d;
        }
    }

    proptest::proptest! {
        /// Quantisation error stays within the segment's step (G.711 §3: 4 mantissa bits).
        #[test]
        fn error_within_the_segment_step(s in proptest::prelude::any::<i16>()) {
            let x = i32::from(s);
            let eu = (i32::from(ulaw_decode(ulaw_encode(s))) - x.clamp(-32635, 32635)).abs();
            let ea = (i32::from(alaw_decode(alaw_encode(s))) - x).abs();
            let step = (x.abs() / 16).max(16);
            proptest::prop_assert!(eu <= step, "ulaw {} err {}", s, eu);
            proptest::prop_assert!(ea <= step, "alaw {} err {}", s, ea);
        }
    }
}
