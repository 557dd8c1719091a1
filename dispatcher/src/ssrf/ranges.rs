//! Which addresses are never a legitimate webhook target.
//!
//! The lists follow the IANA special-purpose address registries (RFC 6890 and
//! successors). IPv6 forms that carry an IPv4 address (mapped, compatible,
//! NAT64, 6to4) are judged by the IPv4 address they carry: otherwise
//! `::ffff:127.0.0.1` or `64:ff9b::a00:1` would be a way around the IPv4 list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not publicly routable unicast: (network, prefix length).
const FORBIDDEN_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network", includes the unspecified 0.0.0.0
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata services
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, includes broadcast 255.255.255.255
];

/// IPv6 ranges inside global unicast (2000::/3) that are still not a valid
/// target: (network, prefix length).
const FORBIDDEN_V6_GLOBAL: &[([u16; 8], u8)] = &[
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),     // Teredo tunnels
    ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48),   // benchmarking
    ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28),  // ORCHID (deprecated)
    ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),  // ORCHIDv2
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation (RFC 9637)
];

/// Whether `ip` belongs to a special-purpose range that must never be a
/// webhook target (private, loopback, link-local, multicast, unspecified,
/// broadcast, documentation, reserved, unique-local, ...), with IPv6 forms
/// that embed an IPv4 address judged by that address.
///
/// This ignores any allow list; [`super::TargetPolicy::is_forbidden`] applies one.
pub fn is_special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_purpose_v4(v4),
        IpAddr::V6(v6) => is_special_purpose_v6(v6),
    }
}

fn is_special_purpose_v4(ip: Ipv4Addr) -> bool {
    let addr = u32::from(ip);
    FORBIDDEN_V4
        .iter()
        .any(|&(net, len)| in_prefix_u32(addr, u32::from(Ipv4Addr::from(net)), len))
}

fn is_special_purpose_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_special_purpose_v4(v4);
    }
    let addr = u128::from(ip);
    // Everything outside global unicast 2000::/3 is special: the unspecified
    // and loopback addresses, ::/96 leftovers, 100::/64 discard, unique-local
    // fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8,
    // the local-use NAT64 prefix 64:ff9b:1::/48 and all unallocated space.
    if !in_prefix_u128(addr, 0x2000_u128 << 112, 3) {
        return true;
    }
    FORBIDDEN_V6_GLOBAL
        .iter()
        .any(|&(net, len)| in_prefix_u128(addr, u128::from(Ipv6Addr::from(net)), len))
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms
/// that reach an IPv4 host: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (deprecated), NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:AABB:CCDD::`.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let addr = u128::from(ip);
    let low32 = Ipv4Addr::from((addr & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d, except :: and ::1 which are IPv6's own unspecified/loopback.
    if addr >> 32 == 0 && addr > 1 {
        return Some(low32);
    }
    if in_prefix_u128(addr, 0x0064_ff9b_u128 << 96, 96) {
        return Some(low32);
    }
    if in_prefix_u128(addr, 0x2002_u128 << 112, 16) {
        return Some(Ipv4Addr::from(((addr >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn in_prefix_u32(addr: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

fn in_prefix_u128(addr: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_forms_yield_their_ipv4_address() {
        let cases = [
            ("::ffff:10.0.0.1", Some("10.0.0.1")),
            ("::10.0.0.1", Some("10.0.0.1")),
            ("64:ff9b::a9fe:a9fe", Some("169.254.169.254")),
            ("2002:7f00:1::", Some("127.0.0.1")),
            ("::1", None),
            ("::", None),
            ("2606:4700::1111", None),
        ];
        for (input, expected) in cases {
            let ip: Ipv6Addr = input.parse().unwrap();
            let expected = expected.map(|s| s.parse::<Ipv4Addr>().unwrap());
            assert_eq!(embedded_ipv4(ip), expected, "{input}");
        }
    }

    #[test]
    fn reserved_and_documentation_ranges_are_special() {
        for input in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.19.255.255",
            "100.127.0.1",
            "240.0.0.1",
            "2001:db8::1",
            "3fff::1",
            "2001::1",
            "100::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b:1::1",
            "64:ff9b::808:808:0:0",
            "2002:a00:1::",
        ] {
            let ip: IpAddr = input.parse().unwrap();
            assert!(is_special_purpose(ip), "{input} should be special");
        }
    }

    #[test]
    fn public_unicast_is_not_special() {
        for input in [
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "192.169.0.1",
            "2a00:1450:4001:80b::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = input.parse().unwrap();
            assert!(!is_special_purpose(ip), "{input} should be public");
        }
    }
}
