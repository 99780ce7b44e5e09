//! Who the client is: the connection's peer, or, when the peer is a reverse proxy this server was
//! told to trust (`--trusted-proxy CIDR`), the address the proxy forwarded. Only from a trusted
//! peer are `X-Forwarded-For` and `X-Forwarded-Proto` believed; the client is the right-most
//! forwarded address that is not itself a trusted proxy (each proxy appends the address it saw, so
//! everything left of that is whatever the client wrote). The audit log, the sign-in waits and
//! the per-address connection cap count this address; a session cookie is `Secure` when the proxy
//! says the client came over https.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// A range of addresses: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `ADDRESS[/BITS]`, as `--trusted-proxy` takes it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not an address range; write one as 10.0.0.0/8, 192.168.1.5 or fd00::/8");
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let most = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(most);
        if bits > most {
            return Err(bad());
        }
        Ok(Self { net, bits })
    }

    /// Whether `addr` is in the range (an IPv4 address written as IPv6, `::ffff:a.b.c.d`, as its
    /// IPv4 self).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.net, plain(addr)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 { 0 } else { u32::MAX << (32 - u32::from(self.bits)) };
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 { 0 } else { u128::MAX << (128 - u32::from(self.bits)) };
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`.
fn plain(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `addr` is one of the trusted proxies.
pub fn trusted(proxies: &[Cidr], addr: IpAddr) -> bool {
    proxies.iter().any(|c| c.contains(addr))
}

/// The client of a request from `peer` with `headers`: its address, and whether it came over
/// https as far as a trusted proxy says (`false` when no trusted proxy says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub address: IpAddr,
    pub https: bool,
}

impl Client {
    pub fn of(peer: IpAddr, headers: &HeaderMap, proxies: &[Cidr]) -> Self {
        let peer = plain(peer);
        if !trusted(proxies, peer) {
            return Self { address: peer, https: false };
        }
        // Every X-Forwarded-For header, in order, as one list; a malformed entry ends the walk
        // (what is left of it cannot be told apart from what a client wrote).
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut address = peer;
        for hop in forwarded.iter().rev() {
            let Ok(hop) = hop.parse::<IpAddr>().map(plain) else { break };
            address = hop;
            if !trusted(proxies, hop) {
                break;
            }
        }
        // The proxy nearest this server sets the scheme it was reached by.
        let https = headers
            .get_all("x-forwarded-proto")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.rsplit(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")));
        Self { address, https }
    }
}

/// The address one machine is known by: an IPv4 address itself, an IPv6 address its /64 (a
/// machine is given a whole /64 and may pick any address in it), for the per-address limits.
pub fn machine(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ranges_parse_and_contain() {
        let lan = Cidr::parse("10.0.0.0/8").expect("range");
        assert!(lan.contains(ip("10.1.2.3")) && !lan.contains(ip("11.0.0.1")));
        assert!(lan.contains(ip("::ffff:10.9.9.9")), "an IPv4 address written as IPv6");
        assert!(Cidr::parse("127.0.0.1").expect("one").contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").expect("one").contains(ip("127.0.0.2")));
        assert!(Cidr::parse("fd00::/8").expect("v6").contains(ip("fd12::1")));
        assert!(Cidr::parse("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129", ""] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxies = [Cidr::parse("127.0.0.1").expect("range"), Cidr::parse("10.0.0.0/8").expect("range")];
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        // From an untrusted peer: the peer, whatever it says.
        assert_eq!(
            Client::of(ip("203.0.113.9"), &spoofed, &proxies),
            Client { address: ip("203.0.113.9"), https: false }
        );
        // Through the trusted proxy: the address it appended, not what the client wrote before.
        let through = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7"), ("x-forwarded-proto", "https")]);
        assert_eq!(
            Client::of(ip("127.0.0.1"), &through, &proxies),
            Client { address: ip("198.51.100.7"), https: true }
        );
        // Two trusted proxies in a row are stepped over; a malformed entry stops the walk.
        let chain = headers(&[("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "10.0.0.2")]);
        assert_eq!(Client::of(ip("127.0.0.1"), &chain, &proxies).address, ip("198.51.100.7"));
        let garbage = headers(&[("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.2")]);
        assert_eq!(Client::of(ip("127.0.0.1"), &garbage, &proxies).address, ip("10.0.0.2"));
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(Client::of(ip("10.0.0.5"), &HeaderMap::new(), &proxies).address, ip("10.0.0.5"));
    }
}
