//! `[media]` rules (addresses, the port range, timers, the tone country) and
//! `[flow]` rules (worker URLs, timeouts).

use std::time::Duration;

use super::Errors;
use crate::config::raw::RawMedia;
use crate::media::MediaSettings;

pub(super) fn validate_media(e: &mut Errors, raw: &RawMedia, data_dir: &str) -> MediaSettings {
    let mut m = MediaSettings {
        recordings_dir: std::path::Path::new(data_dir).join("recordings"),
        ..MediaSettings::default()
    };
    if let Some(v) = raw.enabled {
        m.enabled = v;
    }
    let ip = |e: &mut Errors, key: &str, v: &Option<String>| -> Option<std::net::IpAddr> {
        let s = v.as_ref()?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                e.add(key, format!("must be an IP address (got {s:?})"));
                None
            }
        }
    };
    match ip(e, "media.bind_ipv4", &raw.bind_ipv4) {
        Some(std::net::IpAddr::V4(a)) => m.bind_ipv4 = a,
        Some(_) => e.add("media.bind_ipv4", "must be an IPv4 address"),
        None => {}
    }
    match ip(e, "media.bind_ipv6", &raw.bind_ipv6) {
        Some(std::net::IpAddr::V6(a)) => m.bind_ipv6 = a,
        Some(_) => e.add("media.bind_ipv6", "must be an IPv6 address"),
        None => {}
    }
    match ip(e, "media.advertise_ipv4", &raw.advertise_ipv4) {
        Some(std::net::IpAddr::V4(a)) if !a.is_unspecified() => m.advertise_ipv4 = Some(a),
        Some(_) => e.add(
            "media.advertise_ipv4",
            "must be a concrete IPv4 address (not 0.0.0.0)",
        ),
        None => {}
    }
    match ip(e, "media.advertise_ipv6", &raw.advertise_ipv6) {
        Some(std::net::IpAddr::V6(a)) if !a.is_unspecified() => m.advertise_ipv6 = Some(a),
        Some(_) => e.add(
            "media.advertise_ipv6",
            "must be a concrete IPv6 address (not ::)",
        ),
        None => {}
    }
    let min = raw.port_min.unwrap_or(u32::from(m.port_min));
    let max = raw.port_max.unwrap_or(u32::from(m.port_max));
    e.range("media.port_min", min, 1024, 65534);
    e.range("media.port_max", max, 1025, 65535);
    if max < min + 3 {
        e.add(
            "media.port_max",
            format!(
                "must leave room for at least two RTP/RTCP pairs above port_min {min} (got {max})"
            ),
        );
    } else {
        m.port_min = min as u16;
        m.port_max = max as u16;
    }
    if let Some(t) = raw.rtp_timeout_s {
        e.range("media.rtp_timeout_s", t, 0, 3600);
        m.rtp_timeout = (t > 0).then(|| Duration::from_secs(t));
    }
    match raw.latch.as_deref() {
        None | Some("signaled_ip") => {}
        Some("any") => m.latch_any = true,
        Some(other) => e.add(
            "media.latch",
            format!("must be \"signaled_ip\" or \"any\" (got {other:?})"),
        ),
    }
    if let Some(t) = raw.busy_tone_s {
        e.range("media.busy_tone_s", t, 1, 30);
        m.busy_tone = Duration::from_secs(t);
    }
    if let Some(c) = &raw.default_country {
        if crate::media::tones::has_country(c) {
            m.default_country = Some(c.to_ascii_uppercase());
        } else {
            e.add(
                "media.default_country",
                format!("must be an ISO 3166 alpha-2 code in the tone table (got {c:?})"),
            );
        }
    }
    if let Some(d) = &raw.recordings_dir {
        if d.is_empty() {
            e.add("media.recordings_dir", "must not be empty");
        } else {
            m.recordings_dir = d.into();
        }
    }
    if let Some(q) = raw.recording_queue {
        e.range("media.recording_queue", q, 64, 1_000_000);
        m.recording_queue = q;
    }
    if let Some(q) = raw.quality {
        m.quality = q;
    }
    if let Some(t) = raw.one_way_after_s {
        e.range("media.one_way_after_s", t, 0, 3600);
        m.one_way_after = (t > 0).then(|| Duration::from_secs(t));
    }
    m
}

/// `[flow]`: worker URLs (`http://IP-or-name:port`) and timeouts.
pub(super) fn validate_flow(
    e: &mut Errors,
    raw: &crate::config::raw::RawFlow,
) -> crate::flow::WorkerSettings {
    let mut w = crate::flow::WorkerSettings::default();
    for (i, url) in raw.workers.iter().enumerate() {
        let ok = url
            .strip_prefix("http://")
            .and_then(|rest| rest.rsplit_once(':'))
            .is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
        if ok {
            w.workers
                .push(crate::flow::WorkerEndpoint { url: url.clone() });
        } else {
            e.add(
                format!("flow.workers[{i}]"),
                format!("must be http://host:port (got {url:?})"),
            );
        }
    }
    if let Some(ms) = raw.connect_timeout_ms {
        e.range("flow.connect_timeout_ms", ms, 50, 30_000);
        w.connect_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = raw.offer_timeout_ms {
        e.range("flow.offer_timeout_ms", ms, 50, 30_000);
        w.offer_timeout = Duration::from_millis(ms);
    }
    if let Some(s) = raw.health_interval_s {
        e.range("flow.health_interval_s", s, 0, 3600);
        w.health_interval = Duration::from_secs(s);
    }
    w
}
