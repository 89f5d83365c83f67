//! The dns prober: one query (UDP or TCP) to the target server, its response code and record
//! counts, and patterns over each section's records written as zone-file lines
//! (`name.\tTTL\tIN\tTYPE\tdata`, the form blackbox_exporter's patterns are written against).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::config::{DnsProbe, RrValidator};
use crate::resolve::{choose_address, split_host_port};
use crate::result::Gauges;

const PHASES: &str = "probe_dns_duration_seconds";

/// The record type of a `query_type` name.
pub(crate) fn record_type(name: &str) -> Result<RecordType, String> {
    RecordType::from_str(&name.to_ascii_uppercase())
        .map_err(|_| format!("dns query_type {name:?} is not a record type"))
}

const RCODES: [&str; 24] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "",
    "",
    "",
    "",
    "",
    "BADSIG",
    "BADKEY",
    "BADTIME",
    "BADMODE",
    "BADNAME",
    "BADALG",
    "BADTRUNC",
    "BADCOOKIE",
];

/// The numeric response code of a name such as `NOERROR` or `NXDOMAIN`.
pub(crate) fn rcode(name: &str) -> Result<u16, String> {
    let up = name.to_ascii_uppercase();
    match RCODES.iter().position(|r| !r.is_empty() && *r == up) {
        Some(i) => Ok(i as u16),
        None if up == "BADVERS" => Ok(16),
        None => Err(format!("dns valid_rcodes {name:?} is not a response code")),
    }
}

fn rcode_name(code: u16) -> String {
    RCODES.get(code as usize).filter(|s| !s.is_empty()).map_or_else(|| format!("RCODE{code}"), |s| s.to_string())
}

/// Runs the dns prober against the server `target` (`host[:port]`, port 53 by default).
pub(crate) async fn probe_dns(d: &DnsProbe, target: &str, g: &mut Gauges) -> Result<(), String> {
    for name in
        ["probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs", "probe_dns_query_succeeded"]
    {
        g.set(name, 0.0);
    }
    for phase in ["resolve", "connect", "request"] {
        g.add_phase(PHASES, phase, std::time::Duration::ZERO);
    }
    let (host, port) = split_host_port(target, 53)?;
    let (ip, lookup) = choose_address(&host, &d.preferred_ip_protocol, d.ip_protocol_fallback, g).await?;
    g.add_phase(PHASES, "resolve", lookup);
    let server = SocketAddr::new(ip, port);

    let qtype = record_type(&d.query_type)?;
    let name = Name::from_str(&d.query_name).map_err(|e| format!("dns query_name {:?}: {e}", d.query_name))?;
    let mut name = name;
    name.set_fqdn(true);
    let mut query = Query::query(name, qtype);
    query.set_query_class(DNSClass::IN);
    let id: u16 = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos()
        & 0xffff) as u16;
    let mut msg = Message::new();
    msg.set_id(id).set_message_type(MessageType::Query).set_op_code(OpCode::Query);
    msg.set_recursion_desired(d.recursion_desired);
    msg.add_query(query);
    let wire = msg.to_vec().map_err(|e| format!("encoding the query: {e}"))?;

    let response = match d.transport_protocol.as_str() {
        "tcp" => exchange_tcp(server, &wire, g).await,
        _ => exchange_udp(server, &wire, id, g).await,
    }?;
    let resp = Message::from_vec(&response).map_err(|e| format!("decoding the response: {e}"))?;
    g.set("probe_dns_query_succeeded", 1.0);
    g.set("probe_dns_answer_rrs", resp.answers().len() as f64);
    g.set("probe_dns_authority_rrs", resp.name_servers().len() as f64);
    g.set("probe_dns_additional_rrs", resp.additionals().len() as f64);

    let code: u16 = resp.response_code().into();
    let valid: Vec<u16> =
        if d.valid_rcodes.is_empty() { vec![0] } else { d.valid_rcodes.iter().filter_map(|r| rcode(r).ok()).collect() };
    if !valid.contains(&code) {
        return Err(format!("invalid response code {}", rcode_name(code)));
    }
    validate("answer", resp.answers(), &d.validate_answer_rrs)?;
    validate("authority", resp.name_servers(), &d.validate_authority_rrs)?;
    validate("additional", resp.additionals(), &d.validate_additional_rrs)?;
    Ok(())
}

async fn exchange_udp(server: SocketAddr, wire: &[u8], id: u16, g: &mut Gauges) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let bind: SocketAddr = if server.is_ipv6() { "[::]:0".parse().unwrap() } else { "0.0.0.0:0".parse().unwrap() };
    let sock = UdpSocket::bind(bind).await.map_err(|e| format!("dns udp socket: {e}"))?;
    sock.connect(server).await.map_err(|e| format!("dns connect {server}: {e}"))?;
    g.add_phase(PHASES, "connect", start.elapsed());
    let start = Instant::now();
    sock.send(wire).await.map_err(|e| format!("dns send to {server}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(|e| format!("dns receive from {server}: {e}"))?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            g.add_phase(PHASES, "request", start.elapsed());
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(server: SocketAddr, wire: &[u8], g: &mut Gauges) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let mut s = TcpStream::connect(server).await.map_err(|e| format!("dns connect {server}: {e}"))?;
    g.add_phase(PHASES, "connect", start.elapsed());
    let start = Instant::now();
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&(wire.len() as u16).to_be_bytes());
    framed.extend_from_slice(wire);
    s.write_all(&framed).await.map_err(|e| format!("dns send to {server}: {e}"))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.map_err(|e| format!("dns receive from {server}: {e}"))?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.map_err(|e| format!("dns receive from {server}: {e}"))?;
    g.add_phase(PHASES, "request", start.elapsed());
    Ok(buf)
}

/// A record as miekg/dns (and so blackbox_exporter) prints it: tab-separated zone-file fields.
pub(crate) fn record_line(r: &Record) -> String {
    format!("{}\t{}\t{}\t{}\t{}", r.name(), r.ttl(), r.dns_class(), r.record_type(), r.data())
}

fn validate(section: &str, records: &[Record], v: &RrValidator) -> Result<(), String> {
    let lines: Vec<String> = records.iter().map(record_line).collect();
    for re in &v.fail_if_matches_regexp {
        if let Some(l) = lines.iter().find(|l| re.0.is_match(l)) {
            return Err(format!("{section} record {l:?} matched {:?}", re.0.as_str()));
        }
    }
    for re in &v.fail_if_all_match_regexp {
        if !lines.is_empty() && lines.iter().all(|l| re.0.is_match(l)) {
            return Err(format!("every {section} record matched {:?}", re.0.as_str()));
        }
    }
    for re in v.fail_if_not_matches_regexp.iter().chain(&v.fail_if_none_matches_regexp) {
        if !lines.iter().any(|l| re.0.is_match(l)) {
            return Err(format!("no {section} record matched {:?}", re.0.as_str()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(rcode("nxdomain").unwrap(), 3);
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert!(rcode("NOPE").is_err());
        assert_eq!(record_type("a").unwrap(), RecordType::A);
        assert!(record_type("BOGUS").is_err());
    }
}
