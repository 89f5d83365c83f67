//! Prints this machine's host metrics as text exposition (for eyeballing and fixtures).

use std::io::Write;

fn main() {
    let c = vitals_host::HostCollector::new(vitals_host::HostOptions::default()).expect("options");
    let mut out = String::new();
    c.render_text(&mut out);
    std::io::stdout().write_all(out.as_bytes()).expect("stdout");
}
