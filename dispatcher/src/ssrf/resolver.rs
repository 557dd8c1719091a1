//! DNS resolution that only ever hands checked addresses to the HTTP client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{SsrfError, TargetPolicy};

/// A resolver for the HTTP client that drops forbidden addresses and fails
/// when none is left.
///
/// Because the client connects to whatever this returns, the address that is
/// checked is the address that is connected to: there is no second lookup an
/// attacker's DNS could answer differently.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        Self { policy }
    }

    /// Resolves `host` with the system resolver and keeps the addresses the
    /// policy allows, in the resolver's order.
    ///
    /// Fails with [`SsrfError::ForbiddenAddress`] (naming the first refused
    /// address) when every address is forbidden, [`SsrfError::NoAddress`] when
    /// there was none, and [`SsrfError::Resolve`] when the lookup failed.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, SsrfError> {
        let resolved =
            tokio::net::lookup_host((host, 0))
                .await
                .map_err(|source| SsrfError::Resolve {
                    host: host.to_owned(),
                    source: Arc::new(source),
                })?;
        let mut allowed = Vec::new();
        let mut first_forbidden = None;
        for ip in resolved.map(|addr| addr.ip()) {
            if self.policy.is_forbidden(ip) {
                tracing::debug!(host, %ip, "ssrf guard dropped a forbidden address");
                first_forbidden.get_or_insert(ip);
            } else if !allowed.contains(&ip) {
                allowed.push(ip);
            }
        }
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        match first_forbidden {
            Some(ip) => Err(SsrfError::ForbiddenAddress {
                host: host.to_owned(),
                ip,
            }),
            None => Err(SsrfError::NoAddress {
                host: host.to_owned(),
            }),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.lookup(name.as_str()).await?;
            // Port 0 is replaced by the URL's port (or the scheme's default).
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
