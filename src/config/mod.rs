//! TEMPORARY integration stub (replaced by the config branch).
#![allow(missing_docs)]
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEFAULT_CONFIG: &str = "";
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);
impl std::fmt::Display for ConfigErrors { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}", self.0.join("\n")) } }
pub fn load_file(p: &Path) -> Result<Config, ConfigErrors> { let t = std::fs::read_to_string(p).map_err(|e| ConfigErrors(vec![e.to_string()]))?; parse_str(&t, "x") }
#[derive(Deserialize)] struct RawL { transport: Transport, address: SocketAddr }
#[derive(Deserialize)] struct RawSip { listen: Vec<RawL>, t1_ms: Option<u64>, t2_ms: Option<u64>, t4_ms: Option<u64> }
#[derive(Deserialize)] struct RawHttp { listen: SocketAddr }
#[derive(Deserialize)] struct RawC { name: String, address: SocketAddr, transport: Transport, priority: u32 }
#[derive(Deserialize)] struct Raw { sip: RawSip, http: RawHttp, carriers: Vec<RawC>, trunks: Vec<Trunk> }
pub fn parse_str(t: &str, _o: &str) -> Result<Config, ConfigErrors> {
    let r: Raw = toml::from_str(t).map_err(|e| ConfigErrors(vec![e.to_string()]))?;
    Ok(Config { sip: SipSettings { listen: r.sip.listen.into_iter().map(|l| Listen { transport: l.transport, address: l.address }).collect(), advertised_address: None,
        t1: Duration::from_millis(r.sip.t1_ms.unwrap_or(500)), t2: Duration::from_millis(r.sip.t2_ms.unwrap_or(4000)), t4: Duration::from_millis(r.sip.t4_ms.unwrap_or(5000)),
        max_message_size: 65536, udp_workers: 2, tcp_idle_timeout: Duration::from_secs(300), tcp_max_connections: 4096, tcp_max_per_source: 64, invite_timeout: Duration::from_secs(180), max_forwards: 70, user_agent: "trunkgate".into() },
        http: HttpSettings { listen: r.http.listen }, carriers: r.carriers.into_iter().map(|c| Carrier { name: c.name, address: c.address, transport: c.transport, priority: c.priority }).collect(), trunks: r.trunks, twilio: TwilioSettings { signaling_ranges: vec![] } })
}
#[derive(Debug, Clone)] pub struct Config { pub sip: SipSettings, pub http: HttpSettings, pub carriers: Vec<Carrier>, pub trunks: Vec<Trunk>, pub twilio: TwilioSettings }
#[derive(Debug, Clone)] pub struct SipSettings { pub listen: Vec<Listen>, pub advertised_address: Option<String>, pub t1: Duration, pub t2: Duration, pub t4: Duration, pub max_message_size: usize, pub udp_workers: usize, pub tcp_idle_timeout: Duration, pub tcp_max_connections: usize, pub tcp_max_per_source: usize, pub invite_timeout: Duration, pub max_forwards: u32, pub user_agent: String }
#[derive(Debug, Clone)] pub struct Listen { pub transport: Transport, pub address: SocketAddr }
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)] #[serde(rename_all = "lowercase")] pub enum Transport { Udp, Tcp }
#[derive(Debug, Clone)] pub struct HttpSettings { pub listen: SocketAddr }
#[derive(Debug, Clone)] pub struct Carrier { pub name: String, pub address: SocketAddr, pub transport: Transport, pub priority: u32 }
#[derive(Debug, Clone)] pub struct TwilioSettings { pub signaling_ranges: Vec<ipnet::IpNet> }
#[derive(Debug, Clone, Serialize, Deserialize)] pub struct Trunk { pub trunk_id: Uuid, pub status: String, pub direction: String, pub simultaneous_call_limit: Option<u32>, pub description: Option<String>, pub outbound: Option<OutboundSettings> }
#[derive(Debug, Clone, Serialize, Deserialize)] pub struct OutboundSettings { pub domain: Option<String>, pub authentication: Vec<Authentication>, pub fax_support: Option<String> }
#[derive(Debug, Clone, Serialize, Deserialize)] pub struct Authentication { pub source: String, pub value: String }
