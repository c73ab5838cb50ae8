//! SIP over TLS, end to end over loopback: a test CA and certificates generated at test
//! time (rcgen), the gateway's TLS listener and outbound TLS to carriers, scripted user
//! agents speaking TLS through tokio-rustls.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use trunkgate::sip::Message;
use trunkgate::transport::TransportKind;

const DIALED: &str = "+14155550123";

/// A test CA issuing leaf certificates.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(what: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "trunkgate test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = temp_dir(what);
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { ca, dir }
    }

    fn leaf(&self, names: &[&str], cn: &str) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Writes a leaf as `<name>.pem` / `<name>.key`; returns the paths.
    fn write(&self, name: &str, leaf: &Leaf) -> (PathBuf, PathBuf) {
        let (c, k) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        std::fs::write(&k, &leaf.key_pem).unwrap();
        std::fs::write(&c, &leaf.cert_pem).unwrap();
        (c, k)
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(leaf: &Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let c = CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let k = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    (c, k)
}

fn client_config(pki: &Pki, client_cert: Option<&Leaf>) -> Arc<ClientConfig> {
    let b = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(pki.roots());
    Arc::new(match client_cert {
        Some(l) => {
            let (c, k) = certs(l);
            b.with_client_auth_cert(c, k).unwrap()
        }
        None => b.with_no_client_auth(),
    })
}

fn server_config(leaf: &Leaf) -> Arc<ServerConfig> {
    let (c, k) = certs(leaf);
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(c, k)
            .unwrap(),
    )
}

/// Why config `text` (read as `t.toml`) is refused.
fn config_error(text: &str) -> String {
    match trunkgate::config::parse_str(text, "t.toml") {
        Ok(_) => panic!("config accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

type ClientUa = StreamUa<tokio_rustls::client::TlsStream<TcpStream>>;

/// Connects and handshakes with TLS to the gateway, verifying its certificate for `name`.
async fn tls_connect(
    to: SocketAddr,
    cfg: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<ClientUa> {
    let tcp = TcpStream::connect(to).await?;
    let addr = tcp.local_addr()?;
    let sn = ServerName::try_from(name.to_string()).unwrap();
    let stream = tokio::time::timeout(WAIT, TlsConnector::from(cfg).connect(sn, tcp))
        .await
        .expect("handshake within 5 s")?;
    Ok(StreamUa::new(stream, addr))
}

/// Gateway config: UDP + TCP + TLS (IPv4) + TLS (IPv6 when `v6`) listeners, `[tls]` with
/// the given files, carriers as in `config_text`.
/// [`tls_config`] with the PKI's CA, no client certificates asked for, IPv4 only.
fn server_only(carriers: &[(SocketAddr, &str)], cert: &Path, key: &Path, pki: &Pki) -> String {
    tls_config(carriers, cert, key, &pki.ca_path(), "none", false)
}

fn tls_config(
    carriers: &[(SocketAddr, &str)],
    cert: &Path,
    key: &Path,
    ca: &Path,
    client_auth: &str,
    v6: bool,
) -> String {
    let extra = if v6 {
        r#", { transport = "tls", address = "127.0.0.1:0" }, { transport = "tls", address = "[::1]:0" } ]"#
    } else {
        r#", { transport = "tls", address = "127.0.0.1:0" } ]"#
    };
    // An outbound trunk needs a carrier: a UDP one nobody listens on will do.
    let placeholder = [("127.0.0.1:9".parse().unwrap(), "udp")];
    let carriers = if carriers.is_empty() {
        &placeholder[..]
    } else {
        carriers
    };
    let text = config_text(carriers, "127.0.0.0/8").replacen(
        r#"{ transport = "tcp", address = "127.0.0.1:0" } ]"#,
        &format!(r#"{{ transport = "tcp", address = "127.0.0.1:0" }}{extra}"#),
        1,
    );
    format!(
        "{text}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\nclient_auth = \"{client_auth}\"\nhandshake_timeout_ms = 2000\n",
        cert.display(),
        key.display(),
        ca.display()
    )
}

fn options(me: SocketAddr, gw: SocketAddr, call_id: &str) -> String {
    format!(
        "OPTIONS sip:{gw};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch=z9hG4bK{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:mon@{me}>;tag=m1\r\nTo: <sip:{gw}>\r\nCall-ID: {call_id}@pbx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn ipv6_loopback() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

fn tls_addr(gw: &Gw, v6: bool) -> SocketAddr {
    let all = gw.gw.sip_addrs();
    all.into_iter()
        .find(|&(k, a)| k == TransportKind::Tls && a.is_ipv6() == v6)
        .map(|(_, a)| a)
        .expect("tls listener bound")
}

#[tokio::test]
async fn options_over_tls_ipv4_and_ipv6() {
    let pki = Pki::new("tls-options");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost", "127.0.0.1", "::1"], "gw"));
    let v6 = ipv6_loopback();
    let gw = start(&tls_config(&[], &cert, &key, &pki.ca_path(), "none", v6)).await;
    let mut families = vec![false];
    if v6 {
        families.push(true);
    }
    for v6 in families {
        let to = tls_addr(&gw, v6);
        let mut ua = tls_connect(to, client_config(&pki, None), "localhost")
            .await
            .expect("handshake with the gateway");
        let (_, conn) = ua.stream.get_ref();
        assert!(
            matches!(
                conn.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3 | rustls::ProtocolVersion::TLSv1_2)
            ),
            "TLS 1.2 or 1.3"
        );
        ua.send(&options(ua.addr, to, &format!("opt{v6}"))).await;
        let r = ua.recv().await;
        assert_eq!(r.code(), Some(200), "OPTIONS over TLS (ipv6: {v6})");
        assert!(
            hdr(&r, "Via").starts_with("SIP/2.0/TLS"),
            "{}",
            hdr(&r, "Via")
        );
        assert!(hdr(&r, "Allow").contains("INVITE"));
    }
    let m = metrics(gw.http).await;
    assert!(metric_value(&m, "trunkgate_tls_handshakes_total{direction=\"in\"}") >= 1.0);
}

#[tokio::test]
async fn tls_listener_refuses_plain_sip_and_accepts_tls_1_2() {
    let pki = Pki::new("tls-plain");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let gw = start(&server_only(&[], &cert, &key, &pki)).await;
    let to = tls_addr(&gw, false);
    // Plain SIP on the TLS port: no answer, the connection is closed.
    let mut plain = TcpUa::connect(to).await;
    plain.send(&options(plain.addr, to, "plain")).await;
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(WAIT, plain.stream.read(&mut buf))
        .await
        .expect("closed within 5 s")
        .unwrap_or(0);
    assert!(
        !String::from_utf8_lossy(&buf[..n]).contains("SIP/2.0 200"),
        "plain SIP answered on the TLS port"
    );
    // A client that only speaks TLS 1.2 still gets through (1.2 and 1.3 are allowed).
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    let mut ua = tls_connect(to, Arc::new(cfg), "localhost").await.unwrap();
    ua.send(&options(ua.addr, to, "tls12")).await;
    assert_eq!(ua.recv().await.code(), Some(200));
}

#[tokio::test]
async fn call_over_tls_from_pbx_with_carrier_over_udp() {
    let pki = Pki::new("tls-call");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost", "127.0.0.1"], "gw"));
    let carrier = Ua::new().await;
    let gw = start(&server_only(&[(carrier.addr, "udp")], &cert, &key, &pki)).await;
    let to = tls_addr(&gw, false);
    let mut pbx = tls_connect(to, client_config(&pki, None), "localhost")
        .await
        .unwrap();
    let me = pbx.addr;
    pbx.send_invite(to, "TLS", "tls@pbx", DIALED, "z9hG4bKtls1")
        .await;
    assert_eq!(pbx.recv().await.code(), Some(100));
    let (inv, _) = carrier.wait_request("INVITE").await;
    assert!(
        hdr(&inv, "Via").starts_with("SIP/2.0/UDP"),
        "carrier leg is UDP"
    );
    assert!(!hdr(&inv, "Contact").contains("sips:"));
    carrier.status(gw.udp, &inv, 180, "Ringing", "ct").await;
    assert_eq!(pbx.recv().await.code(), Some(180));
    carrier.answer(gw.udp, &inv, "ct", "carrier").await;
    let ok = pbx.recv().await;
    assert_eq!(ok.code(), Some(200));
    // The PBX leg's Contact asks for TLS in the PBX's own scheme (its INVITE was
    // `sip:`, so `sip:…;transport=tls`, RFC 3261 §12.1.1); the Via echoes its TLS Via.
    let contact = contact_uri(&ok);
    assert!(
        contact.starts_with("sip:") && contact.ends_with(";transport=tls"),
        "Contact on the TLS leg: {contact}"
    );
    assert!(
        contact.contains(&to.to_string()),
        "{contact} names the TLS listener"
    );
    assert!(hdr(&ok, "Via").starts_with("SIP/2.0/TLS"));
    assert!(String::from_utf8_lossy(ok.body()).contains("m=audio"));
    carrier.wait_request("ACK").await;
    let mut dialog = UaDialog::from_ok(&ok, me).over("TLS");
    pbx.send(&dialog.ack()).await;
    pbx.send(&dialog.bye()).await;
    let (bye, _) = carrier.wait_request("BYE").await;
    carrier.ok(gw.udp, &bye).await;
    let r = pbx.recv().await;
    assert_eq!(r.code(), Some(200));
    assert!(hdr(&r, "CSeq").contains("BYE"));
}

/// A carrier speaking SIP over TLS with the given certificate: accepts connections and
/// hands each established stream (or the handshake error) to the test.
/// A TLS UA as the far end of a connection the gateway opened.
type ServerUa = StreamUa<tokio_rustls::server::TlsStream<TcpStream>>;

/// The connections the gateway opens to a [`tls_carrier`], handshakes done (or failed).
type Accepted = tokio::sync::mpsc::Receiver<std::io::Result<ServerUa>>;

/// The next connection on `rx` within 5 s (`what`: the failure said if
/// not), its handshake done, and the INVITE the gateway sends on it: over
/// TLS (Via) with a `sips:` Contact.
async fn tls_invite(rx: &mut Accepted, what: &str) -> (ServerUa, Message) {
    let mut ua = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect(what)
        .expect("a connection")
        .expect("the TLS handshake");
    let inv = ua.recv().await;
    assert_eq!(inv.method().map(|m| m.as_str()), Some("INVITE"));
    assert!(
        hdr(&inv, "Via").starts_with("SIP/2.0/TLS"),
        "{}",
        hdr(&inv, "Via")
    );
    assert!(
        contact_uri(&inv).starts_with("sips:"),
        "{}",
        hdr(&inv, "Contact")
    );
    (ua, inv)
}

async fn tls_carrier(leaf: &Leaf) -> (SocketAddr, Accepted) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config(leaf));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        // Bounded: a test needs at most a few connections.
        for _ in 0..4 {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let res = acceptor
                .accept(tcp)
                .await
                .map(|stream| StreamUa::new(stream, addr));
            if tx.send(res).await.is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn tls_carrier_with_mismatched_certificate_fails_over_to_next_carrier() {
    let pki = Pki::new("tls-failover");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    // Carrier 0's certificate is for another name than the address the gateway dials.
    let (bad, mut bad_rx) = tls_carrier(&pki.leaf(&["wrong.example"], "bad")).await;
    let (good, mut good_rx) = tls_carrier(&pki.leaf(&["127.0.0.1"], "good")).await;
    let gw = start(&server_only(
        &[(bad, "tls"), (good, "tls")],
        &cert,
        &key,
        &pki,
    ))
    .await;
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "fo@pbx", DIALED, "z9hG4bKfo1")
        .await;
    let first = tokio::time::timeout(WAIT, bad_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.is_err(),
        "the mismatched carrier's handshake must fail"
    );
    // The next carrier is tried within 5 s; the handshake with it succeeds.
    let (mut c, inv) = tls_invite(&mut good_rx, "the next carrier is tried within 5 s").await;
    c.send(&reply(&inv, 486, "Busy Here", Some("c1"), None, ""))
        .await;
    pbx.wait_response(486).await;
    let ack = c.recv().await;
    assert_eq!(ack.method().map(|m| m.as_str()), Some("ACK"));
    // A second call reuses the open connection to the good carrier.
    pbx.send_invite(gw.udp, "fo2@pbx", DIALED, "z9hG4bKfo2")
        .await;
    let inv2 = c.recv().await;
    assert_ne!(hdr(&inv2, "Call-ID"), hdr(&inv, "Call-ID"));
    assert_eq!(inv2.method().map(|m| m.as_str()), Some("INVITE"));
    c.send(&reply(&inv2, 486, "Busy Here", Some("c2"), None, ""))
        .await;
    pbx.wait_response(486).await;
    assert!(
        good_rx.try_recv().is_err(),
        "no second connection to the good carrier"
    );
    let m = metrics(gw.http).await;
    assert!(metric_value(&m, "trunkgate_tls_handshake_failures_total") >= 1.0);
    assert_eq!(
        metric_value(&m, "trunkgate_tls_handshakes_total{direction=\"out\"}"),
        1.0
    );
}

#[tokio::test]
async fn mutual_tls_required_refuses_a_client_without_certificate() {
    let pki = Pki::new("tls-mtls");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let gw = start(&tls_config(
        &[],
        &cert,
        &key,
        &pki.ca_path(),
        "required",
        false,
    ))
    .await;
    let to = tls_addr(&gw, false);
    // Without a certificate: in TLS 1.3 the client finishes first and learns of the
    // refusal on its first read; either way no SIP answer comes back.
    if let Ok(mut ua) = tls_connect(to, client_config(&pki, None), "localhost").await {
        ua.send(&options(ua.addr, to, "nocert")).await;
        assert!(
            ua.try_recv().await.is_none(),
            "answered without a client certificate"
        );
    }
    // A client certificate issued by the CA in ca_file is accepted.
    let client = pki.leaf(&["pbx.example"], "pbx.example");
    let mut ua = tls_connect(to, client_config(&pki, Some(&client)), "localhost")
        .await
        .expect("mutual TLS handshake");
    ua.send(&options(ua.addr, to, "withcert")).await;
    assert_eq!(ua.recv().await.code(), Some(200));
    // A certificate from another CA is refused too.
    let other = Pki::new("tls-mtls-other");
    let stranger = other.leaf(&["pbx.example"], "stranger");
    if let Ok(mut ua) = tls_connect(to, client_config(&pki, Some(&stranger)), "localhost").await {
        ua.send(&options(ua.addr, to, "stranger")).await;
        assert!(
            ua.try_recv().await.is_none(),
            "answered a foreign certificate"
        );
    }
}

fn peer_cert(ua: &ClientUa) -> Vec<u8> {
    let (_, conn) = ua.stream.get_ref();
    conn.peer_certificates().expect("server certificate")[0].to_vec()
}

#[tokio::test]
async fn replaced_certificate_is_used_for_new_handshakes_while_open_connections_carry_on() {
    let pki = Pki::new("tls-reload");
    let first = pki.leaf(&["localhost"], "first");
    let (cert, key) = pki.write("gw", &first);
    let gw = start(&server_only(&[], &cert, &key, &pki)).await;
    let to = tls_addr(&gw, false);
    let cfg = client_config(&pki, None);
    let mut old = tls_connect(to, cfg.clone(), "localhost").await.unwrap();
    let first_der = peer_cert(&old);
    assert_eq!(first_der, certs(&first).0[0].to_vec());

    // Replace the files: the watcher picks them up (polled once a second).
    let second = pki.leaf(&["localhost"], "second");
    pki.write("gw", &second);
    let second_der = certs(&second).0[0].to_vec();
    let mut seen = false;
    for _ in 0..50 {
        let ua = tls_connect(to, cfg.clone(), "localhost").await.unwrap();
        if peer_cert(&ua) == second_der {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "new handshakes get the replaced certificate within 5 s"
    );

    // The explicit reload hook (what a SIGHUP reload calls) takes effect at once.
    let third = pki.leaf(&["localhost"], "third");
    pki.write("gw", &third);
    gw.gw.reload_tls().expect("reload");
    let ua = tls_connect(to, cfg.clone(), "localhost").await.unwrap();
    assert_eq!(peer_cert(&ua), certs(&third).0[0].to_vec());

    // A broken replacement is refused and the current certificate kept.
    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(gw.gw.reload_tls().is_err());
    let ua = tls_connect(to, cfg.clone(), "localhost").await.unwrap();
    assert_eq!(peer_cert(&ua), certs(&third).0[0].to_vec());

    // The connection opened before the first change still works.
    old.send(&options(old.addr, to, "old")).await;
    assert_eq!(old.recv().await.code(), Some(200));
}

#[test]
fn tls_config_errors_name_file_key_and_rule() {
    let pki = Pki::new("tls-config");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let base = "[sip]\nlisten = [ { transport = \"tls\", address = \"127.0.0.1:0\" } ]\n[http]\nlisten = \"127.0.0.1:0\"\n";
    let err = trunkgate::config::parse_str(base, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "t.toml: sip.listen[0].transport: a tls listener needs [tls] cert_file and key_file"
        ),
        "{err}"
    );
    let text = format!(
        "{base}[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_auth = \"sometimes\"\n",
        cert.display(),
        key.display()
    );
    let err = config_error(&text);
    assert!(err.contains("t.toml: tls.client_auth: must be"), "{err}");
    let text = format!(
        "{base}[tls]\ncert_file = \"{}\"\nkey_file = \"{}/missing.key\"\n",
        cert.display(),
        pki.dir.display()
    );
    let err = config_error(&text);
    assert!(err.contains("t.toml: tls.key_file: "), "{err}");
    let text = format!(
        "{base}[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let tie = format!(
        "{text}trunk_client_names = [ {{ trunk_id = \"{DEMO_TRUNK}\", name = \"pbx.example\" }} ]\n"
    );
    let err = config_error(&tie);
    assert!(
        err.contains("t.toml: tls.trunk_client_names: needs client_auth"),
        "{err}"
    );
    let cfg = trunkgate::config::parse_str(&text, "t.toml").expect("valid TLS config");
    assert_eq!(cfg.tls.cert_file.as_deref(), Some(cert.as_path()));
}

#[tokio::test]
async fn silent_client_is_dropped_after_handshake_timeout_and_tcp_caps_apply_to_tls() {
    let pki = Pki::new("tls-caps");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let text = server_only(&[], &cert, &key, &pki)
        .replacen("t4_ms = 500", "t4_ms = 500\ntcp_max_per_source = 1", 1)
        .replacen(
            "handshake_timeout_ms = 2000",
            "handshake_timeout_ms = 300",
            1,
        );
    let gw = start(&text).await;
    let to = tls_addr(&gw, false);
    // A client that connects and never says hello holds the one slot of its address...
    let mut silent = TcpStream::connect(to).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ...so a second connection from the same address is closed at once.
    let refused = tls_connect(to, client_config(&pki, None), "localhost").await;
    assert!(refused.is_err(), "tcp_max_per_source applies to TLS");
    // The handshake timeout closes the silent one and frees the slot.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("closed by the handshake timeout within 5 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing but a close for a silent client");
    let mut ua = None;
    for _ in 0..50 {
        if let Ok(u) = tls_connect(to, client_config(&pki, None), "localhost").await {
            ua = Some(u);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ua = ua.expect("a new TLS connection once the slot is free");
    ua.send(&options(ua.addr, to, "afterslot")).await;
    assert_eq!(ua.recv().await.code(), Some(200));
    let m = metrics(gw.http).await;
    assert!(metric_value(&m, "trunkgate_tls_handshake_failures_total") >= 1.0);
}

/// An inbound call whose trunk fails over to a `sips:` URI: RFC 3263 `_sips._tcp` SRV
/// (static table) to a TLS PBX whose certificate is checked against the URI's host name.
#[tokio::test]
async fn inbound_failover_to_sips_uri_resolves_sips_srv_and_verifies_the_host_name() {
    const IN_TRUNK: &str = "0b7e3c1a-5d2f-4e8a-9c6b-7a1d2e3f4a5b";
    let pki = Pki::new("tls-sips");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let (pbx_addr, mut pbx_rx) = tls_carrier(&pki.leaf(&["pbx.test"], "pbx")).await;
    let carrier = Ua::new().await;
    let dest = Ua::new().await; // the trunk's first destination: refuses with 503
    let text = format!(
        r#"
[sip]
listen = [ {{ transport = "udp", address = "127.0.0.1:0" }}, {{ transport = "tcp", address = "127.0.0.1:0" }}, {{ transport = "tls", address = "127.0.0.1:0" }} ]
t1_ms = 50
t2_ms = 400
t4_ms = 500

[http]
listen = "127.0.0.1:0"

[store]
data_dir = "{store}"

[tls]
cert_file = "{cert}"
key_file = "{key}"
ca_file = "{ca}"

[[dns.static]]
name = "_sips._tcp.pbx.test"
srv = ["10 0 {port} pbx.test"]

[[dns.static]]
name = "pbx.test"
a = ["127.0.0.1"]

[[carriers]]
health_interval_s = 0
name = "carrier"
address = "{carrier}"
inbound_sources = ["{carrier}"]

[[trunks]]
trunk_id = "{IN_TRUNK}"
direction = "inbound"
[trunks.inbound]
destination = "{dest}"
failover = {{ source = "sip_uri", value = "sips:{DID}@pbx.test" }}

[[numbers]]
no = "{DID}"
assigned_to = "Trunks/{IN_TRUNK}"
"#,
        store = temp_dir("tls-sips-store").display(),
        cert = cert.display(),
        key = key.display(),
        ca = pki.ca_path().display(),
        port = pbx_addr.port(),
        carrier = carrier.addr,
        dest = dest.addr,
    );
    let gw = start(&text).await;
    carrier
        .send_invite(gw.udp, "sips@carrier", DID, "z9hG4bKs1")
        .await;
    let (inv, _) = dest.wait_request("INVITE").await;
    dest.status(gw.udp, &inv, 503, "Service Unavailable", "d")
        .await;
    // The TLS handshake checks the certificate for pbx.test.
    let (mut pbx, inv) = tls_invite(
        &mut pbx_rx,
        "the gateway connects to the sips: failover within 5 s",
    )
    .await;
    let ruri = String::from_utf8_lossy(inv.request_uri().unwrap()).into_owned();
    assert_eq!(ruri, format!("sips:{DID}@pbx.test"));
    pbx.send(&reply(&inv, 486, "Busy Here", Some("p"), None, ""))
        .await;
    carrier.wait_response(486).await;
}

#[tokio::test]
async fn trunk_tied_to_a_client_certificate_name_admits_only_that_pbx() {
    let pki = Pki::new("tls-tie");
    let (cert, key) = pki.write("gw", &pki.leaf(&["localhost"], "gw"));
    let carrier = Ua::new().await;
    let text = tls_config(
        &[(carrier.addr, "udp")],
        &cert,
        &key,
        &pki.ca_path(),
        "optional",
        false,
    ) + &format!(
        "trunk_client_names = [ {{ trunk_id = \"{DEMO_TRUNK}\", name = \"pbx.example\" }} ]\n"
    );
    let gw = start(&text).await;
    let to = tls_addr(&gw, false);
    // The PBX with a certificate for pbx.example is admitted.
    let good = pki.leaf(&["pbx.example"], "pbx.example");
    let mut pbx = tls_connect(to, client_config(&pki, Some(&good)), "localhost")
        .await
        .unwrap();
    pbx.send_invite(to, "TLS", "tie1@pbx", DIALED, "z9hG4bKtie1")
        .await;
    assert_eq!(pbx.recv().await.code(), Some(100));
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier.status(gw.udp, &inv, 486, "Busy Here", "c").await;
    assert_eq!(pbx.recv().await.code(), Some(486));
    // A certificate for another name, no certificate, or plain UDP: 403.
    let other = pki.leaf(&["other.example"], "other.example");
    for (i, client) in [Some(&other), None].into_iter().enumerate() {
        let mut ua = tls_connect(to, client_config(&pki, client), "localhost")
            .await
            .unwrap();
        let id = format!("tie-bad{i}@pbx");
        ua.send_invite(to, "TLS", &id, DIALED, &format!("z9hG4bKtb{i}"))
            .await;
        let r = ua.recv().await;
        assert_eq!(r.code(), Some(403), "client {i}");
    }
    let udp = Ua::new().await;
    udp.send_invite(gw.udp, "tie-udp@pbx", DIALED, "z9hG4bKtu")
        .await;
    udp.wait_response(403).await;
}
