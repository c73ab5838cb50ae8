//! A real user agent through the gateway: baresip (Debian package, installed by
//! `.ci/run`) registers nothing, calls over SIP/TLS with mandatory SDES-SRTP
//! (`mediaenc=srtp-mand`) and sends a 1 kHz sine (its `ausine` source); the
//! gateway bridges it to a plain-RTP carrier leg over UDP played by a scripted
//! UA, which must hear the tone in clear. The carrier's RTP goes back to
//! baresip as SRTP, and baresip's RTCP receiver report (SRTCP, decrypted by
//! the gateway) must name the carrier's stream: baresip decrypted it.
//!
//! The certificate is generated at test time (rcgen, a test CA and a leaf for
//! 127.0.0.1); baresip verifies the gateway against that CA (`sip_cafile`).
//! baresip runs headless from a temporary config dir (`-f`), quits by itself
//! after `-t` seconds and is killed by PID when the test ends.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use trunkgate::media::g711;
use trunkgate::transport::TransportKind;

/// Writes `ca.pem`, `gw.pem` and `gw.key` (leaf for 127.0.0.1) into `dir`.
fn test_pki(dir: &Path) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "trunkgate baresip test CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().expect("leaf key");
    let cert = leaf.signed_by(&key, &ca).expect("leaf cert");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
    std::fs::write(dir.join("gw.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("gw.key"), key.serialize_pem()).expect("write key");
}

/// baresip's config dir: TLS with the test CA, SRTP module, a 1 kHz sine as
/// microphone (ausine runs at 48 kHz stereo only: baresip resamples to PCMU's
/// 8 kHz), no sound card (aubridge player), PCMU only. The account's
/// `transport=tls` makes every request go over TLS.
fn baresip_dir(dir: &Path, ca: &Path) {
    let config = format!(
        "poll_method\tepoll\n\
         net_interface\t127.0.0.1\n\
         sip_listen\t127.0.0.1:0\n\
         sip_cafile\t{ca}\n\
         module_path\t/usr/lib/baresip/modules\n\
         module\tg711.so\n\
         module\tausine.so\n\
         module\taubridge.so\n\
         module\tsrtp.so\n\
         module_app\taccount.so\n\
         module_app\tmenu.so\n\
         audio_source\tausine,1000\n\
         ausrc_srate\t48000\n\
         ausrc_channels\t2\n\
         audio_player\taubridge,nil\n\
         audio_alert\taubridge,nil\n",
        ca = ca.display()
    );
    std::fs::write(dir.join("config"), config).expect("write baresip config");
    std::fs::write(
        dir.join("accounts"),
        "<sip:+14155550001@127.0.0.1;transport=tls>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU\n",
    )
    .expect("write baresip accounts");
}

fn baresip_installed() -> bool {
    Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[tokio::test]
async fn baresip_over_tls_with_mandatory_srtp_talks_both_ways_with_a_plain_rtp_carrier() {
    assert!(
        baresip_installed(),
        "baresip is not installed (.ci/run installs the Debian package baresip-core)"
    );
    let dir = temp_dir("baresip");
    test_pki(&dir);
    let bs_dir = dir.join("baresip");
    std::fs::create_dir_all(&bs_dir).expect("baresip dir");
    baresip_dir(&bs_dir, &dir.join("ca.pem"));

    let carrier = Ua::new().await;
    let (car_rtp, car_rtcp) = (RtpPeer::new().await, RtpPeer::new().await);
    // The PBX leg must be SRTP (`required`), the carrier leg plain RTP (`off`).
    let text = config_text_in(&[(carrier.addr, "udp")], "127.0.0.0/8", &dir)
        .replacen(
            r#"{ transport = "tcp", address = "127.0.0.1:0" } ]"#,
            r#"{ transport = "tcp", address = "127.0.0.1:0" }, { transport = "tls", address = "127.0.0.1:0" } ]"#,
            1,
        )
        .replace(
            "health_interval_s = 0\n",
            "health_interval_s = 0\nsrtp = \"off\"\n",
        )
        .replace(
            "description = \"test trunk\"\n",
            "description = \"test trunk\"\nmedia_encryption = \"required\"\n",
        );
    let gw = start(&format!(
        "{text}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nhandshake_timeout_ms = 2000\n\n[media]\nbind_ipv4 = \"127.0.0.1\"\nport_min = 61100\nport_max = 61199\n",
        dir.join("gw.pem").display(),
        dir.join("gw.key").display(),
    ))
    .await;
    let tls = gw
        .gw
        .sip_addrs()
        .into_iter()
        .find(|&(k, a)| k == TransportKind::Tls && a.is_ipv4())
        .map(|(_, a)| a)
        .expect("tls listener bound");

    let log = std::fs::File::create(dir.join("baresip.log")).expect("baresip log");
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&bs_dir)
        .arg("-t")
        .arg("25")
        .arg("-s")
        .arg("-e")
        .arg(format!("/dial sip:{DIALED}@{tls}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log)
        .spawn()
        .expect("baresip starts");
    let _baresip = Proc(child);
    let baresip_log = || std::fs::read_to_string(dir.join("baresip.log")).unwrap_or_default();

    // The carrier leg: plain RTP/AVP, no key.
    let mut inv = None;
    for _ in 0..20 {
        match carrier.recv_within(Duration::from_millis(500)).await {
            Some((m, _)) if m.method().map(|m| m.as_str()) == Some("INVITE") => {
                inv = Some(m);
                break;
            }
            _ => {}
        }
    }
    let inv =
        inv.unwrap_or_else(|| panic!("no INVITE at the carrier; baresip said:\n{}", baresip_log()));
    let offer = String::from_utf8_lossy(inv.body()).into_owned();
    assert!(offer.contains(" RTP/AVP "), "{offer}");
    assert!(!offer.contains("a=crypto"), "{offer}");
    carrier
        .answer_with(
            gw.udp,
            &inv,
            "car",
            "carrier",
            &format!(
                "{}a=rtcp:{}\r\n",
                sdp_at(car_rtp.addr, "car").replace(" 0 8 101", " 0 101"),
                car_rtcp.addr.port()
            ),
        )
        .await;
    carrier.expect_request("ACK").await;

    // baresip's tone arrives in clear: 1 s of PCMU from its SSRC, 1 kHz dominant.
    let mut payloads = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while payloads.len() < 50 && tokio::time::Instant::now() < deadline {
        if let Some(p) = car_rtp.recv_within(Duration::from_secs(2)).await {
            assert_eq!(p.pt, 0, "PCMU only");
            payloads.push(p.payload);
        }
    }
    assert!(
        payloads.len() >= 50,
        "{} RTP packets at the carrier; baresip said:\n{}",
        payloads.len(),
        baresip_log()
    );
    // Skip the first 10 packets (the source may start with silence).
    let pcm: Vec<i16> = payloads[10..]
        .iter()
        .flat_map(|p| p.iter().map(|b| g711::ulaw_decode(*b)))
        .collect();
    let (tone, off) = (goertzel(&pcm, 1000.0), goertzel(&pcm, 1400.0));
    assert!(
        tone > 1000.0 && tone > 100.0 * off,
        "1 kHz power {tone}, 1.4 kHz power {off}"
    );
    // The other way: the carrier's plain RTP reaches baresip as SRTP. baresip's
    // own RTCP (SRTCP, decrypted by the gateway for the carrier's clear RTCP
    // port) reports our SSRC with the highest sequence it decrypted.
    let to_gw = sdp_target(inv.body());
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut report = None;
    let mut rtcp_seen = 0;
    let mut buf = [0u8; 1500];
    for i in 0..500u16 {
        tick.tick().await;
        car_rtp
            .send(
                to_gw,
                0,
                i,
                160 * u32::from(i),
                CARRIER_SSRC,
                &pcmu_sine(600.0, 160 * u64::from(i)),
            )
            .await;
        if let Ok((n, _)) = car_rtcp.sock.try_recv_from(&mut buf) {
            rtcp_seen += 1;
            if let Some(seq) = reported_seq(&buf[..n], CARRIER_SSRC).filter(|&s| s > 0) {
                report = Some(seq);
                break;
            }
        }
    }
    assert!(
        report.is_some(),
        "no RTCP report from baresip about the carrier's stream ({rtcp_seen} clear RTCP packets); baresip said:\n{}",
        baresip_log()
    );
    // Counts flush once a second. The only packet refused is baresip's clear
    // RTCP "PING" it sends before SRTP starts (at most one).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let m = metrics(gw.http).await;
    assert!(
        metric_value(&m, "trunkgate_media_packets_relayed_total") >= 100.0,
        "{m}"
    );
    let refused = metric_value(
        &m,
        r#"trunkgate_media_packets_dropped_total{reason="srtp_auth"}"#,
    );
    assert!(refused <= 1.0, "{refused} SRTP/SRTCP packets refused");
}

const CARRIER_SSRC: u32 = 0x00c0_ffee;

/// The extended highest sequence number an RTCP SR/RR in the compound `pkt`
/// reports for `ssrc` (RFC 3550 §6.4.1).
fn reported_seq(pkt: &[u8], ssrc: u32) -> Option<u32> {
    let mut rest = pkt;
    for _ in 0..16 {
        if rest.len() < 8 || rest[0] >> 6 != 2 {
            return None;
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let this = rest.get(..len)?;
        let blocks = match this[1] {
            200 => this.get(28..),
            201 => this.get(8..),
            _ => None,
        };
        let count = usize::from(this[0] & 0x1f);
        if let Some(b) = blocks {
            for rb in b.chunks_exact(24).take(count) {
                if u32::from_be_bytes([rb[0], rb[1], rb[2], rb[3]]) == ssrc {
                    return Some(u32::from_be_bytes([rb[8], rb[9], rb[10], rb[11]]));
                }
            }
        }
        rest = &rest[len..];
    }
    None
}
