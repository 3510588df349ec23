//! The client's address behind reverse proxies: the peer's address, unless the peer is a trusted
//! proxy (`serve --trusted-proxy`), in which case the `X-Forwarded-For` hop nearest to it that
//! is not itself a trusted proxy. Sign-in back-off per address and the audit log's "from where"
//! use it; an untrusted peer cannot choose its address by sending the header.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Parses `--trusted-proxy`: an address (`10.0.0.5`) or a network (`10.0.0.0/8`).
pub fn parse_trusted(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is neither an IP address nor a network like 10.0.0.0/8"))
}

/// The client's address as far as it can be trusted.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // a hop that is not an address ends what can be believed
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_may_name_the_client() {
        let trusted = [
            parse_trusted("10.0.0.0/8").unwrap(),
            parse_trusted("192.168.1.7").unwrap(),
        ];
        // no proxy trusted, or an untrusted peer: the peer, whatever it sends
        assert_eq!(
            client_address(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        // a trusted proxy: the nearest untrusted hop, not what the client itself prepended
        assert_eq!(
            client_address(
                ip("10.1.1.1"),
                &headers(&["6.6.6.6, 198.51.100.4", "192.168.1.7"]),
                &trusted
            ),
            ip("198.51.100.4")
        );
        // a trusted proxy without the header, or with garbage in it
        assert_eq!(
            client_address(ip("10.1.1.1"), &headers(&[]), &trusted),
            ip("10.1.1.1")
        );
        assert_eq!(
            client_address(ip("10.1.1.1"), &headers(&["unknown, 10.2.2.2"]), &trusted),
            ip("10.2.2.2")
        );
        assert!(parse_trusted("not-an-address").is_err());
        assert_eq!(
            parse_trusted("::1").unwrap(),
            "::1/128".parse::<IpNet>().unwrap()
        );
    }
}
