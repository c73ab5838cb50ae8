use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::resolve::{parse_destination, testdns, NaptrRecord, SrvRecord, StaticTable};

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port,
        target: target.to_string(),
    }
}

fn naptr(order: u16, preference: u16, service: &str, replacement: &str) -> NaptrRecord {
    NaptrRecord {
        order,
        preference,
        service: service.to_string(),
        replacement: replacement.to_string(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(addr: &str, proto: Proto) -> Target {
    Target {
        addr: addr.parse().unwrap(),
        proto,
    }
}

#[derive(Default)]
struct Table(StaticTable);

impl Table {
    fn srv(mut self, name: &str, records: Vec<SrvRecord>) -> Self {
        self.0.srv.insert(name.to_string(), records);
        self
    }
    fn a(mut self, name: &str, ips: &[&str]) -> Self {
        self.0
            .a
            .insert(name.to_string(), ips.iter().map(|s| ip(s)).collect());
        self
    }
    fn naptr(mut self, name: &str, records: Vec<NaptrRecord>) -> Self {
        self.0.naptr.insert(name.to_string(), records);
        self
    }
    fn resolver(self) -> Resolver {
        Resolver::new(&ResolverConfig::Static(self.0)).unwrap()
    }
}

async fn resolve(r: &Resolver, dest: &str, seed: u64) -> Result<Vec<Target>, ResolveError> {
    let dest = parse_destination(dest).unwrap();
    r.resolve_with_rng(&dest, &mut StdRng::seed_from_u64(seed))
        .await
}

#[tokio::test]
async fn numeric_ip_needs_no_dns() {
    let r = Table::default().resolver();
    assert_eq!(
        resolve(&r, "192.0.2.10", 0).await,
        Ok(vec![t("192.0.2.10:5060", Proto::Udp)])
    );
    assert_eq!(
        resolve(&r, "192.0.2.10:5070", 0).await,
        Ok(vec![t("192.0.2.10:5070", Proto::Udp)])
    );
    assert_eq!(
        resolve(&r, "sip:x@[2001:db8::1]:5062;transport=tcp", 0).await,
        Ok(vec![t("[2001:db8::1]:5062", Proto::Tcp)])
    );
}

#[tokio::test]
async fn explicit_port_uses_a_and_aaaa_only() {
    let r = Table::default()
        .srv("_sip._udp.pbx.test", vec![srv(10, 0, 5999, "other.test")])
        .a("other.test", &["192.0.2.99"])
        .a("pbx.test", &["192.0.2.1", "2001:db8::1"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test:5070", 0).await,
        Ok(vec![
            t("192.0.2.1:5070", Proto::Udp),
            t("[2001:db8::1]:5070", Proto::Udp)
        ])
    );
    assert_eq!(
        resolve(&r, "sip:pbx.test:5070;transport=tcp", 0).await,
        Ok(vec![
            t("192.0.2.1:5070", Proto::Tcp),
            t("[2001:db8::1]:5070", Proto::Tcp)
        ])
    );
}

#[tokio::test]
async fn srv_priorities_are_strictly_ordered() {
    let r = Table::default()
        .srv(
            "_sip._udp.pbx.test",
            vec![
                srv(20, 65535, 5080, "b.pbx.test"),
                srv(10, 0, 5070, "a.pbx.test"),
            ],
        )
        .a("a.pbx.test", &["192.0.2.1", "192.0.2.2"])
        .a("b.pbx.test", &["192.0.2.3"])
        .resolver();
    for seed in 0..20 {
        assert_eq!(
            resolve(&r, "pbx.test", seed).await,
            Ok(vec![
                t("192.0.2.1:5070", Proto::Udp),
                t("192.0.2.2:5070", Proto::Udp),
                t("192.0.2.3:5080", Proto::Udp),
            ]),
            "seed {seed}"
        );
    }
}

#[tokio::test]
async fn srv_weights_pick_the_heavy_target_first_in_proportion() {
    let r = Table::default()
        .srv(
            "_sip._udp.pbx.test",
            vec![
                srv(10, 25, 5060, "light.test"),
                srv(10, 75, 5060, "heavy.test"),
            ],
        )
        .a("light.test", &["192.0.2.1"])
        .a("heavy.test", &["192.0.2.2"])
        .resolver();
    let dest = parse_destination("pbx.test").unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let mut heavy_first = 0;
    for _ in 0..1000 {
        let targets = r.resolve_with_rng(&dest, &mut rng).await.unwrap();
        assert_eq!(targets.len(), 2);
        if targets[0] == t("192.0.2.2:5060", Proto::Udp) {
            heavy_first += 1;
        }
    }
    // RFC 2782 draw in 0..=100: P(heavy first) = 75/101 ≈ 0.74.
    assert!((680..=800).contains(&heavy_first), "{heavy_first}");
}

#[tokio::test]
async fn sips_destination_uses_sips_srv_then_port_5061() {
    let r = Table::default()
        .srv("_sips._tcp.pbx.test", vec![srv(10, 0, 5071, "t.pbx.test")])
        .a("t.pbx.test", &["192.0.2.2"])
        .a("plain.test", &["192.0.2.3"])
        .resolver();
    assert_eq!(
        resolve(&r, "sips:bob@pbx.test", 0).await,
        Ok(vec![t("192.0.2.2:5071", Proto::Tls)])
    );
    // RFC 3263 §4.2: no SRV -> A record, port 5061 for TLS.
    assert_eq!(
        resolve(&r, "sip:plain.test;transport=tls", 0).await,
        Ok(vec![t("192.0.2.3:5061", Proto::Tls)])
    );
    assert_eq!(
        resolve(&r, "sips:192.0.2.9", 0).await,
        Ok(vec![t("192.0.2.9:5061", Proto::Tls)])
    );
}

#[tokio::test]
async fn naptr_leads_to_srv_with_its_transport() {
    let r = Table::default()
        .naptr(
            "pbx.test",
            vec![
                naptr(20, 10, "SIP+D2U", "_sip._udp.pbx.test"),
                naptr(10, 10, "SIP+D2T", "_sip._tcp.pbx.test"),
                naptr(5, 10, "SIPS+D2T", "_sips._tcp.pbx.test"),
            ],
        )
        .srv("_sip._udp.pbx.test", vec![srv(10, 0, 5060, "u.pbx.test")])
        .srv("_sip._tcp.pbx.test", vec![srv(10, 0, 5062, "t.pbx.test")])
        .srv("_sips._tcp.pbx.test", vec![srv(10, 0, 5061, "t.pbx.test")])
        .a("u.pbx.test", &["192.0.2.1"])
        .a("t.pbx.test", &["192.0.2.2"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Ok(vec![
            t("192.0.2.2:5061", Proto::Tls),
            t("192.0.2.2:5062", Proto::Tcp),
            t("192.0.2.1:5060", Proto::Udp)
        ])
    );
}

#[tokio::test]
async fn without_naptr_srv_udp_then_tcp() {
    let r = Table::default()
        .srv("_sip._tcp.pbx.test", vec![srv(1, 0, 5062, "t.pbx.test")])
        .srv("_sip._udp.pbx.test", vec![srv(99, 0, 5060, "u.pbx.test")])
        .a("u.pbx.test", &["192.0.2.1"])
        .a("t.pbx.test", &["192.0.2.2"])
        .a("pbx.test", &["192.0.2.3"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Ok(vec![
            t("192.0.2.1:5060", Proto::Udp),
            t("192.0.2.2:5062", Proto::Tcp)
        ])
    );
}

#[tokio::test]
async fn transport_param_skips_naptr() {
    let r = Table::default()
        .naptr(
            "pbx.test",
            vec![naptr(10, 10, "SIP+D2U", "_sip._udp.pbx.test")],
        )
        .srv("_sip._udp.pbx.test", vec![srv(10, 0, 5060, "u.pbx.test")])
        .srv("_sip._tcp.pbx.test", vec![srv(10, 0, 5062, "t.pbx.test")])
        .a("u.pbx.test", &["192.0.2.1"])
        .a("t.pbx.test", &["192.0.2.2"])
        .a("other.test", &["192.0.2.9"])
        .resolver();
    assert_eq!(
        resolve(&r, "sip:pbx.test;transport=tcp", 0).await,
        Ok(vec![t("192.0.2.2:5062", Proto::Tcp)])
    );
    // No SRV for the transport: A/AAAA on 5060 with that transport.
    assert_eq!(
        resolve(&r, "sip:other.test;transport=tcp", 0).await,
        Ok(vec![t("192.0.2.9:5060", Proto::Tcp)])
    );
}

#[tokio::test]
async fn no_srv_falls_back_to_a_on_5060_udp() {
    let r = Table::default()
        .a("PBX.test.", &["192.0.2.1", "2001:db8::7"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Ok(vec![
            t("192.0.2.1:5060", Proto::Udp),
            t("[2001:db8::7]:5060", Proto::Udp)
        ])
    );
}

#[tokio::test]
async fn srv_without_addresses_does_not_fall_back_to_a() {
    // RFC 3263 §4.2: the A record of the domain is used only when no SRV exists.
    let r = Table::default()
        .srv(
            "_sip._udp.pbx.test",
            vec![srv(10, 0, 5060, "gone.pbx.test")],
        )
        .a("pbx.test", &["192.0.2.1"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Err(ResolveError::NoRecords {
            name: "pbx.test".to_string()
        })
    );
}

#[tokio::test]
async fn duplicate_addresses_are_tried_once() {
    let r = Table::default()
        .srv(
            "_sip._udp.pbx.test",
            vec![
                srv(10, 0, 5060, "a.pbx.test"),
                srv(20, 0, 5060, "b.pbx.test"),
            ],
        )
        .a("a.pbx.test", &["192.0.2.1"])
        .a("b.pbx.test", &["192.0.2.1", "192.0.2.2"])
        .resolver();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Ok(vec![
            t("192.0.2.1:5060", Proto::Udp),
            t("192.0.2.2:5060", Proto::Udp)
        ])
    );
}

#[tokio::test]
async fn nothing_is_no_records() {
    let r = Table::default().resolver();
    let err = resolve(&r, "pbx.test", 0).await.unwrap_err();
    assert_eq!(
        err,
        ResolveError::NoRecords {
            name: "pbx.test".to_string()
        }
    );
    assert_eq!(err.name(), "no_records");
}

#[test]
fn dns_resolver_builds_outside_a_runtime() {
    let r = Resolver::new(&ResolverConfig::Nameservers(vec!["127.0.0.1:53"
        .parse()
        .unwrap()]));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn empty_nameserver_list_is_a_config_error() {
    let err = Resolver::new(&ResolverConfig::Nameservers(Vec::new())).unwrap_err();
    assert_eq!(err.name(), "config");
}

fn pbx_zone() -> StaticTable {
    Table::default()
        .srv(
            "_sip._udp.pbx.test.",
            vec![
                srv(20, 0, 5080, "b.pbx.test."),
                srv(10, 0, 5070, "a.pbx.test."),
            ],
        )
        .a("a.pbx.test.", &["127.0.0.1"])
        .a("b.pbx.test.", &["127.0.0.1"])
        .0
}

#[tokio::test]
async fn dns_round_trip_srv_then_a() {
    let (server, handle) = testdns::start(pbx_zone()).await;
    let r = Resolver::new(&ResolverConfig::Nameservers(vec![server])).unwrap();
    let dest = parse_destination("pbx.test").unwrap();
    // `resolve` (OS-seeded RNG) from a spawned task: the future is Send.
    let resolved = tokio::spawn(async move { r.resolve(&dest).await })
        .await
        .unwrap();
    assert_eq!(
        resolved,
        Ok(vec![
            t("127.0.0.1:5070", Proto::Udp),
            t("127.0.0.1:5080", Proto::Udp)
        ])
    );
    handle.abort();
}

#[tokio::test]
async fn dns_round_trip_naptr_and_nxdomain() {
    let mut zone = pbx_zone();
    zone.naptr.insert(
        "pbx.test".to_string(),
        vec![naptr(10, 10, "SIP+D2T", "_sip._tcp.pbx.test")],
    );
    zone.srv.insert(
        "_sip._tcp.pbx.test".to_string(),
        vec![srv(10, 0, 5062, "c.pbx.test")],
    );
    zone.a
        .insert("c.pbx.test".to_string(), vec![ip("::1"), ip("127.0.0.2")]);
    let (server, handle) = testdns::start(zone).await;
    let r = Resolver::new(&ResolverConfig::Nameservers(vec![server])).unwrap();
    assert_eq!(
        resolve(&r, "pbx.test", 0).await,
        Ok(vec![
            t("127.0.0.2:5062", Proto::Tcp),
            t("[::1]:5062", Proto::Tcp)
        ])
    );
    assert_eq!(
        resolve(&r, "missing.test", 0).await,
        Err(ResolveError::NoRecords {
            name: "missing.test".to_string()
        })
    );
    handle.abort();
}

#[tokio::test]
async fn silent_nameserver_times_out_within_budget() {
    // A UDP socket and a TCP listener that never answer.
    let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr: SocketAddr = udp.local_addr().unwrap();
    let _tcp = tokio::net::TcpListener::bind(addr).await.ok();
    let budget = std::time::Duration::from_millis(400);
    let r = Resolver::with_timeout(&ResolverConfig::Nameservers(vec![addr]), budget).unwrap();
    let started = tokio::time::Instant::now();
    let err = resolve(&r, "pbx.test", 0).await.unwrap_err();
    assert_eq!(err.name(), "timeout", "{err}");
    assert!(started.elapsed() < budget * 3, "{:?}", started.elapsed());
}

#[test]
fn static_table_keys_ignore_case_and_trailing_dot() {
    let mut table = StaticTable::default();
    table
        .a
        .insert("A.Example.TEST.".to_string(), vec![ip("192.0.2.1")]);
    let r = Resolver::new(&ResolverConfig::Static(table)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(resolve(&r, "a.example.test:5070", 0));
    assert_eq!(got, Ok(vec![t("192.0.2.1:5070", Proto::Udp)]));
}
