//! SDES-SRTP over real loopback sockets: a PBX leg speaking SRTP (RFC 3711,
//! keys in `a=crypto`, RFC 4568) bridged to a carrier speaking plain RTP,
//! audio checked after decryption both ways and in the pre-connect
//! recording; the per-leg policies (`media_encryption`, carriers' `srtp`)
//! refusing calls without usable crypto with 488. The test side encrypts and
//! decrypts with the same SRTP contexts the gateway uses (checked against
//! libsrtp's reference vectors in the unit tests).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use common::*;
use trunkgate::media::g711;
use trunkgate::media::srtp::{parse_crypto, Crypto, EndCrypto, KeyMaterial, LegKeys, Suite};
use trunkgate::sip::Message;

/// This binary's media ports: 63000-63999, 100 per gateway.
fn media_section(extra: &str) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    media_section_in(&NEXT, 63000, 100, 10, extra)
}

/// Config with the carrier's `srtp` and the trunk's `media_encryption`.
fn config(carrier: &Ua, srtp: &str, media_encryption: &str, store: &std::path::Path) -> String {
    config_text_in(&[(carrier.addr, "udp")], "127.0.0.0/8", store)
        .replace(
            "health_interval_s = 0\n",
            &format!("health_interval_s = 0\nsrtp = \"{srtp}\"\n"),
        )
        .replace(
            "description = \"test trunk\"\n",
            &format!("description = \"test trunk\"\nmedia_encryption = \"{media_encryption}\"\n"),
        )
}

/// An SDP offer at `addr`: `RTP/SAVP` with one `a=crypto` line when given.
fn sdp(addr: SocketAddr, crypto: Option<&Crypto>) -> String {
    let (proto, line) = match crypto {
        Some(c) => ("RTP/SAVP", format!("a=crypto:{}\r\n", c.line())),
        None => ("RTP/AVP", String::new()),
    };
    let attrs = format!(
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n{line}"
    );
    sdp_body(addr, "pbx 1 1", "audio", &format!("{proto} 0 101"), &attrs)
}

fn m_line(body: &[u8]) -> String {
    sdp_line(body, "m=audio")
}

fn cryptos(body: &[u8]) -> Vec<Crypto> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("a=crypto:"))
        .filter_map(parse_crypto)
        .collect()
}

/// A gateway on [`config`] (its store in a fresh `what` directory) with a `[media]` section.
async fn srtp_gateway(carrier: &Ua, srtp: &str, media_encryption: &str, what: &str) -> Gw {
    let text = config(carrier, srtp, media_encryption, &temp_dir(what));
    start(&format!("{text}{}", media_section(""))).await
}

async fn pbx_invite(gw: &Gw, pbx: &Ua, id: &str, body: &str) {
    pbx.send_invite_sdp(gw.udp, id, DIALED, &format!("z9hG4bK{id}"), body)
        .await;
}

fn rtp(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Up to `max` datagrams until `quiet` passes without one.
async fn drain(sock: &RtpPeer, quiet: Duration, max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while out.len() < max {
        match tokio::time::timeout(quiet, sock.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => out.push(buf[..n].to_vec()),
            _ => break,
        }
    }
    out
}

fn pcm(payloads: &[Vec<u8>]) -> Vec<i16> {
    payloads
        .iter()
        .flat_map(|p| p.iter().map(|b| g711::ulaw_decode(*b)))
        .collect()
}

#[tokio::test]
async fn srtp_pbx_leg_bridged_to_rtp_carrier_both_ways_and_recorded_in_clear() {
    let carrier = Ua::new().await;
    let store = temp_dir("srtp-bridge");
    let rec_dir = store.join("rec");
    let text = config(&carrier, "off", "optional", &store).replace(
        "fax_support = \"disabled\"\n",
        "fax_support = \"disabled\"\n\n[trunks.recording]\nsetting = \"pre_connect\"\n",
    );
    let gw = start(&format!(
        "{text}{}",
        media_section(&format!("recordings_dir = \"{}\"", rec_dir.display()))
    ))
    .await;
    let (pbx, pbx_rtp, car_rtp) = (Ua::new().await, RtpPeer::new().await, RtpPeer::new().await);
    let pbx_key = Crypto {
        tag: 1,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap(),
    };
    pbx_invite(&gw, &pbx, "s-1", &sdp(pbx_rtp.addr, Some(&pbx_key))).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    // The carrier (srtp = off) is offered plain RTP and never sees a key.
    assert!(
        m_line(inv.body()).contains(" RTP/AVP "),
        "{}",
        m_line(inv.body())
    );
    assert!(!String::from_utf8_lossy(inv.body()).contains("a=crypto"));
    let b_relay = sdp_target(inv.body());
    let answer = sdp(car_rtp.addr, None).replace("o=pbx", "o=car");
    carrier
        .answer_with(gw.udp, &inv, "car", "carrier", &answer)
        .await;
    let ok: Message = pbx.wait_response(200).await;
    carrier.expect_request("ACK").await;
    // The PBX gets RTP/SAVP and our own key for its tag and suite.
    assert!(
        m_line(ok.body()).contains(" RTP/SAVP "),
        "{}",
        m_line(ok.body())
    );
    let gw_keys = cryptos(ok.body());
    assert_eq!(gw_keys.len(), 1);
    assert_eq!(
        (gw_keys[0].tag, gw_keys[0].key.suite),
        (1, Suite::AesCm128HmacSha1_80)
    );
    assert_ne!(gw_keys[0].key, pbx_key.key);
    let a_relay = sdp_target(ok.body());
    let mut pbx_crypto = EndCrypto::new(LegKeys {
        rx: gw_keys[0].key.clone(),
        tx: pbx_key.key.clone(),
    })
    .unwrap();

    // PBX -> carrier: 1 kHz, encrypted; the carrier hears it in clear.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..30u16 {
        tick.tick().await;
        let clear = rtp(
            i,
            160 * u32::from(i),
            0xA,
            &pcmu_sine(1000.0, 160 * u64::from(i)),
        );
        let enc = pbx_crypto.protect(&clear, false).unwrap();
        pbx_rtp.sock.send_to(&enc, a_relay).await.unwrap();
    }
    // A forged packet (bad auth tag) and a replay are dropped, not relayed.
    let mut forged = pbx_crypto
        .protect(&rtp(30, 4800, 0xA, &[0xff; 160]), false)
        .unwrap()
        .to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    pbx_rtp.sock.send_to(&forged, a_relay).await.unwrap();
    let got = drain(&car_rtp, Duration::from_millis(300), 100).await;
    assert_eq!(
        got.len(),
        30,
        "every authentic packet relayed, the forged one dropped"
    );
    let payloads: Vec<Vec<u8>> = got.iter().map(|p| p[12..].to_vec()).collect();
    assert!(
        payloads.iter().all(|p| p.len() == 160),
        "clear G.711, no auth tag"
    );
    let heard = pcm(&payloads);
    assert!(goertzel(&heard, 1000.0) > 100.0 * goertzel(&heard, 400.0).max(1e-3));

    // Carrier -> PBX: 400 Hz in clear; the PBX gets SRTP it can decrypt.
    for i in 0..30u16 {
        tick.tick().await;
        let clear = rtp(
            3000 + i,
            55_000 + 160 * u32::from(i),
            0xB,
            &pcmu_sine(400.0, 160 * u64::from(i)),
        );
        car_rtp.sock.send_to(&clear, b_relay).await.unwrap();
    }
    let got = drain(&pbx_rtp, Duration::from_millis(300), 100).await;
    assert_eq!(got.len(), 30);
    let mut payloads = Vec::new();
    for mut p in got {
        assert_eq!(p.len(), 12 + 160 + 10, "SRTP with an 80-bit tag");
        let n = pbx_crypto.unprotect(&mut p, false).expect("authentic SRTP");
        payloads.push(p[12..n].to_vec());
    }
    let heard = pcm(&payloads);
    assert!(goertzel(&heard, 400.0) > 100.0 * goertzel(&heard, 1000.0).max(1e-3));
    let m = metrics(gw.http).await;
    assert!(
        metric_value(
            &m,
            "trunkgate_media_packets_dropped_total{reason=\"srtp_auth\"}"
        ) >= 1.0,
        "forged packet counted"
    );

    // Hang up; the recording holds the decrypted audio on each side's channel.
    hang_up(&pbx, gw.udp, &carrier, &ok).await;
    gw.gw.shutdown().await;
    let rec = call_record(&store, "s-1")
        .recording
        .expect("recording in the call log");
    let Wav { left, right, .. } = Wav::finished(&rec.path).await;
    // Caller channel: the PBX's 1 kHz (decrypted); callee channel: the carrier's 400 Hz.
    assert!(tone(&left, 0.05, 0.5, 1000.0) > 100.0 * tone(&left, 0.05, 0.5, 400.0).max(1e-3));
    assert!(tone(&right, 0.7, 1.1, 400.0) > 100.0 * tone(&right, 0.7, 1.1, 1000.0).max(1e-3));
}

#[tokio::test]
async fn required_media_encryption_without_crypto_gets_488() {
    let carrier = Ua::new().await;
    let gw = srtp_gateway(&carrier, "off", "required", "srtp-required").await;
    let (pbx, pbx_rtp) = (Ua::new().await, RtpPeer::new().await);
    pbx_invite(&gw, &pbx, "s-2", &sdp(pbx_rtp.addr, None)).await;
    let resp = pbx.wait_response(488).await;
    assert_eq!(resp.code(), Some(488));
    assert!(
        carrier.hears_nothing(Duration::from_millis(300)).await,
        "the carrier is never called"
    );
    // A crypto line of a suite we do not speak is no usable offer either.
    let bogus = sdp(pbx_rtp.addr, None).replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    pbx_invite(&gw, &pbx, "s-3", &bogus).await;
    pbx.wait_response(488).await;
    gw.gw.shutdown().await;
}

#[tokio::test]
async fn carrier_requiring_srtp_is_offered_keys_and_a_plain_answer_is_refused() {
    let carrier = Ua::new().await;
    let gw = srtp_gateway(&carrier, "required", "optional", "srtp-carrier").await;
    let (pbx, pbx_rtp, car_rtp) = (Ua::new().await, RtpPeer::new().await, RtpPeer::new().await);
    // A plain-RTP PBX: the carrier still gets SRTP with all our suites.
    pbx_invite(&gw, &pbx, "s-4", &sdp(pbx_rtp.addr, None)).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    assert!(m_line(inv.body()).contains(" RTP/SAVP "));
    let offered: Vec<Suite> = cryptos(inv.body()).iter().map(|c| c.key.suite).collect();
    assert_eq!(
        offered,
        [
            Suite::AesCm128HmacSha1_80,
            Suite::AesCm128HmacSha1_32,
            Suite::AeadAes128Gcm
        ]
    );
    let answer = sdp(car_rtp.addr, None).replace("o=pbx", "o=car");
    carrier
        .answer_with(gw.udp, &inv, "car", "carrier", &answer)
        .await;
    let resp = pbx.wait_response(488).await;
    assert_eq!(resp.code(), Some(488));
    carrier.wait_request("BYE").await;
    gw.gw.shutdown().await;
}
