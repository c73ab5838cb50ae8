//! A tiny authoritative DNS server for tests: answers A, AAAA, SRV and NAPTR
//! questions from a [`StaticTable`] over UDP and TCP on one loopback port, so
//! a [`Resolver`](super::Resolver) built with
//! [`ResolverConfig::Nameservers`](super::ResolverConfig::Nameservers) makes
//! real DNS round trips. Unknown names get NXDOMAIN; known names with no
//! record of the asked type get an empty NOERROR (NODATA). Not for production.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use super::{normalize_name, StaticTable};

const TTL: u32 = 5;

/// Starts the server on `127.0.0.1:<ephemeral>` (UDP and TCP on the same
/// port). It runs until the handle is aborted or the runtime stops.
///
/// # Panics
/// When no loopback port can be bound (a broken test environment).
pub async fn start(records: StaticTable) -> (SocketAddr, JoinHandle<()>) {
    match try_start(records).await {
        Ok(started) => started,
        Err(e) => panic!("testdns: cannot bind 127.0.0.1: {e}"),
    }
}

/// [`start`], returning bind errors instead of panicking.
pub async fn try_start(records: StaticTable) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let table = Arc::new(normalize(records));
    let mut last_err = None;
    // The UDP port may be taken for TCP; a few tries find a free pair.
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => {
                let handle = tokio::spawn(async move {
                    tokio::join!(serve_udp(udp, table.clone()), serve_tcp(tcp, table.clone()));
                });
                return Ok((addr, handle));
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free port")))
}

async fn serve_udp(sock: UdpSocket, table: Arc<StaticTable>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = answer(&table, &buf[..n]) {
            let _ = sock.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, table: Arc<StaticTable>) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_conn(stream, table.clone()));
        }
    }
}

/// RFC 1035 §4.2.2: each message is prefixed by its 2-byte length.
async fn serve_conn(mut stream: TcpStream, table: Arc<StaticTable>) {
    for _ in 0..100 {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut buf = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Some(reply) = answer(&table, &buf) else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut out = reply_len.to_be_bytes().to_vec();
        out.extend_from_slice(&reply);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// The encoded response to one encoded query, or `None` for undecodable input.
fn answer(table: &StaticTable, query: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    let Some(q) = req.queries.first() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp.to_vec().ok();
    };
    resp.add_query(q.clone());
    let owner = q.name().clone();
    let name = normalize_name(&owner.to_ascii());
    let rdata = records(table, &name, q.query_type());
    let known = table.a.contains_key(&name)
        || table.srv.contains_key(&name)
        || table.naptr.contains_key(&name);
    if rdata.is_empty() && !known {
        resp.metadata.response_code = ResponseCode::NXDomain;
    }
    resp.add_answers(
        rdata
            .into_iter()
            .map(|d| Record::from_rdata(owner.clone(), TTL, d)),
    );
    resp.to_vec().ok()
}

fn records(table: &StaticTable, name: &str, qtype: RecordType) -> Vec<RData> {
    let ips = table.a.get(name).map(Vec::as_slice).unwrap_or_default();
    match qtype {
        RecordType::A => ips
            .iter()
            .filter_map(|ip| match ip {
                std::net::IpAddr::V4(v4) => Some(RData::A(A(*v4))),
                std::net::IpAddr::V6(_) => None,
            })
            .collect(),
        RecordType::AAAA => ips
            .iter()
            .filter_map(|ip| match ip {
                std::net::IpAddr::V6(v6) => Some(RData::AAAA(AAAA(*v6))),
                std::net::IpAddr::V4(_) => None,
            })
            .collect(),
        RecordType::SRV => table
            .srv
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let target = fqdn(&s.target)?;
                Some(RData::SRV(SRV::new(s.priority, s.weight, s.port, target)))
            })
            .collect(),
        RecordType::NAPTR => table
            .naptr
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|n| {
                Some(RData::NAPTR(NAPTR::new(
                    n.order,
                    n.preference,
                    b"s".to_vec().into_boxed_slice(),
                    n.service.as_bytes().to_vec().into_boxed_slice(),
                    Box::default(),
                    fqdn(&n.replacement)?,
                )))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn fqdn(name: &str) -> Option<Name> {
    let n = normalize_name(name);
    if n.is_empty() {
        return Some(Name::root());
    }
    Name::from_ascii(format!("{n}.")).ok()
}

fn normalize(t: StaticTable) -> StaticTable {
    StaticTable {
        srv: t
            .srv
            .into_iter()
            .map(|(k, v)| (normalize_name(&k), v))
            .collect(),
        a: t.a
            .into_iter()
            .map(|(k, v)| (normalize_name(&k), v))
            .collect(),
        naptr: t
            .naptr
            .into_iter()
            .map(|(k, v)| (normalize_name(&k), v))
            .collect(),
    }
}
