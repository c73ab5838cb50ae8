//! SIP over TLS (RFC 3261 §26.2, RFC 5630): rustls through tokio-rustls with the
//! `ring` provider, TLS 1.2 and 1.3 only. A TLS connection is a TCP connection with a
//! TLS session on top: it shares the TCP caps (`tcp_max_connections`,
//! `tcp_max_per_source`), the registry and the framing/timeout reader in `conn.rs`.
//!
//! Certificates: [`TlsContext`] holds the current server and client configs behind an
//! `ArcSwap`; [`TlsContext::reload`] re-reads the files (the hook a SIGHUP reload
//! calls) and a watcher task polls the files' metadata every second and reloads when
//! they change. A handshake takes the config current when it starts, so open
//! connections keep theirs. A broken new file is logged and the old config kept.
//!
//! Why polling and not inotify: certificate renewers swap files by rename or by
//! re-pointing symlinks (certbot's `live/` links), which a watch on the path itself
//! misses; one `stat` of three files per second costs nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info, warn};

use super::conn::{self, Origin};
use super::stats::inc;
use super::{canonical, Shared, Target, TransportError, TransportKind};

/// `[tls] client_auth`: whether PBXs must present a certificate (mutual TLS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    #[default]
    None,
    Optional,
    Required,
}

/// The `[tls]` section as the transport needs it.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// Certificate chain, PEM, leaf first. Required for a TLS listener; when set it is
    /// also presented to TLS servers that ask for a client certificate.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Verify peers (servers we connect to, clients that present a certificate)
    /// against these roots; without it: the Mozilla roots of `webpki-roots`.
    pub ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// A TLS handshake, inbound or outbound, not finished within this is dropped.
    pub handshake_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {rule}")]
    File { path: String, rule: String },
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: {0}")]
    Verifier(String),
}

fn file_err(path: &Path, rule: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        rule: rule.to_string(),
    }
}

/// Length and modification time of each file: a change in either triggers a reload.
type Stamp = Vec<Option<(u64, SystemTime)>>;

/// The live TLS configuration of the transports.
pub struct TlsContext {
    settings: TlsSettings,
    server: ArcSwap<Option<Arc<ServerConfig>>>,
    client: ArcSwap<ClientConfig>,
    stamp: Mutex<Stamp>,
    /// Server names to verify per peer address (carriers and resolved destinations
    /// named by host); a peer not listed is verified by its IP address.
    names: Mutex<HashMap<SocketAddr, ServerName<'static>>>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The `ring` provider: no C toolchain beyond what `ring` needs (aws-lc-rs would add
/// cmake and a C build). Its hybrid post-quantum key exchange is what aws-lc adds.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, format!("cannot read certificates: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(path, "holds no CERTIFICATE block"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| file_err(path, format!("cannot read a private key: {e}")))
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match &settings.ca_file {
        Some(ca) => {
            for cert in read_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| file_err(ca, format!("unusable CA certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

fn build_server(settings: &TlsSettings) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let (Some(cert), Some(key)) = (&settings.cert_file, &settings.key_file) else {
        return Ok(None);
    };
    let chain = read_certs(cert)?;
    let key = read_key(key)?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS)?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        mode => {
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(settings)?),
                provider(),
            );
            let v = if mode == ClientAuth::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build().map_err(|e| TlsError::Verifier(e.to_string()))?,
            )
        }
    };
    Ok(Some(Arc::new(builder.with_single_cert(chain, key)?)))
}

fn build_client(settings: &TlsSettings) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_root_certificates(roots(settings)?);
    Ok(match (&settings.cert_file, &settings.key_file) {
        (Some(cert), Some(key)) => {
            builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?)?
        }
        _ => builder.with_no_client_auth(),
    })
}

fn stamp_of(settings: &TlsSettings) -> Stamp {
    [&settings.cert_file, &settings.key_file, &settings.ca_file]
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(p.as_ref()?).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

impl TlsContext {
    /// Reads the files once; an error names the file and what is wrong with it.
    pub fn load(settings: TlsSettings) -> Result<Arc<TlsContext>, TlsError> {
        let stamp = stamp_of(&settings);
        let server = build_server(&settings)?;
        let client = build_client(&settings)?;
        Ok(Arc::new(TlsContext {
            settings,
            server: ArcSwap::from_pointee(server),
            client: ArcSwap::from_pointee(client),
            stamp: Mutex::new(stamp),
            names: Mutex::new(HashMap::new()),
        }))
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// Re-reads certificate, key and CA. New handshakes use the new files; open
    /// connections are untouched. On error the old configuration stays in force.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamp = stamp_of(&self.settings);
        let server = build_server(&self.settings)?;
        let client = build_client(&self.settings)?;
        self.server.store(Arc::new(server));
        self.client.store(Arc::new(client));
        if let Ok(mut s) = self.stamp.lock() {
            *s = stamp;
        }
        info!("TLS certificate and key reloaded");
        Ok(())
    }

    /// Reloads when a file's length or modification time changed since the last load.
    fn reload_if_changed(&self) {
        let now = stamp_of(&self.settings);
        let changed = match self.stamp.lock() {
            Ok(s) => *s != now,
            Err(_) => false,
        };
        if changed {
            if let Err(e) = self.reload() {
                // Keep the files' stamp so a half-written file is retried next tick.
                warn!(error = %e, "TLS reload failed; keeping the previous certificate");
            }
        }
    }

    /// The server name to verify for `addr`: the registered host name, else the IP.
    pub fn set_server_name(&self, addr: SocketAddr, name: &str) -> Result<(), TlsError> {
        let sn = ServerName::try_from(name.to_string())
            .map_err(|e| TlsError::Verifier(format!("server name {name:?}: {e}")))?;
        if let Ok(mut m) = self.names.lock() {
            m.insert(canonical(addr), sn);
        }
        Ok(())
    }

    fn server_name(&self, addr: SocketAddr) -> ServerName<'static> {
        self.names
            .lock()
            .ok()
            .and_then(|m| m.get(&addr).cloned())
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()))
    }
}

/// Polls the certificate files once a second until the transports are gone.
pub(crate) async fn watch_files(ctx: Weak<TlsContext>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(ctx) = ctx.upgrade() else { return };
        let c = ctx.clone();
        // File reads and key parsing off the async workers.
        if tokio::task::spawn_blocking(move || c.reload_if_changed())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Accepts TLS connections with the TCP caps, each handshake in its own task bounded
/// by `handshake_timeout`, so a slow or silent client holds only its own slot.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    ctx: Arc<TlsContext>,
    listener: TcpListener,
    local: SocketAddr,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(%local, error = %e, "TLS accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if shared.shut.load(Ordering::SeqCst) {
            return;
        }
        let peer = canonical(peer);
        let Some(origin) = super::tcp::admit(&shared, peer) else {
            continue;
        };
        let (inbound, trusted) = (true, origin != Origin::Accepted { trusted: false });
        let Some(server) = ctx.server.load_full().as_ref().clone() else {
            shared.conns.release(peer.ip(), inbound, trusted);
            continue;
        };
        let shared = shared.clone();
        let timeout = ctx.settings.handshake_timeout;
        tokio::spawn(async move {
            let local = stream.local_addr().unwrap_or(local);
            let _ = stream.set_nodelay(true);
            let handshake = TlsAcceptor::from(server).accept(stream);
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(tls)) => {
                    inc(&shared.counters.tls_handshakes_in);
                    let leaf = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| c.clone().into_owned());
                    let (rd, wr) = tokio::io::split(tls);
                    let id =
                        conn::spawn_io(&shared, rd, wr, peer, local, origin, TransportKind::Tls);
                    if let Some(leaf) = leaf {
                        shared.conns.peer_certs.insert(id, leaf);
                    }
                }
                Ok(Err(e)) => {
                    inc(&shared.counters.tls_handshake_failed);
                    debug!(%peer, error = %e, "TLS handshake failed");
                    shared.conns.release(peer.ip(), inbound, trusted);
                }
                Err(_) => {
                    inc(&shared.counters.tls_handshake_failed);
                    debug!(%peer, "TLS handshake timed out");
                    shared.conns.release(peer.ip(), inbound, trusted);
                }
            }
        });
    }
}

/// RFC 3261 §18.1.1 / §18.2.2 over TLS: the connection the request came on, else an
/// open one to the address, else a new connection whose server certificate must be
/// valid for the peer's name (RFC 5922). A failed handshake is a transport error, so
/// the caller fails over as it would on a refused connect.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    target: &Target,
    data: Bytes,
) -> Result<(), TransportError> {
    let addr = canonical(target.addr);
    if let Some(id) = target.conn {
        match shared.conns.try_send(id, data.clone(), &shared.counters) {
            Err(TransportError::ConnectionClosed) => {}
            done => return done,
        }
    }
    if let Some(id) = shared.conns.by_addr(TransportKind::Tls, addr) {
        match shared.conns.try_send(id, data.clone(), &shared.counters) {
            Err(TransportError::ConnectionClosed) => {}
            done => return done,
        }
    }
    if shared.shut.load(Ordering::SeqCst) {
        return Err(TransportError::Shutdown);
    }
    let ctx = shared.cfg.tls.clone().ok_or(TransportError::NoListener {
        kind: TransportKind::Tls,
        ipv6: addr.is_ipv6(),
    })?;
    let connect = async {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr()?;
        let connector = TlsConnector::from(ctx.client.load_full());
        let tls = connector.connect(ctx.server_name(addr), stream).await?;
        Ok::<_, std::io::Error>((tls, local))
    };
    let timeout = shared.cfg.tcp_connect_timeout + ctx.settings.handshake_timeout;
    let (tls, local) = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            inc(&shared.counters.tls_handshake_failed);
            debug!(%addr, error = %e, "TLS connect failed");
            return Err(TransportError::Tls(e.to_string()));
        }
        Err(_) => {
            inc(&shared.counters.tls_handshake_failed);
            return Err(TransportError::ConnectTimeout);
        }
    };
    if let Some(id) = shared.conns.by_addr(TransportKind::Tls, addr) {
        if let Ok(()) = shared.conns.try_send(id, data.clone(), &shared.counters) {
            return Ok(());
        }
    }
    inc(&shared.counters.tls_handshakes_out);
    shared.conns.count_outbound();
    let (rd, wr) = tokio::io::split(tls);
    let id = conn::spawn_io(
        shared,
        rd,
        wr,
        addr,
        local,
        Origin::Outbound,
        TransportKind::Tls,
    );
    shared.conns.try_send(id, data, &shared.counters)
}
