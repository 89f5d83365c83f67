//! The tcp prober (and vitals' `tls` alias): connect, optionally speak TLS from the start, then
//! the `query_response` dialogue — expect a line matching a pattern, send a line (with `${1}`
//! groups of the last match), or upgrade to TLS (`starttls`).

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::TcpProbe;
use crate::resolve::{choose_address, split_host_port};
use crate::result::Gauges;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs the tcp prober against `host:port`; `force_tls` is the `tls` prober.
pub(crate) async fn probe_tcp(t: &TcpProbe, target: &str, force_tls: bool, g: &mut Gauges) -> Result<(), String> {
    g.set("probe_failed_due_to_regex", 0.0);
    let (host, port) = split_host_port(target, 0)?;
    if port == 0 {
        return Err(format!("target {target:?} needs a port (host:port)"));
    }
    let (ip, _) = choose_address(&host, &t.preferred_ip_protocol, t.ip_protocol_fallback, g).await?;
    let tcp =
        TcpStream::connect(SocketAddr::new(ip, port)).await.map_err(|e| format!("connecting to {target}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let verified = !t.tls_config.insecure_skip_verify;
    let stream: Box<dyn Io> = if t.tls || force_tls {
        let s = crate::tls::handshake(tcp, &t.tls_config, &host, false).await?;
        crate::tls::tls_gauges(&s, verified, g);
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let mut rd = BufReader::new(stream);
    let mut last: Option<(regex::Regex, String)> = None;
    for (i, qr) in t.query_response.iter().enumerate() {
        if let Some(re) = &qr.expect {
            let mut line = String::new();
            loop {
                line.clear();
                let n = rd.read_line(&mut line).await.map_err(|e| format!("query_response[{i}]: reading: {e}"))?;
                if n == 0 {
                    g.set("probe_failed_due_to_regex", 1.0);
                    return Err(format!(
                        "query_response[{i}]: no line matched {:?} before the connection closed",
                        re.0.as_str()
                    ));
                }
                let text = line.trim_end_matches('\n').trim_end_matches('\r');
                if re.0.is_match(text) {
                    last = Some((re.0.clone(), text.to_string()));
                    break;
                }
            }
        }
        if let Some(send) = &qr.send {
            let mut out = String::new();
            match &last {
                Some((re, line)) => match re.captures(line) {
                    Some(caps) => caps.expand(send, &mut out),
                    None => out.push_str(send),
                },
                None => out.push_str(send),
            }
            out.push('\n');
            let w = rd.get_mut();
            w.write_all(out.as_bytes()).await.map_err(|e| format!("query_response[{i}]: sending: {e}"))?;
            w.flush().await.map_err(|e| format!("query_response[{i}]: sending: {e}"))?;
        }
        if qr.starttls {
            let plain = rd.into_inner();
            let s = crate::tls::handshake(plain, &t.tls_config, &host, false)
                .await
                .map_err(|e| format!("query_response[{i}]: starttls: {e}"))?;
            crate::tls::tls_gauges(&s, verified, g);
            rd = BufReader::new(Box::new(s) as Box<dyn Io>);
        }
    }
    Ok(())
}
