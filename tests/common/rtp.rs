//! RTP on the test side: an in-process RTP endpoint on loopback, and the
//! tone generator and detector the media tests check audio with.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use trunkgate::sip::Message;

use super::{hang_up, sdp_at, sdp_target, Gw, Ua, UaDialog};

/// One RTP packet as a test peer sees it.
#[derive(Debug, Clone)]
pub struct RtpPkt {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
    pub from: SocketAddr,
    pub at: tokio::time::Instant,
}

/// An in-process RTP endpoint on loopback.
pub struct RtpPeer {
    pub sock: UdpSocket,
    pub addr: SocketAddr,
}

impl RtpPeer {
    pub async fn new() -> RtpPeer {
        Self::bind("127.0.0.1:0").await
    }

    pub async fn bind(addr: &str) -> RtpPeer {
        let (sock, addr) = super::bind_udp(addr).await;
        RtpPeer { sock, addr }
    }

    /// Sends one RTP packet (version 2, no CSRC/extension).
    pub async fn send(&self, to: SocketAddr, pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) {
        let mut p = vec![0x80, pt & 0x7f];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.sock.send_to(&p, to).await.expect("rtp send");
    }

    /// Sends a PCMU packet of `ssrc` carrying `payload` for each (sequence
    /// number, timestamp) of `packets`, back to back.
    pub async fn send_all(
        &self,
        to: SocketAddr,
        ssrc: u32,
        payload: &[u8],
        packets: impl IntoIterator<Item = (u16, u32)>,
    ) {
        for (seq, ts) in packets {
            self.send(to, 0, seq, ts, ssrc, payload).await;
        }
    }

    /// The next RTP packet within `within`.
    pub async fn recv_within(&self, within: Duration) -> Option<RtpPkt> {
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(within, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n < 12 {
            return None;
        }
        Some(RtpPkt {
            marker: buf[1] & 0x80 != 0,
            pt: buf[1] & 0x7f,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            payload: buf[12..n].to_vec(),
            from,
            at: tokio::time::Instant::now(),
        })
    }

    /// Whether no packet arrives within `within`.
    pub async fn hears_nothing(&self, within: Duration) -> bool {
        self.recv_within(within).await.is_none()
    }

    /// Every packet until `quiet` passes without one (at most `max`).
    pub async fn drain(&self, quiet: Duration, max: usize) -> Vec<RtpPkt> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.recv_within(quiet).await {
                Some(p) => out.push(p),
                None => break,
            }
        }
        out
    }
}

/// Goertzel power of `freq` Hz in 8 kHz PCM, normalised by length.
pub fn goertzel(pcm: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (pcm.len() as f64).powi(2)
}

/// 20 ms of a sine at `freq` Hz (amplitude 8000) starting at sample `start`, as PCMU.
pub fn pcmu_sine(freq: f64, start: u64) -> Vec<u8> {
    (0..160u64)
        .map(|i| {
            let t = (start + i) as f64 / 8000.0;
            let s = (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
            trunkgate::media::g711::ulaw_encode(s)
        })
        .collect()
}

/// A call through the gateway with media anchored, answered and ACKed on
/// both legs: the messages each side got and where each must send RTP.
pub struct MediaCall {
    pub gw: Gw,
    pub pbx: Ua,
    pub carrier: Ua,
    /// The carrier's INVITE and the PBX's 200.
    pub inv: Message,
    pub ok: Message,
    /// The PBX's Call-ID.
    pub id: String,
    /// Where the PBX must send media (our A side) and where the carrier must (our B side).
    pub a_relay: SocketAddr,
    pub b_relay: SocketAddr,
}

impl MediaCall {
    /// The carrier answers `inv` (the INVITE it got for the PBX's call
    /// `id`) 200 OK with media at `car_media` (To tag `car`); the PBX gets
    /// the 200 and ACKs it, the carrier gets the gateway's ACK.
    pub async fn answer(
        gw: Gw,
        pbx: Ua,
        carrier: Ua,
        inv: Message,
        id: &str,
        car_media: SocketAddr,
    ) -> MediaCall {
        let b_relay = sdp_target(inv.body());
        let answer = sdp_at(car_media, "car");
        carrier
            .answer_with(gw.udp, &inv, "car", "carrier", &answer)
            .await;
        let ok = pbx.wait_response(200).await;
        carrier.expect_request("ACK").await;
        pbx.send(gw.udp, &UaDialog::from_ok(&ok, pbx.addr).ack())
            .await;
        let a_relay = sdp_target(ok.body());
        MediaCall {
            gw,
            pbx,
            carrier,
            inv,
            ok,
            id: id.to_string(),
            a_relay,
            b_relay,
        }
    }

    /// The PBX hangs up ([`hang_up`]).
    pub async fn hang_up(&self) {
        hang_up(&self.pbx, self.gw.udp, &self.carrier, &self.ok).await;
    }
}

/// A stereo recording as the tests read it: its format, and its left
/// (caller) and right (callee) channels.
pub struct Wav {
    pub spec: hound::WavSpec,
    pub left: Vec<i16>,
    pub right: Vec<i16>,
}

impl Wav {
    /// The WAV at `path` once its writer has finalised it (more than 8000
    /// frames), polled for up to 2.5 s.
    pub async fn finished(path: impl AsRef<std::path::Path>) -> Wav {
        let path = path.as_ref();
        for _ in 0..50 {
            // The writer finalises the file off the call path.
            if let Ok(mut r) = hound::WavReader::open(path) {
                if r.duration() > 8000 {
                    let samples: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
                    return Wav {
                        spec: r.spec(),
                        left: samples.iter().step_by(2).copied().collect(),
                        right: samples.iter().skip(1).step_by(2).copied().collect(),
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no complete WAV at {}", path.display());
    }
}

/// The [`goertzel`] power of `freq` Hz in 8 kHz `pcm` from second `a` to second `b`.
pub fn tone(pcm: &[i16], a: f64, b: f64, freq: f64) -> f64 {
    goertzel(window(pcm, a, b), freq)
}

/// The samples of 8 kHz `pcm` from second `a` to second `b`.
pub fn window(pcm: &[i16], a: f64, b: f64) -> &[i16] {
    &pcm[(a * 8000.0) as usize..(b * 8000.0) as usize]
}
