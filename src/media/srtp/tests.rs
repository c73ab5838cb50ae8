//! RFC 3711 / libsrtp reference vectors for the crate, and the SDES offer/answer rules.

use super::*;
use crate::media::leg::Leg;
use crate::sip::sdp::{self, MediaDesc};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 3711 Appendix B.3's master key and salt; the protected packet is
/// libsrtp's `srtp_ciphertext` reference (test/srtp_driver.c) for
/// AES_CM_128_HMAC_SHA1_80, whose keystream starts with the session key
/// RFC 3711 B.3 derives from this master key.
const MASTER: &str = "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6";
const CLEAR: &str = "800f1234decafbadcafebabeabababababababababababababababab";
const SRTP_80: &str =
    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb";
/// The same packet under AES_CM_128_HMAC_SHA1_32 (4-byte tag: the first 4 of the 10).
const SRTP_32: &str = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc";
/// SRTCP (libsrtp 2) of an RTCP SR header `81c8000bcafebabe` + 40 bytes of 0xab, E flag, index 1.
const SRTCP_80: &str = "81c8000bcafebabe7128035be487b9bdbef89041f977a5a8d5efb8816abf868c340e5082be1e90ca6bdd31954a81a47d8000000163a50d16b51439563031";
/// AEAD_AES_128_GCM (RFC 7714), key 000102..0f, salt a0..ab, computed with libsrtp 2.
const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaab";
const SRTP_GCM: &str =
    "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392";

fn end(suite: Suite, key: &str) -> EndCrypto {
    let k = KeyMaterial::from_bytes(suite, &hex(key)).unwrap();
    EndCrypto::new(LegKeys {
        rx: k.clone(),
        tx: k,
    })
    .unwrap()
}

#[test]
fn reference_vectors_protect_and_unprotect() {
    for (suite, key, want) in [
        (Suite::AesCm128HmacSha1_80, MASTER, SRTP_80),
        (Suite::AesCm128HmacSha1_32, MASTER, SRTP_32),
        (Suite::AeadAes128Gcm, GCM_KEY, SRTP_GCM),
    ] {
        let mut c = end(suite, key);
        let out = c.protect(&hex(CLEAR), false).unwrap();
        assert_eq!(out.as_ref(), hex(want).as_slice(), "{suite:?}");
        let mut buf = hex(want);
        let n = end(suite, key).unprotect(&mut buf, false).unwrap();
        assert_eq!(&buf[..n], hex(CLEAR).as_slice(), "{suite:?}");
    }
    let mut buf = hex(SRTCP_80);
    let n = end(Suite::AesCm128HmacSha1_80, MASTER)
        .unprotect(&mut buf, true)
        .unwrap();
    let clear_rtcp = format!("81c8000bcafebabe{}", "ab".repeat(40));
    assert_eq!(&buf[..n], hex(&clear_rtcp).as_slice());
}

#[test]
fn tampered_and_replayed_packets_are_dropped() {
    let mut rx = end(Suite::AesCm128HmacSha1_80, MASTER);
    let mut bad = hex(SRTP_80);
    bad[14] ^= 1;
    assert!(rx.unprotect(&mut bad, false).is_none());
    let mut ok = hex(SRTP_80);
    assert!(rx.unprotect(&mut ok, false).is_some());
    let mut again = hex(SRTP_80);
    assert!(rx.unprotect(&mut again, false).is_none(), "replay");
}

/// A packet that fails authentication leaves no trace: libre (baresip) sends a
/// clear RTCP APP "PINGPONG" before its first SRTCP packet, and a forger can
/// send anything; with the crate's own replay detectors the first packet seen
/// fixed the window and the genuine stream after it was refused.
#[test]
fn unauthenticated_packets_do_not_move_the_replay_window() {
    let mut tx = end(Suite::AesCm128HmacSha1_80, MASTER);
    let mut rx = end(Suite::AesCm128HmacSha1_80, MASTER);
    // SRTCP: clear APP PING, then a forged packet with index 0x3e618a4f.
    let mut ping = b"\x80\xcc\x00\x03\xca\xfe\xba\xbePINGPONG".to_vec();
    assert!(rx.unprotect(&mut ping, true).is_none());
    let mut forged = b"\x80\xcc\x00\x03\xca\xfe\xba\xbePINGPONG".to_vec();
    forged.extend_from_slice(&[0xbe, 0x61, 0x8a, 0x4f]);
    forged.extend_from_slice(&[0; 10]);
    assert!(rx.unprotect(&mut forged, true).is_none());
    let app = b"\x80\xcc\x00\x03\xca\xfe\xba\xbePINGPONG";
    for _ in 0..3 {
        let mut enc = tx.protect(app, true).unwrap().to_vec();
        let n = rx.unprotect(&mut enc, true).expect("genuine SRTCP");
        assert_eq!(&enc[..n], app);
    }
    // SRTP: a forged packet far ahead, then the genuine stream from seq 1.
    let mut far = hex(CLEAR);
    far[2..4].copy_from_slice(&40000u16.to_be_bytes());
    far.extend_from_slice(&[0; 10]);
    assert!(rx.unprotect(&mut far, false).is_none());
    for seq in 1..4u16 {
        let mut p = hex(CLEAR);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        let mut enc = tx.protect(&p, false).unwrap().to_vec();
        assert!(rx.unprotect(&mut enc, false).is_some(), "seq {seq}");
    }
}

/// RFC 3711 §3.4: SRTCP is always authenticated; the crate returns a packet
/// whose E flag is clear without checking its tag, so it must not get one.
#[test]
fn srtcp_with_the_e_flag_cleared_is_dropped() {
    let mut tx = end(Suite::AesCm128HmacSha1_80, MASTER);
    let mut enc = tx
        .protect(b"\x81\xcb\x00\x01\xca\xfe\xba\xbe", true)
        .unwrap()
        .to_vec();
    let at = enc.len() - 14;
    enc[at] &= 0x7f;
    let mut crate_ctx = KeyMaterial::from_bytes(Suite::AesCm128HmacSha1_80, &hex(MASTER))
        .unwrap()
        .context()
        .unwrap();
    assert!(
        crate_ctx.decrypt_rtcp(&enc).is_ok(),
        "the crate's behaviour"
    );
    assert!(end(Suite::AesCm128HmacSha1_80, MASTER)
        .unprotect(&mut enc, true)
        .is_none());
}

/// The ROC advances across a sequence wrap (RFC 3711 §3.3.1): a sender and a
/// receiver stay in step over 65535 -> 0.
#[test]
fn rollover_counter_follows_sequence_wrap() {
    let mut tx = end(Suite::AesCm128HmacSha1_80, MASTER);
    let mut rx = end(Suite::AesCm128HmacSha1_80, MASTER);
    let mut seq: u16 = 65530;
    for _ in 0..12 {
        let mut p = hex(CLEAR);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        let mut enc = tx.protect(&p, false).unwrap().to_vec();
        let n = rx.unprotect(&mut enc, false).expect("decrypts after wrap");
        assert_eq!(&enc[..n], p.as_slice());
        seq = seq.wrapping_add(1);
    }
}

#[test]
fn rekey_keeps_the_old_receive_key_for_late_packets() {
    let a = KeyMaterial::from_bytes(Suite::AesCm128HmacSha1_80, &hex(MASTER)).unwrap();
    let b = KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap();
    let mut slot = None;
    apply(
        &mut slot,
        Some(LegKeys {
            rx: a.clone(),
            tx: a.clone(),
        }),
    );
    apply(
        &mut slot,
        Some(LegKeys {
            rx: b.clone(),
            tx: b.clone(),
        }),
    );
    let mut late = hex(SRTP_80);
    assert!(slot.as_mut().unwrap().unprotect(&mut late, false).is_some());
    let mut fresh = EndCrypto::new(LegKeys {
        rx: b.clone(),
        tx: b,
    })
    .unwrap();
    let mut p = hex(CLEAR);
    p[3] = 0x99;
    let mut enc = fresh.protect(&p, false).unwrap().to_vec();
    assert!(slot.as_mut().unwrap().unprotect(&mut enc, false).is_some());
    apply(&mut slot, None);
    assert!(slot.is_none());
}

#[test]
fn crypto_attribute_parsing() {
    let c = parse_crypto(
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
    )
    .is_none();
    assert!(c, "MKI is not supported");
    let c = parse_crypto(
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20",
    )
    .unwrap();
    assert_eq!((c.tag, c.key.suite), (1, Suite::AesCm128HmacSha1_80));
    assert!(
        parse_crypto("1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
            .is_none()
    );
    assert!(parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").is_none());
    assert!(parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTP").is_none());
    let k = KeyMaterial::generate(Suite::AeadAes128Gcm).unwrap();
    let line = Crypto {
        tag: 7,
        key: k.clone(),
    }
    .line();
    assert_eq!(parse_crypto(&line).unwrap().key, k);
    assert!(
        !format!("{k:?}").contains(&k.inline()),
        "Debug must not show the key"
    );
}

fn offer(proto: &str, crypto: &[String]) -> Vec<MediaDesc> {
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 {proto} 0\r\n");
    for c in crypto {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    sdp::parse(s.as_bytes()).unwrap().media().to_vec()
}

#[test]
fn srtp_caller_plain_callee_round_trip() {
    let mut s = Sdes::default();
    s.set_policy(Leg::Callee, SrtpPolicy::Off);
    let theirs = KeyMaterial::generate(Suite::AesCm128HmacSha1_32).unwrap();
    let c = Crypto {
        tag: 5,
        key: theirs.clone(),
    };
    let (sec, keys) = s
        .on_sdp(Leg::Caller, &offer("RTP/SAVP", &[c.line()]))
        .unwrap();
    let out = sec[0].clone().unwrap();
    assert_eq!(out.proto, "RTP/AVP");
    assert!(out.crypto.is_empty());
    let k = keys[0].2.clone().unwrap();
    assert_eq!(k.rx, theirs);
    assert_eq!(k.tx.suite, Suite::AesCm128HmacSha1_32);
    // The carrier answers plain; the caller's answer carries our key with its tag.
    let (sec, keys) = s.on_sdp(Leg::Callee, &offer("RTP/AVP", &[])).unwrap();
    assert_eq!(keys.as_slice(), [(0, Leg::Callee, None)]);
    let out = sec[0].clone().unwrap();
    assert_eq!(out.proto, "RTP/SAVP");
    let ours = parse_crypto(&out.crypto[0]).unwrap();
    assert_eq!((ours.tag, ours.key.clone()), (5, k.tx));
    // A repeated answer (183 then 200) gives the same key.
    let (sec2, _) = s.on_sdp(Leg::Callee, &offer("RTP/AVP", &[])).unwrap();
    assert_eq!(sec2, sec);
}

#[test]
fn plain_caller_srtp_required_callee() {
    let mut s = Sdes::default();
    s.set_policy(Leg::Callee, SrtpPolicy::Required);
    let (sec, _) = s.on_sdp(Leg::Caller, &offer("RTP/AVP", &[])).unwrap();
    let out = sec[0].clone().unwrap();
    assert_eq!(out.proto, "RTP/SAVP");
    assert_eq!(out.crypto.len(), OFFER.len());
    // A plain answer from a required leg is refused; a SAVP one with our tag 2 is taken.
    assert_eq!(
        s.on_sdp(Leg::Callee, &offer("RTP/AVP", &[])).unwrap_err(),
        SrtpError::Required
    );
    let theirs = Crypto {
        tag: 2,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_32).unwrap(),
    };
    let (sec, keys) = s
        .on_sdp(Leg::Callee, &offer("RTP/SAVP", &[theirs.line()]))
        .unwrap();
    assert_eq!(sec[0].as_ref().unwrap().proto, "RTP/AVP");
    let ours = parse_crypto(&out.crypto[1]).unwrap();
    assert_eq!(
        keys[0].2.clone().unwrap(),
        LegKeys {
            rx: theirs.key,
            tx: ours.key
        }
    );
}

#[test]
fn policies_refuse_offers() {
    let mut s = Sdes::default();
    s.set_policy(Leg::Caller, SrtpPolicy::Required);
    assert_eq!(
        s.on_sdp(Leg::Caller, &offer("RTP/AVP", &[])).unwrap_err(),
        SrtpError::Required
    );
    let mut s = Sdes::default();
    s.set_policy(Leg::Caller, SrtpPolicy::Off);
    let c = Crypto {
        tag: 1,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap(),
    };
    assert_eq!(
        s.on_sdp(Leg::Caller, &offer("RTP/SAVP", &[c.line()]))
            .unwrap_err(),
        SrtpError::NotAllowed
    );
    let mut s = Sdes::default();
    assert_eq!(
        s.on_sdp(
            Leg::Caller,
            &offer("RTP/SAVP", &["1 F8_128_HMAC_SHA1_80 inline:AAAA".into()])
        )
        .unwrap_err(),
        SrtpError::NoUsableCrypto
    );
    // Optional both sides: SRTP mirrors the offerer.
    let mut s = Sdes::default();
    let (sec, _) = s
        .on_sdp(Leg::Caller, &offer("RTP/SAVP", &[c.line()]))
        .unwrap();
    assert_eq!(sec[0].as_ref().unwrap().proto, "RTP/SAVP");
}

#[test]
fn reoffer_with_a_new_key_rekeys_and_keeps_ours() {
    let mut s = Sdes::default();
    let c1 = Crypto {
        tag: 1,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap(),
    };
    let (_, k1) = s
        .on_sdp(Leg::Caller, &offer("RTP/SAVP", &[c1.line()]))
        .unwrap();
    let c2 = Crypto {
        tag: 1,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap(),
    };
    let (_, k2) = s
        .on_sdp(Leg::Caller, &offer("RTP/SAVP", &[c2.line()]))
        .unwrap();
    let (k1, k2) = (k1[0].2.clone().unwrap(), k2[0].2.clone().unwrap());
    assert_eq!(k2.rx, c2.key);
    assert_eq!(k1.tx, k2.tx);
}

/// The profile is matched in any case, as it always was: a lower-case
/// SAVPF offer is SRTP with feedback, and the plain leg gets AVPF.
#[test]
fn the_profile_is_matched_in_any_case() {
    let mut s = Sdes::default();
    s.set_policy(Leg::Callee, SrtpPolicy::Off);
    let c = Crypto {
        tag: 1,
        key: KeyMaterial::generate(Suite::AesCm128HmacSha1_80).unwrap(),
    };
    let (sec, keys) = s
        .on_sdp(Leg::Caller, &offer("rtp/savpf", &[c.line()]))
        .unwrap();
    assert_eq!(sec[0].clone().unwrap().proto, "RTP/AVPF");
    assert!(
        keys[0].2.is_some(),
        "keys taken from a lower-case SAVPF offer"
    );
}
