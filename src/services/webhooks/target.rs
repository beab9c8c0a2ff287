//! Where a webhook may be sent: the URL rules and the address rules.
//!
//! Owns: parsing an endpoint URL (https; http only where the platform allows
//! private targets), classifying an IP address (private, loopback,
//! link-local, unique-local, CGNAT, metadata, …: not public), resolving a
//! host and refusing it when any of its addresses is not public, and the
//! `reqwest` resolver that applies the same rule at delivery time, so a name
//! that changed its address since the endpoint was saved (DNS rebinding) is
//! refused too and the connection goes to the address that was checked.
//! Must not: follow redirects (the client is built without) or be bypassed
//! by a proxy from the environment (the client uses none).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::Url;

/// Why a target is refused (the message is shown to the owner).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("must be an absolute URL like https://example.com/webhooks")]
    Malformed,
    #[error("must start with https:// (plain http is not allowed on this platform)")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must not be longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error(
        "{0} is not a public address (private, loopback, link-local or metadata addresses are refused)"
    )]
    NotPublic(IpAddr),
    #[error("the host {0} could not be resolved")]
    Unresolvable(String),
}

pub const MAX_URL_LEN: usize = 2048;

/// The rules of this platform (`[webhooks] allow_private_targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Self-hosters on a private network, and tests: private addresses and
    /// plain http are allowed.
    pub allow_private: bool,
}

impl TargetPolicy {
    /// The URL's shape (no DNS): scheme, host, no credentials, length.
    pub fn parse_url(&self, raw: &str) -> Result<Url, TargetError> {
        let raw = raw.trim();
        if raw.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| TargetError::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err(TargetError::NotHttps),
            _ => return Err(TargetError::Malformed),
        }
        if url.host().is_none() {
            return Err(TargetError::Malformed);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        Ok(url)
    }

    /// The URL's shape, then its host resolved: every address must be
    /// public (unless private ones are allowed).
    pub async fn check(&self, raw: &str) -> Result<Url, TargetError> {
        let url = self.parse_url(raw)?;
        if self.allow_private {
            return Ok(url);
        }
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            Some(url::Host::Ipv4(ip)) => refuse_private(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => refuse_private(IpAddr::V6(ip))?,
            Some(url::Host::Domain(name)) => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|_| TargetError::Unresolvable(name.to_owned()))?
                    .collect();
                if addrs.is_empty() {
                    return Err(TargetError::Unresolvable(name.to_owned()));
                }
                for addr in addrs {
                    refuse_private(addr.ip())?;
                }
            }
            None => return Err(TargetError::Malformed),
        }
        Ok(url)
    }
}

fn refuse_private(ip: IpAddr) -> Result<(), TargetError> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(TargetError::NotPublic(ip))
    }
}

/// Whether an address is on the public internet: not private, loopback,
/// link-local (which holds 169.254.169.254, the cloud metadata service),
/// unique-local (fd00:ec2::254 is AWS's IPv6 metadata), CGNAT, multicast,
/// documentation, benchmarking or reserved; IPv4 inside IPv6 (mapped,
/// compatible, NAT64, 6to4) is judged by its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        // CGNAT 100.64.0.0/10
        || (a == 100 && (b & 0xc0) == 64)
        // IETF protocol assignments 192.0.0.0/24
        || (a == 192 && b == 0 && c == 0)
        // benchmarking 198.18.0.0/15
        || (a == 198 && (b & 0xfe) == 18)
        // reserved 240.0.0.0/4
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96).
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified()
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits.
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // unique local fc00::/7 (holds fd00:ec2::254)
        || (segments[0] & 0xfe00) == 0xfc00
        // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfe80
        // site-local fec0::/10 (deprecated)
        || (segments[0] & 0xffc0) == 0xfec0
        // documentation 2001:db8::/32
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // discard-only 100::/64
        || (segments[0] == 0x100 && segments[1..4] == [0, 0, 0]))
}

/// The delivery client's resolver: the system's, with every address that
/// is not public dropped; a name left with none fails to connect.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                let refused = addrs.first().map(|addr| addr.ip());
                return Err(Box::new(std::io::Error::other(match refused {
                    Some(ip) => TargetError::NotPublic(ip).to_string(),
                    None => TargetError::Unresolvable(host).to_string(),
                }))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client deliveries go through: no redirects, no proxy, the timeout,
/// and (unless private targets are allowed) the public-only resolver.
pub fn delivery_client(
    policy: TargetPolicy,
    timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("FlowHQ-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !policy.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} was taken for public");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} was refused");
        }
    }

    #[test]
    fn urls_must_be_https_without_credentials_unless_private_targets_are_allowed() {
        let strict = TargetPolicy {
            allow_private: false,
        };
        assert!(strict.parse_url("https://example.com/hook").is_ok());
        assert_eq!(
            strict.parse_url("http://example.com/hook"),
            Err(TargetError::NotHttps)
        );
        assert_eq!(
            strict.parse_url("ftp://example.com/"),
            Err(TargetError::Malformed)
        );
        assert_eq!(strict.parse_url("not a url"), Err(TargetError::Malformed));
        assert_eq!(
            strict.parse_url("https://user:pw@example.com/"),
            Err(TargetError::Credentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(strict.parse_url(&long), Err(TargetError::TooLong));
        let open = TargetPolicy {
            allow_private: true,
        };
        assert!(open.parse_url("http://127.0.0.1:9/hook").is_ok());
    }

    #[tokio::test]
    async fn literal_and_resolved_private_hosts_are_refused_at_save() {
        let strict = TargetPolicy {
            allow_private: false,
        };
        for url in [
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://localhost:8443/hook",
        ] {
            assert!(
                matches!(strict.check(url).await, Err(TargetError::NotPublic(_))),
                "{url} was accepted"
            );
        }
    }
}
