//! Process metrics in the names Prometheus client libraries use
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, `process_max_fds`, `process_start_time_seconds`,
//! `process_threads`), read from `/proc/self` at scrape time, and
//! `trunkgate_build_info{version}`. The registry adds the node's `node_id`
//! label (`[cluster]`) to these as to every series.
//!
//! prometheus-client has no process collector, so this one reads `/proc`
//! through the `procfs` crate; a read that fails (not Linux, `/proc` not
//! mounted) leaves the metric out of that scrape rather than reporting 0.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Registers the process collector and `trunkgate_build_info` on `registry`
/// (whose constant `node_id` label every series carries).
pub fn register(registry: &mut Registry) {
    let build = Family::<BuildLabels, Gauge>::default();
    build
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
    registry.register(
        "trunkgate_build_info",
        "Always 1; labelled with the running build's version",
        build,
    );
    registry.register_collector(Box::new(ProcessCollector));
}

#[derive(Debug)]
struct ProcessCollector;

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let Ok(me) = procfs::process::Process::myself() else {
            return Ok(());
        };
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
            cpu.encode(enc.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                cpu.metric_type(),
            )?)?;
            let rss = stat.rss.saturating_mul(procfs::page_size());
            gauge(
                &mut enc,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                rss as f64,
            )?;
            gauge(
                &mut enc,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                stat.vsize as f64,
            )?;
            gauge(
                &mut enc,
                "process_threads",
                "OS threads of the process",
                stat.num_threads as f64,
            )?;
            if let Ok(boot) = procfs::boot_time_secs() {
                let start = boot as f64 + stat.starttime as f64 / ticks;
                gauge(
                    &mut enc,
                    "process_start_time_seconds",
                    "Start time of the process since the Unix epoch, in seconds",
                    start,
                )?;
            }
        }
        if let Ok(n) = me.fd_count() {
            gauge(
                &mut enc,
                "process_open_fds",
                "Open file descriptors",
                n as f64,
            )?;
        }
        if let Ok(limits) = me.limits() {
            if let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit {
                gauge(
                    &mut enc,
                    "process_max_fds",
                    "Limit on open file descriptors (RLIMIT_NOFILE, soft)",
                    max as f64,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_process_metrics_and_build_info() {
        let mut reg = Registry::with_labels(std::iter::once((
            std::borrow::Cow::Borrowed("node_id"),
            std::borrow::Cow::Borrowed("sbc-a"),
        )));
        register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(text.contains(&format!(
            "trunkgate_build_info{{node_id=\"sbc-a\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
        for name in [
            "process_cpu_seconds_total{node_id=\"sbc-a\"} ",
            "process_resident_memory_bytes{node_id=\"sbc-a\"} ",
            "process_open_fds{node_id=\"sbc-a\"} ",
            "process_max_fds{node_id=\"sbc-a\"} ",
            "process_start_time_seconds{node_id=\"sbc-a\"} ",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"));
            let v: f64 = line[name.len()..].trim().parse().unwrap();
            // CPU time may still be under one clock tick in a fresh test process.
            let min_ok = if name.starts_with("process_cpu") {
                v >= 0.0
            } else {
                v > 0.0
            };
            assert!(min_ok, "{line}");
        }
    }
}

/// Descriptors the config can need at once: two per media port (RTP and
/// RTCP of every pair), the SIP TCP/TLS and HTTP connection caps, and a
/// reserve for listeners, the store, logs and outbound connections.
pub fn descriptors_needed(config: &crate::config::Config) -> u64 {
    let media = if config.media.enabled {
        u64::from(config.media.port_max.saturating_sub(config.media.port_min)) + 1
    } else {
        0
    };
    media + descriptors_reserved(config) as u64
}

/// Descriptors the config can need at once besides the media ports: the
/// SIP TCP/TLS and HTTP connection caps and the reserve of
/// [`descriptors_needed`]. The media port pool leaves them free.
pub fn descriptors_reserved(config: &crate::config::Config) -> usize {
    config.sip.tcp_max_connections + config.http.limits.max_connections + 256
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and says, once, when even
/// that does not fit [`descriptors_needed`] (the gateway still starts: the
/// media pool keeps to what [`descriptors_reserved`] leaves and anchored
/// calls beyond it get 503 `media_ports_exhausted`; raise `LimitNOFILE=`).
pub fn check_descriptors(config: &crate::config::Config) {
    let needed = descriptors_needed(config);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => tracing::warn!(
            limit,
            needed,
            "RLIMIT_NOFILE is below what the media port range and connection caps can use; raise it (systemd: LimitNOFILE=) or narrow [media] port_min/port_max"
        ),
        Ok(limit) => tracing::debug!(limit, needed, "RLIMIT_NOFILE fits the config"),
        Err(e) => tracing::warn!(error = %e, needed, "cannot read or raise RLIMIT_NOFILE"),
    }
}

#[cfg(test)]
mod fd_tests {
    #[test]
    fn the_default_config_needs_its_media_range_and_caps() {
        let c = crate::config::parse_str(crate::config::DEFAULT_CONFIG, "default").unwrap();
        // 20000..=49999 (30000 ports) + 4096 SIP TCP + 256 HTTP + 256 reserve.
        assert_eq!(super::descriptors_needed(&c), 30000 + 4096 + 256 + 256);
    }
}
