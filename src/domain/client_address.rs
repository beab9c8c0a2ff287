//! Who the client is, behind reverse proxies we trust. The TCP peer is the
//! client unless it is one of `server.trusted_proxies`; then the addresses
//! the proxies appended (`X-Forwarded-For`, or `Forwarded: for=`) are read
//! from the right, skipping trusted ones: the first untrusted address is
//! the client. Anything to its left was written by the client itself and
//! is never believed. No trusted proxies (the default): the peer, always.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address given the TCP `peer`, the forwarding headers'
/// values in order of arrival, and the trusted proxy ranges.
pub fn resolve<'a>(
    peer: IpAddr,
    x_forwarded_for: impl IntoIterator<Item = &'a str>,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = x_forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .filter_map(parse_hop)
        .collect();
    if hops.is_empty() {
        hops = forwarded
            .into_iter()
            .flat_map(|value| value.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_hop(value))
                        .flatten()
                })
            })
            .collect();
    }
    // From the proxy nearest to us outwards.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// One address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`. Obfuscated names (`_hidden`,
/// `unknown`) are not addresses.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    if let Ok(ip) = raw.parse() {
        return Some(ip);
    }
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    raw.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let client = resolve(ip("127.0.0.1"), ["203.0.113.9"], ["for=203.0.113.9"], &[]);
        assert_eq!(client, ip("127.0.0.1"));
        let untrusted_peer = resolve(
            ip("198.51.100.1"),
            ["203.0.113.9"],
            [],
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(untrusted_peer, ip("198.51.100.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // One proxy: it appended the client.
        assert_eq!(
            resolve(ip("127.0.0.1"), ["203.0.113.9"], [], &trusted),
            ip("203.0.113.9")
        );
        // The client tried to pass for another address: what it wrote is
        // left of what the proxies wrote, and not believed.
        assert_eq!(
            resolve(
                ip("127.0.0.1"),
                ["198.51.100.66, 203.0.113.9, 10.1.2.3"],
                [],
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Several header lines count as one list, in order.
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                ["198.51.100.66", "203.0.113.9:4711"],
                [],
                &trusted
            ),
            ip("203.0.113.9")
        );
        // The standard header, IPv6 and quoting included.
        assert_eq!(
            resolve(
                ip("127.0.0.1"),
                [],
                [r#"for=198.51.100.66, for="[2001:db8::7]:4711";proto=https"#],
                &trusted
            ),
            ip("2001:db8::7")
        );
        // A trusted proxy that sent nothing usable: itself.
        assert_eq!(
            resolve(ip("127.0.0.1"), ["unknown"], [], &trusted),
            ip("127.0.0.1")
        );
        // Every hop trusted: the leftmost.
        assert_eq!(
            resolve(ip("127.0.0.1"), ["10.9.9.9, 10.1.1.1"], [], &trusted),
            ip("10.9.9.9")
        );
    }
}
