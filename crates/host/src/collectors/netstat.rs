//! `netstat`: selected protocol counters from /proc/net/{netstat,snmp,snmp6}, untyped as in node_exporter.

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let mut fields: Vec<(String, f64)> = Vec::new();
    for file in ["net/netstat", "net/snmp"] {
        let path = ctx.proc(file);
        parse_pairs(&path, &read(&path)?, &mut fields)?;
    }
    // IPv6 may be disabled; node_exporter then exports the IPv4 fields only.
    let path = ctx.proc("net/snmp6");
    if let Ok(text) = std::fs::read_to_string(&path) {
        parse_snmp6(&path, &text, &mut fields)?;
    }
    for (key, value) in fields {
        if !ctx.netstat_fields.is_match(&key) {
            continue;
        }
        let help = format!("Statistic {}.", key.replacen('_', "", 1));
        out.push(Family::single(format!("node_netstat_{key}"), help, Kind::Untyped, value));
    }
    Ok(())
}

/// Header/value line pairs: `TcpExt: SyncookiesSent ...` then `TcpExt: 0 ...` → `TcpExt_SyncookiesSent`.
fn parse_pairs(path: &std::path::Path, text: &str, out: &mut Vec<(String, f64)>) -> Result<(), HostError> {
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let values = lines.next().ok_or_else(|| parse_err(path, format!("{names:?} without a value line")))?;
        let (Some((proto, names)), Some((proto2, values))) = (names.split_once(':'), values.split_once(':')) else {
            return Err(parse_err(path, format!("invalid lines {names:?}")));
        };
        if proto != proto2 {
            return Err(parse_err(path, format!("header {proto} followed by {proto2}")));
        }
        let (names, values): (Vec<&str>, Vec<&str>) =
            (names.split_ascii_whitespace().collect(), values.split_ascii_whitespace().collect());
        if names.len() != values.len() {
            return Err(parse_err(path, format!("{proto}: {} names, {} values", names.len(), values.len())));
        }
        for (n, v) in names.into_iter().zip(values) {
            out.push((format!("{proto}_{n}"), num(path, v)?));
        }
    }
    Ok(())
}

/// `Ip6InOctets 384` lines → `Ip6_InOctets`: the protocol is everything up to the first `6`.
fn parse_snmp6(path: &std::path::Path, text: &str, out: &mut Vec<(String, f64)>) -> Result<(), HostError> {
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else { continue };
        let Some(i) = name.find('6') else { continue };
        out.push((format!("{}_{}", &name[..=i], &name[i + 1..]), num(path, value)?));
    }
    Ok(())
}
