//! Time of one full collection rendered as text, on this machine's /proc and /sys.

use criterion::{criterion_group, criterion_main, Criterion};
use vitals_host::{HostCollector, HostOptions};

fn render(c: &mut Criterion) {
    let host = HostCollector::new(HostOptions::default()).expect("default options");
    let mut out = String::with_capacity(64 * 1024);
    c.bench_function("render_text (real /proc)", |b| {
        b.iter(|| {
            out.clear();
            host.render_text(&mut out);
            out.len()
        })
    });
    let families = host.collect();
    c.bench_function("write_text only", |b| {
        b.iter(|| {
            out.clear();
            vitals_host::write_text(&families, &mut out);
            out.len()
        })
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
