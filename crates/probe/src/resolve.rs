//! Choosing the address to probe, as blackbox_exporter's `chooseProtocol`: the preferred family
//! (ip6 unless told otherwise), the other one as fallback, and the gauges that describe the choice.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::result::Gauges;

/// Resolves `host` and picks one address; sets `probe_dns_lookup_time_seconds`, `probe_ip_protocol`
/// and `probe_ip_addr_hash`. Returns the address and the lookup time.
pub(crate) async fn choose_address(
    host: &str,
    preferred: &str,
    fallback: bool,
    g: &mut Gauges,
) -> Result<(IpAddr, Duration), String> {
    let start = Instant::now();
    g.set("probe_ip_protocol", 0.0);
    g.set("probe_dns_lookup_time_seconds", 0.0);
    g.set("probe_ip_addr_hash", 0.0);
    let want_v6 = preferred != "ip4";
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, 0)).await {
            Ok(it) => it.map(|sa| sa.ip()).collect(),
            Err(e) => {
                g.set("probe_dns_lookup_time_seconds", start.elapsed().as_secs_f64());
                return Err(format!("resolving {host}: {e}"));
            }
        },
    };
    let lookup = start.elapsed();
    g.set("probe_dns_lookup_time_seconds", lookup.as_secs_f64());
    let preferred_ip = addrs.iter().find(|a| a.is_ipv6() == want_v6);
    let chosen = match (preferred_ip, fallback) {
        (Some(ip), _) => *ip,
        (None, true) => match addrs.first() {
            Some(ip) => *ip,
            None => return Err(format!("resolving {host}: no address")),
        },
        (None, false) => {
            let fam = if want_v6 { "ip6" } else { "ip4" };
            return Err(format!("resolving {host}: no {fam} address and ip_protocol_fallback is off"));
        }
    };
    g.set("probe_ip_protocol", if chosen.is_ipv6() { 6.0 } else { 4.0 });
    g.set("probe_ip_addr_hash", ip_hash(chosen));
    Ok((chosen, lookup))
}

/// FNV-1a (32 bit) of the address bytes, as blackbox_exporter's `ipHash`.
pub(crate) fn ip_hash(ip: IpAddr) -> f64 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h as f64
}

/// Splits `host:port` (IPv6 in brackets); the port is `default_port` when absent.
pub(crate) fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| format!("bad address {s:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port in {s:?}"))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("bad address {s:?}")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), p.parse().map_err(|_| format!("bad port in {s:?}"))?)),
        _ => Ok((s.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_blackbox() {
        // blackbox_exporter 0.23 reports 3.668918509e+09 for 127.0.0.1.
        assert_eq!(ip_hash("127.0.0.1".parse().unwrap()), 3668918509.0);
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("a:1", 9).unwrap(), ("a".into(), 1));
        assert_eq!(split_host_port("a", 9).unwrap(), ("a".into(), 9));
        assert_eq!(split_host_port("[::1]:5", 9).unwrap(), ("::1".into(), 5));
        assert_eq!(split_host_port("[::1]", 9).unwrap(), ("::1".into(), 9));
        assert!(split_host_port("a:x", 9).is_err());
    }

    #[tokio::test]
    async fn literal_and_fallback() {
        let mut g = Gauges::default();
        let (ip, _) = choose_address("127.0.0.1", "", true, &mut g).await.unwrap();
        assert_eq!(ip.to_string(), "127.0.0.1");
        assert!(g.metrics.iter().any(|m| m.name == "probe_ip_protocol" && m.value == 4.0));
        let mut g = Gauges::default();
        assert!(choose_address("127.0.0.1", "ip6", false, &mut g).await.is_err());
    }
}
