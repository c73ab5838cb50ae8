//! The RFC 3263 §4 client procedure: destination -> ordered targets.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::backend::Backend;
use super::{
    order_srv, Destination, Host, Proto, ResolveError, ResolverConfig, Target, DEFAULT_SIP_PORT,
};

/// Resolves destinations to targets. Cheap to clone (shares one cache).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    budget: Duration,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.backend {
            Backend::Dns(_) => "dns",
            Backend::Static(_) => "static",
        };
        f.debug_struct("Resolver")
            .field("backend", &kind)
            .field("budget", &self.inner.budget)
            .finish()
    }
}

impl Resolver {
    /// Time budget of one [`Resolver::resolve`] call, all lookups included.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// A resolver with the default 2 s budget per resolve.
    pub fn new(cfg: &ResolverConfig) -> Result<Resolver, ResolveError> {
        Self::with_timeout(cfg, Self::DEFAULT_TIMEOUT)
    }

    /// A resolver whose every `resolve` finishes within `budget`; one DNS query
    /// waits at most half of it, so a second lookup still fits.
    pub fn with_timeout(cfg: &ResolverConfig, budget: Duration) -> Result<Resolver, ResolveError> {
        let query_timeout = (budget / 2).max(Duration::from_millis(100));
        Ok(Resolver {
            inner: Arc::new(Inner {
                backend: Backend::new(cfg, query_timeout)?,
                budget,
            }),
        })
    }

    /// RFC 3263 §4: the ordered list of targets to try for `dest` (never empty on Ok).
    pub async fn resolve(&self, dest: &Destination) -> Result<Vec<Target>, ResolveError> {
        let mut rng = StdRng::from_rng(&mut rand::rng());
        self.resolve_with_rng(dest, &mut rng).await
    }

    /// [`Resolver::resolve`] with the RNG that orders equal-priority SRV records
    /// (RFC 2782), so tests can seed it.
    pub async fn resolve_with_rng<R: Rng + Send + ?Sized>(
        &self,
        dest: &Destination,
        rng: &mut R,
    ) -> Result<Vec<Target>, ResolveError> {
        let name = match &dest.host {
            // RFC 3263 §4.1/§4.2: a numeric IP needs no DNS; UDP, port 5060 by default.
            Host::Ip(ip) => {
                return Ok(vec![Target {
                    addr: SocketAddr::new(
                        *ip,
                        dest.port
                            .unwrap_or(dest.proto.map_or(DEFAULT_SIP_PORT, Proto::default_port)),
                    ),
                    proto: dest.proto.unwrap_or(Proto::Udp),
                }])
            }
            Host::Name(name) => name,
        };
        let mut walk = Walk {
            backend: &self.inner.backend,
            rng,
            targets: Vec::new(),
            error: None,
        };
        let finished = tokio::time::timeout(self.inner.budget, walk.run(name, dest))
            .await
            .is_ok();
        if !finished {
            walk.note(ResolveError::Timeout { name: name.clone() });
        }
        tracing::debug!(destination = %dest, targets = ?walk.targets, finished, "resolved");
        // Targets found before a timeout are still worth trying.
        if !walk.targets.is_empty() {
            return Ok(walk.targets);
        }
        Err(walk
            .error
            .unwrap_or_else(|| ResolveError::NoRecords { name: name.clone() }))
    }
}

/// One resolution in progress: targets found so far and the first lookup error.
struct Walk<'a, R: ?Sized> {
    backend: &'a Backend,
    rng: &'a mut R,
    targets: Vec<Target>,
    error: Option<ResolveError>,
}

impl<R: Rng + Send + ?Sized> Walk<'_, R> {
    async fn run(&mut self, name: &str, dest: &Destination) {
        match (dest.port, dest.proto) {
            // RFC 3263 §4.2: an explicit port means A/AAAA only, no SRV.
            (Some(port), proto) => self.add_host(name, port, proto.unwrap_or(Proto::Udp)).await,
            // RFC 3263 §4.1: a transport parameter skips NAPTR.
            (None, Some(proto)) => {
                if !self.add_srv(&srv_name(proto, name), proto).await {
                    self.add_host(name, proto.default_port(), proto).await;
                }
            }
            (None, None) => self.run_naptr(name).await,
        }
    }

    /// RFC 3263 §4.1: NAPTR records for the transports we speak, by order then
    /// preference, each followed to its SRV set. Every usable NAPTR contributes
    /// targets (not only the most preferred), so failover has somewhere to go.
    /// Without them: SRV for `_sip._udp` then `_sip._tcp`; without SRV: A/AAAA
    /// with 5060/UDP (§4.2).
    async fn run_naptr(&mut self, name: &str) {
        let mut naptrs: Vec<(Proto, super::NaptrRecord)> = self
            .lookup(name, self.backend.naptr(name).await)
            .into_iter()
            .filter_map(|n| Some((naptr_proto(&n.service)?, n)))
            .collect();
        naptrs.sort_by_key(|(_, n)| (n.order, n.preference));
        for (proto, n) in &naptrs {
            self.add_srv(&n.replacement, *proto).await;
        }
        if !self.targets.is_empty() {
            return;
        }
        let udp = self.add_srv(&srv_name(Proto::Udp, name), Proto::Udp).await;
        let tcp = self.add_srv(&srv_name(Proto::Tcp, name), Proto::Tcp).await;
        if !udp && !tcp {
            self.add_host(name, DEFAULT_SIP_PORT, Proto::Udp).await;
        }
    }

    /// Adds the targets of SRV set `srv`, in RFC 2782 order, each expanded to
    /// its addresses. Returns whether the SRV set exists (then RFC 3263 §4.2
    /// forbids falling back to the A record of the domain).
    async fn add_srv(&mut self, srv: &str, proto: Proto) -> bool {
        let records = self.lookup(srv, self.backend.srv(srv).await);
        if records.is_empty() {
            return false;
        }
        for r in order_srv(&records, &mut *self.rng) {
            self.add_host(&r.target, r.port, proto).await;
        }
        true
    }

    async fn add_host(&mut self, host: &str, port: u16, proto: Proto) {
        for ip in self.lookup(host, self.backend.ips(host).await) {
            let target = Target {
                addr: SocketAddr::new(ip, port),
                proto,
            };
            if !self.targets.contains(&target) {
                self.targets.push(target);
            }
        }
    }

    /// A failed lookup counts as "no records" for the walk; the error is kept
    /// in case no target is found at all.
    fn lookup<T>(&mut self, name: &str, result: Result<Vec<T>, ResolveError>) -> Vec<T> {
        result.unwrap_or_else(|e| {
            tracing::debug!(name, error = %e, "DNS lookup failed");
            self.note(e);
            Vec::new()
        })
    }

    fn note(&mut self, e: ResolveError) {
        self.error.get_or_insert(e);
    }
}

fn srv_name(proto: Proto, name: &str) -> String {
    format!("{}.{name}", proto.srv_prefix())
}

/// RFC 3263 §4.1: `SIP+D2U` -> UDP, `SIP+D2T` -> TCP, `SIPS+D2T` -> TLS; others
/// are transports we do not speak.
fn naptr_proto(service: &str) -> Option<Proto> {
    [Proto::Udp, Proto::Tcp, Proto::Tls]
        .into_iter()
        .find(|p| service.eq_ignore_ascii_case(p.naptr_service()))
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
