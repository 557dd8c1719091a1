//! The SSRF guard: which outbound targets a webhook may reach.
//!
//! A webhook URL is chosen by whoever registers an endpoint, so without a guard
//! the service would POST into its own network (cloud metadata, databases,
//! admin ports). The guard works at two points:
//!
//! - [`TargetPolicy::check_url`] before a request is sent: the scheme must be
//!   http(s), a host must be present and an IP-literal host (which never goes
//!   through DNS) must not be forbidden.
//! - [`GuardedResolver`] inside the HTTP client: a host name is resolved once,
//!   forbidden addresses are dropped, and the client connects only to the
//!   addresses that were checked, so a name cannot be re-resolved to a private
//!   address between the check and the connection.
//!
//! An address is forbidden when it is special-purpose (see
//! [`is_special_purpose`]) and not inside one of the allowed CIDRs, which come
//! from configuration (`LEDGER_ALLOWED_TARGETS`; tests allow `127.0.0.1/32`).

mod ranges;
mod resolver;

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use url::{Host, Url};

pub use ranges::{embedded_ipv4, is_special_purpose};
pub use resolver::GuardedResolver;

/// Why the guard refused a target, or could not judge it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SsrfError {
    /// The URL's scheme is not `http` or `https`.
    #[error("unsupported scheme `{scheme}`: only http and https are allowed")]
    UnsupportedScheme {
        /// The scheme found in the URL.
        scheme: String,
    },
    /// The URL has no host to connect to.
    #[error("the URL has no host")]
    NoHost,
    /// The host is, or resolves only to, an address that may not be reached.
    #[error("target `{host}` resolves to forbidden address {ip}")]
    ForbiddenAddress {
        /// The host as written in the URL.
        host: String,
        /// The (first) forbidden address it stands for.
        ip: IpAddr,
    },
    /// The host name could not be resolved.
    #[error("could not resolve `{host}`")]
    Resolve {
        /// The host name that failed to resolve.
        host: String,
        /// The resolver's error; shared so that the error stays `Clone`.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The host name resolved to no address at all.
    #[error("`{host}` resolved to no address")]
    NoAddress {
        /// The host name that resolved to nothing.
        host: String,
    },
    /// An entry of the allowed-targets list is not a CIDR or an IP address.
    #[error("invalid allowed target `{value}`: expected a CIDR such as 127.0.0.1/32")]
    InvalidAllowedTarget {
        /// The entry as given.
        value: String,
        /// Why it did not parse as a CIDR.
        #[source]
        source: ipnet::AddrParseError,
    },
}

impl SsrfError {
    /// A stable, machine-readable code for this error, for API bodies and
    /// dead-letter reasons.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedScheme { .. } => "target_scheme_unsupported",
            Self::NoHost => "target_host_missing",
            Self::ForbiddenAddress { .. } => "target_forbidden",
            Self::Resolve { .. } => "target_unresolvable",
            Self::NoAddress { .. } => "target_no_address",
            Self::InvalidAllowedTarget { .. } => "invalid_allowed_target",
        }
    }

    /// Whether the guard refused the target (as opposed to failing to
    /// resolve it): a refusal will not change by retrying.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedScheme { .. } | Self::NoHost | Self::ForbiddenAddress { .. }
        )
    }
}

/// Which outbound addresses are allowed: everything public, plus the
/// special-purpose addresses inside the configured CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    allowed: Vec<IpNet>,
}

impl TargetPolicy {
    /// A policy that allows special-purpose addresses inside `allowed` only.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Parses a list such as `"127.0.0.1/32,::1/128"` (the format of
    /// `LEDGER_ALLOWED_TARGETS`). Entries are separated by commas or
    /// whitespace; a bare address means that single address; an empty list
    /// allows nothing special.
    pub fn parse(list: &str) -> Result<Self, SsrfError> {
        let allowed = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allowed })
    }

    /// The allowed CIDRs.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether `ip` is inside an allowed CIDR. An IPv4-mapped address is
    /// compared as the IPv4 address it is, since that is where it connects.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.allowed
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Whether the guard refuses to connect to `ip`: it is special-purpose
    /// (private, loopback, link-local, multicast, unspecified, broadcast,
    /// documentation, reserved, unique-local, or an IPv6 form embedding such an
    /// IPv4 address) and not inside an allowed CIDR.
    pub fn is_forbidden(&self, ip: IpAddr) -> bool {
        is_special_purpose(ip) && !self.is_allowed(ip)
    }

    /// Checks what can be checked without DNS: the scheme is http or https,
    /// a host is present, and an IP-literal host is not forbidden. A host
    /// name is checked later, by [`GuardedResolver`], when it is resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), SsrfError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(SsrfError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        }
        let ip = match url.host() {
            None => return Err(SsrfError::NoHost),
            Some(Host::Domain("")) => return Err(SsrfError::NoHost),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        };
        if self.is_forbidden(ip) {
            return Err(SsrfError::ForbiddenAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                ip,
            });
        }
        Ok(())
    }
}

impl FromStr for TargetPolicy {
    type Err = SsrfError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, SsrfError> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    entry
        .parse::<IpNet>()
        .map_err(|source| SsrfError::InvalidAllowedTarget {
            value: entry.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests;
