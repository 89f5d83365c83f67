//! `netdev`: per network device counters from /proc/net/dev (plus `rx_nohandler` from sysfs, which
//! node_exporter gets over netlink).

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("net/dev");
    let text = read(&path)?;
    let mut lines = text.lines();
    let header = lines.nth(1).ok_or_else(|| parse_err(&path, "missing header"))?;
    let mut parts = header.split('|').skip(1);
    let (Some(rx), Some(tx)) = (parts.next(), parts.next()) else {
        return Err(parse_err(&path, format!("invalid header {header:?}")));
    };
    let keys: Vec<String> = rx
        .split_ascii_whitespace()
        .map(|f| format!("receive_{f}"))
        .chain(tx.split_ascii_whitespace().map(|f| format!("transmit_{f}")))
        .collect();
    let mut families: Vec<Family> = keys
        .iter()
        .map(|k| {
            Family::new(format!("node_network_{k}_total"), format!("Network device statistic {k}."), Kind::Counter)
        })
        .collect();
    let mut nohandler = Family::new(
        "node_network_receive_nohandler_total",
        "Network device statistic receive_nohandler.",
        Kind::Counter,
    );
    for line in lines {
        let Some((dev, values)) = line.split_once(':') else { continue };
        let dev = dev.trim();
        if ctx.netdev_exclude.as_ref().is_some_and(|re| re.is_match(dev)) {
            continue;
        }
        let values: Vec<&str> = values.split_ascii_whitespace().collect();
        if values.len() != keys.len() {
            return Err(parse_err(&path, format!("{} values for {} columns in {line:?}", values.len(), keys.len())));
        }
        for (family, v) in families.iter_mut().zip(values) {
            family.push(&[("device", dev)], num(&path, v)?);
        }
        let sys = ctx.sys(&format!("class/net/{dev}/statistics/rx_nohandler"));
        if let Ok(v) = std::fs::read_to_string(&sys) {
            nohandler.push(&[("device", dev)], num(&sys, v.trim())?);
        }
    }
    out.extend(families);
    out.push(nohandler);
    Ok(())
}
