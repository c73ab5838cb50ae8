//! Audio the gateway plays on a call-flow worker's command: WAV prompts,
//! rendered tones and in-band DTMF, prepared once as G.711 for the call's
//! codec and then sent 20 ms at a time by the relay ([`super::relay::Cmd::Play`]).

use std::sync::Arc;

use super::g711;
use super::tones::{Cadence, ToneGen};
use crate::sip::sdp::Codec;

/// Longest prompt we load (8 kHz samples): 10 minutes.
const MAX_SAMPLES: usize = 8000 * 600;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read WAV {path}: {source}")]
    Wav { path: String, source: hound::Error },
    #[error("WAV {0} is not integer PCM of 8 or 16 bits")]
    Format(String),
    #[error("DTMF digits must be 0-9 * # A-D (got {0:?})")]
    Digits(String),
}

/// A WAV file (PCM 8/16-bit, any rate, mono or stereo) as 8 kHz mono samples:
/// channels mixed, rate converted by linear interpolation (prompts, not music).
pub fn load_wav(path: &str) -> Result<Vec<i16>, PromptError> {
    let wav_err = |source| PromptError::Wav {
        path: path.to_string(),
        source,
    };
    let mut r = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = r.spec();
    if spec.sample_format != hound::SampleFormat::Int
        || !(spec.bits_per_sample == 8 || spec.bits_per_sample == 16)
        || spec.channels == 0
        || spec.sample_rate == 0
    {
        return Err(PromptError::Format(path.to_string()));
    }
    let ch = usize::from(spec.channels);
    let shift = 16 - spec.bits_per_sample;
    let max_in = (MAX_SAMPLES as u64 * u64::from(spec.sample_rate) / 8000) as usize * ch;
    let mut mono = Vec::new();
    let mut acc = 0i32;
    for (i, s) in r.samples::<i16>().take(max_in).enumerate() {
        acc += i32::from(s.map_err(wav_err)?) << shift;
        if i % ch == ch - 1 {
            mono.push((acc / ch as i32) as i16);
            acc = 0;
        }
    }
    if spec.sample_rate == 8000 {
        return Ok(mono);
    }
    let ratio = f64::from(spec.sample_rate) / 8000.0;
    let n = (mono.len() as f64 / ratio) as usize;
    Ok((0..n)
        .map(|i| {
            let x = i as f64 * ratio;
            let j = x as usize;
            let f = x - j as f64;
            let a = f64::from(mono[j]);
            let b = f64::from(*mono.get(j + 1).unwrap_or(&mono[j]));
            (a + (b - a) * f) as i16
        })
        .collect())
}

/// ITU-T Q.23 DTMF pairs (low, high Hz).
fn dtmf_pair(d: char) -> Option<(f64, f64)> {
    let (row, col) = match d.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((
        [697.0, 770.0, 852.0, 941.0][row],
        [1209.0, 1336.0, 1477.0, 1633.0][col],
    ))
}

/// In-band DTMF: each digit 100 ms of its pair, then 100 ms of silence (Q.24 timing).
pub fn dtmf_pcm(digits: &str) -> Result<Vec<i16>, PromptError> {
    let mut out = Vec::new();
    for d in digits.chars() {
        let (lo, hi) = dtmf_pair(d).ok_or_else(|| PromptError::Digits(digits.to_string()))?;
        for n in 0..800 {
            let t = f64::from(n) / 8000.0;
            let v = 6000.0
                * ((2.0 * std::f64::consts::PI * lo * t).sin()
                    + (2.0 * std::f64::consts::PI * hi * t).sin());
            out.push(v as i16);
        }
        out.extend(std::iter::repeat_n(0i16, 800));
    }
    Ok(out)
}

/// PCM as G.711 for the relay.
pub fn encode(pcm: &[i16], codec: Codec) -> Arc<[u8]> {
    let mut out = vec![0u8; pcm.len()];
    g711::encode(codec, pcm, &mut out);
    out.into()
}

/// `cycles` full cadences of a tone (at most a minute), as G.711.
pub fn tone_clip(cadence: &'static Cadence, codec: Codec, cycles: u32) -> Arc<[u8]> {
    let period_ms: u32 = cadence.segments.iter().map(|s| s.ms).sum();
    let frames = (u64::from(period_ms) * u64::from(cycles.max(1)) / 20).clamp(1, 3000) as usize;
    let mut g = ToneGen::new(cadence, codec);
    let mut out = Vec::with_capacity(frames * 160);
    for _ in 0..frames {
        let mut f = [0u8; 160];
        g.next_frame(&mut f);
        out.extend_from_slice(&f);
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_16k_stereo_wav_becomes_8k_mono() {
        let path = std::env::temp_dir().join(format!("tg-prompt-{}.wav", std::process::id()));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..16000 {
            w.write_sample(1000i16).unwrap();
            w.write_sample(3000i16).unwrap();
        }
        w.finalize().unwrap();
        let pcm = load_wav(path.to_str().unwrap()).unwrap();
        assert_eq!(pcm.len(), 8000);
        assert!(pcm.iter().all(|s| *s == 2000));
        let _ = std::fs::remove_file(&path);
        assert!(load_wav("/nonexistent/x.wav").is_err());
    }

    #[test]
    fn dtmf_digits_and_errors() {
        let pcm = dtmf_pcm("5#").unwrap();
        assert_eq!(pcm.len(), 3200);
        assert!(pcm[..800].iter().any(|s| s.unsigned_abs() > 5000));
        assert!(pcm[800..1600].iter().all(|s| *s == 0));
        assert!(dtmf_pcm("12x").is_err());
    }
}
