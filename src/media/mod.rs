//! Media anchoring: every call's RTP passes through the gateway.
//!
//! This file holds the node's media engine ([`Media`]: settings, the port
//! range, the recorder) and its metric families ([`MediaMetrics`]). Per call:
//!
//! - [`session`]: the call task's handle on its media — SDP in, SDP out,
//!   ports allocated, the relay steered with [`relay::Cmd`]s.
//! - [`relay`]: the per-call media task that owns the call's sockets and
//!   moves packets leg to leg (latching, in-place rewrite, RFC 4733
//!   detection), run on the media threads of [`runtime`]; it composes parts
//!   that own their state (`relay/endpoint.rs`: one leg's sockets, addresses
//!   and SRTP; `playout.rs`: tone and prompt playout; `tap.rs`: the recording
//!   tap; `watch.rs`: the dead-media watch); [`rtp`] holds its
//!   allocation-free header work.
//! - [`leg`]: the two legs and where each wants its media, shared by the
//!   relay, [`quality`] (loss, jitter, RTCP, MOS, one-way audio) and
//!   [`srtp`] (SDES-SRTP per leg: the offer/answer in `srtp/sdes.rs`, the
//!   relay's packet crypto in `srtp/end.rs`); none of those three imports
//!   another for it.
//! - [`ports`]: the RTP/RTCP port pairs of the range, one owner.
//!
//! Beside them: [`g711`] (PCMU/PCMA, hand-written), [`tones`] (E.180 ringback
//! and busy tones, data in `tones.toml`), [`prompt`] (WAV prompts and in-band
//! DTMF for call flows), [`record`] (pre-connect recordings, stereo WAV
//! written off the packet path by `record/writer.rs`).
//!
//! SDP parsing and rewriting, and the [`Codec`](crate::sip::sdp::Codec)s the
//! gateway understands, live in `sip::sdp` (no I/O there). Depends on `sip`
//! and the label sets of `metric_labels`; never on `call`, `config` or
//! `metrics` (which holds [`MediaMetrics`], not the other way round).

pub mod g711;
pub mod leg;
pub mod record;
pub mod tones;

pub mod batch;
pub mod ports;
pub mod prompt;
pub mod quality;
pub mod relay;
pub mod rtp;
pub mod runtime;
pub mod session;
pub mod srtp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The `[media]` settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSettings {
    /// Off: SDP passes through untouched and media flows end to end.
    pub enabled: bool,
    pub bind_ipv4: Ipv4Addr,
    pub bind_ipv6: Ipv6Addr,
    /// What SDP says (NAT 1:1 / public address); `None`: the bind address, or
    /// the local address the kernel routes toward the leg's signaling peer.
    pub advertise_ipv4: Option<Ipv4Addr>,
    pub advertise_ipv6: Option<Ipv6Addr>,
    pub port_min: u16,
    pub port_max: u16,
    /// No RTP on an answered call for this long -> BYE both legs. `None`: never.
    pub rtp_timeout: Option<Duration>,
    /// Latch a leg's media from any source address, not only its signaled IP.
    pub latch_any: bool,
    /// How long a caller over an inbound trunk's limit hears the busy tone before 486.
    pub busy_tone: Duration,
    /// Tone country when a number's country is unknown (`None`: the ITU-T default tone).
    pub default_country: Option<String>,
    pub recordings_dir: PathBuf,
    /// Frames the recorder may queue before dropping (and counting) them.
    pub recording_queue: usize,
    /// Measure loss, jitter and MOS of every call (`media::quality`).
    pub quality: bool,
    /// RTP one way only this long after the answer flags one-way audio (`None`: never).
    pub one_way_after: Option<Duration>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            enabled: true,
            bind_ipv4: Ipv4Addr::UNSPECIFIED,
            bind_ipv6: Ipv6Addr::UNSPECIFIED,
            advertise_ipv4: None,
            advertise_ipv6: None,
            port_min: 20000,
            port_max: 49999,
            rtp_timeout: Some(Duration::from_secs(60)),
            latch_any: false,
            busy_tone: Duration::from_secs(4),
            default_country: None,
            recordings_dir: PathBuf::from("data/recordings"),
            recording_queue: 8192,
            quality: true,
            one_way_after: Some(Duration::from_secs(5)),
        }
    }
}

const DROP_REASONS: [&str; 4] = ["source", "no_target", "send_failed", "srtp_auth"];

/// Media metric families (registered once, cloned into every media task).
#[derive(Clone, Default)]
pub struct MediaMetrics {
    pub sessions_active: Gauge,
    pub packets_relayed: Counter,
    pub packets_generated: Counter,
    /// By reason: source (not the leg's address), no_target, send_failed,
    /// srtp_auth (SRTP/SRTCP authentication or replay check failed).
    pub packets_dropped: [Counter; 4],
    pub rtp_timeouts: Counter,
    pub ports_exhausted: Counter,
    pub recording_frames_dropped: Counter,
    pub ports_available: Gauge,
}

impl MediaMetrics {
    /// Creates the families on `reg` (unregistered defaults work too, for tests).
    pub fn register(reg: &mut Registry) -> MediaMetrics {
        let m = MediaMetrics::default();
        let dropped: Family<crate::metric_labels::ReasonLabels, Counter> = Family::default();
        let packets_dropped = DROP_REASONS.map(|reason| {
            dropped
                .get_or_create(&crate::metric_labels::ReasonLabels { reason })
                .clone()
        });
        reg.register(
            "trunkgate_media_packets_dropped",
            "Media packets dropped: source (not from the leg's address), no_target, send_failed, srtp_auth",
            dropped,
        );
        reg.register(
            "trunkgate_media_sessions_active",
            "Calls with an active media relay task",
            m.sessions_active.clone(),
        );
        reg.register(
            "trunkgate_media_packets_relayed",
            "RTP packets relayed from one leg to the other",
            m.packets_relayed.clone(),
        );
        reg.register(
            "trunkgate_media_packets_generated",
            "RTP packets of gateway tones sent",
            m.packets_generated.clone(),
        );
        reg.register(
            "trunkgate_media_rtp_timeouts",
            "Answered calls ended because no RTP arrived",
            m.rtp_timeouts.clone(),
        );
        reg.register(
            "trunkgate_media_ports_exhausted",
            "Calls refused because the media port range, or the descriptors the media pool may hold, were exhausted",
            m.ports_exhausted.clone(),
        );
        reg.register(
            "trunkgate_recording_frames_dropped",
            "Recorded frames dropped because the recorder fell behind",
            m.recording_frames_dropped.clone(),
        );
        reg.register(
            "trunkgate_media_port_pairs_available",
            "Free RTP/RTCP port pairs in the media range",
            m.ports_available.clone(),
        );
        MediaMetrics {
            packets_dropped,
            ..m
        }
    }
}

/// The node's media engine: settings, the port range, the recorder.
pub struct Media {
    /// Replaced by a reload (port range, binds and recorder stay as started).
    settings: arc_swap::ArcSwap<MediaSettings>,
    pool: ports::PortRange,
    recorder: OnceLock<Option<record::Recorder>>,
    pub metrics: MediaMetrics,
    session_base: u64,
    /// Peer IP -> our source address toward it ([`route_source`] costs four
    /// syscalls; routes rarely change): entries live [`ROUTE_TTL`].
    routes: std::sync::Mutex<std::collections::HashMap<IpAddr, (IpAddr, tokio::time::Instant)>>,
}

/// Descriptors the port pool may hold in sockets (live and idle) in a
/// process allowed `nofile` that keeps `reserve` for everything else; never
/// less than half of `nofile` (the pool's share before the reserve was known).
fn pool_budget(nofile: usize, reserve: usize) -> usize {
    nofile.saturating_sub(reserve).max(nofile / 2)
}

/// How long a learnt route source is trusted before it is asked again.
const ROUTE_TTL: Duration = Duration::from_secs(30);
/// Peers remembered at most (the map is emptied when full).
const ROUTES_MAX: usize = 4096;

impl Media {
    /// The relay whose port pool may keep half of the process's
    /// descriptors in sockets (see [`Media::with_fd_reserve`]).
    pub fn new(settings: MediaSettings, metrics: MediaMetrics) -> Arc<Media> {
        let nofile = ports::nofile();
        Media::with_fd_reserve(settings, metrics, nofile / 2)
    }

    /// The relay whose port pool leaves `reserve` descriptors to the rest of
    /// the process (SIP/TCP and HTTP connection caps, listeners, the store:
    /// `process_metrics::descriptors_reserved`) and may keep the others in
    /// sockets, live and idle; never less than half of them.
    pub fn with_fd_reserve(
        settings: MediaSettings,
        metrics: MediaMetrics,
        reserve: usize,
    ) -> Arc<Media> {
        let nofile = ports::nofile();
        let pool = ports::PortRange::new(
            settings.port_min,
            settings.port_max,
            runtime::count(),
            nofile,
            pool_budget(nofile, reserve),
        );
        metrics.ports_available.set(pool.total() as i64);
        if settings.enabled {
            pool.start_prebind(IpAddr::V4(settings.bind_ipv4));
        }
        Arc::new(Media {
            routes: Default::default(),
            settings: arc_swap::ArcSwap::from_pointee(settings),
            pool,
            recorder: OnceLock::new(),
            metrics,
            session_base: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        })
    }

    /// The settings new calls use.
    pub fn settings(&self) -> Arc<MediaSettings> {
        self.settings.load_full()
    }

    /// Reload: new calls use `new`'s enabled, advertise, RTP timeout, latch,
    /// busy tone and default country. The port range, bind addresses and
    /// recorder are fixed at start; a change to them is logged and ignored.
    pub fn update_settings(&self, mut new: MediaSettings) {
        let cur = self.settings();
        if (new.port_min, new.port_max, new.bind_ipv4, new.bind_ipv6)
            != (cur.port_min, cur.port_max, cur.bind_ipv4, cur.bind_ipv6)
            || new.recordings_dir != cur.recordings_dir
            || new.recording_queue != cur.recording_queue
        {
            tracing::warn!("config reload: [media] port range, bind addresses and recorder take effect at the next restart");
        }
        new.port_min = cur.port_min;
        new.port_max = cur.port_max;
        new.bind_ipv4 = cur.bind_ipv4;
        new.bind_ipv6 = cur.bind_ipv6;
        new.recordings_dir = cur.recordings_dir.clone();
        new.recording_queue = cur.recording_queue;
        self.settings.store(Arc::new(new));
    }

    pub fn enabled(&self) -> bool {
        self.settings().enabled
    }

    fn relay_options(&self) -> relay::RelayOptions {
        relay::RelayOptions {
            latch_any: self.settings().latch_any,
            rtp_timeout: self.settings().rtp_timeout,
            quality: quality::QualityOptions {
                enabled: self.settings().quality,
                one_way_after: self.settings().one_way_after,
            },
        }
    }

    /// A port pair for a call whose media task runs on media thread `thread`.
    fn allocate(&self, v6: bool, thread: usize) -> Result<ports::PortPair, ports::PortError> {
        let ip = if v6 {
            IpAddr::V6(self.settings().bind_ipv6)
        } else {
            IpAddr::V4(self.settings().bind_ipv4)
        };
        let r = self.pool.allocate(ip, thread);
        if matches!(r, Err(ports::PortError::Exhausted)) {
            self.metrics.ports_exhausted.inc();
        }
        self.metrics
            .ports_available
            .set(self.pool.available() as i64);
        r
    }

    /// Refreshes `trunkgate_media_port_pairs_available` from the pool (at
    /// every scrape: pairs come back when a call's relay ends, not on a
    /// path that could update the gauge cheaply).
    pub fn publish_gauges(&self) {
        self.metrics
            .ports_available
            .set(self.pool.available() as i64);
    }

    /// o= session id for SDP we originate.
    fn session_id(&self) -> u64 {
        self.session_base
    }

    fn default_address(&self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(
                self.settings()
                    .advertise_ipv6
                    .unwrap_or(Ipv6Addr::LOCALHOST),
            )
        } else {
            IpAddr::V4(
                self.settings()
                    .advertise_ipv4
                    .unwrap_or(Ipv4Addr::LOCALHOST),
            )
        }
    }

    /// The address a leg whose signaling peer is `peer` is told to send media to.
    pub fn advertise_for(&self, peer: SocketAddr) -> IpAddr {
        let s = self.settings();
        if peer.is_ipv6() {
            if let Some(a) = s.advertise_ipv6 {
                return IpAddr::V6(a);
            }
            if !s.bind_ipv6.is_unspecified() {
                return IpAddr::V6(s.bind_ipv6);
            }
        } else {
            if let Some(a) = s.advertise_ipv4 {
                return IpAddr::V4(a);
            }
            if !s.bind_ipv4.is_unspecified() {
                return IpAddr::V4(s.bind_ipv4);
            }
        }
        self.cached_route_source(peer)
            .unwrap_or_else(|| self.default_address(peer.is_ipv6()))
    }

    /// [`route_source`] toward `peer`'s IP, remembered for [`ROUTE_TTL`].
    fn cached_route_source(&self, peer: SocketAddr) -> Option<IpAddr> {
        let now = tokio::time::Instant::now();
        if let Ok(routes) = self.routes.lock() {
            if let Some((ip, at)) = routes.get(&peer.ip()) {
                if now.duration_since(*at) < ROUTE_TTL {
                    return Some(*ip);
                }
            }
        }
        let ip = route_source(peer)?;
        if let Ok(mut routes) = self.routes.lock() {
            if routes.len() >= ROUTES_MAX {
                routes.clear();
            }
            routes.insert(peer.ip(), (ip, now));
        }
        Some(ip)
    }

    /// The recorder, started on first use (so nodes that never record open no thread).
    pub fn recorder(&self) -> Option<&record::Recorder> {
        self.recorder
            .get_or_init(|| {
                match record::Recorder::start(
                    self.settings().recordings_dir.clone(),
                    self.settings().recording_queue,
                    self.metrics.recording_frames_dropped.clone(),
                ) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(dir = %self.settings().recordings_dir.display(), error = %e, "recorder could not start");
                        None
                    }
                }
            })
            .as_ref()
    }
}

/// The local address the kernel would send from toward `peer` (a connected
/// UDP socket sends nothing; it only asks the routing table).
fn route_source(peer: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if peer.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(peer).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod budget_tests {
    /// This machine's limit with the default config's reserve (4096 SIP
    /// TCP + 256 HTTP + 256): the pool may keep 15,392 sockets instead of
    /// 10,000; a limit too low for the reserve keeps the old half; the
    /// unit's 65536 leaves the whole default range bound either way.
    #[test]
    fn the_pool_takes_what_the_reserve_leaves() {
        assert_eq!(super::pool_budget(20000, 4608), 15392);
        assert_eq!(super::pool_budget(1024, 4608), 512);
        assert_eq!(super::pool_budget(8192, 4608), 4096);
        assert_eq!(super::pool_budget(65536, 4608), 60928);
    }
}
