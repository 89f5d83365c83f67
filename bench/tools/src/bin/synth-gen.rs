//! `synth-gen`: writes the same synthetic series mix as `synth-target` as backfill data: `--hours` of scrapes at
//! `--interval` for `--targets` targets (labels `job="synth"`, `instance="synth-<i>"`), with one scrape timestamp
//! per target and scrape jittered uniformly by +-`--jitter` around the grid, ending at the last grid point before
//! `--end-ms` (default: now). `--format prom` writes Prometheus text with integer millisecond timestamps, scrape
//! after scrape (`# HELP`/`# TYPE` once at the top); `--format openmetrics` writes OpenMetrics with second
//! timestamps and millisecond decimals, each family contiguous and each series in time order, ending in `# EOF`.
//! The last stderr line is `samples=N series=S scrapes=K first_ms=A last_ms=B`.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use vitals_bench::{jittered_ts_ms, now_ms, parse_duration_ms, parse_flags, write_int, Format, Page};

const USAGE: &str = "usage: synth-gen [--format prom|openmetrics] [--hours 6] [--targets 1] \
[--series-per-target 2000] [--interval 5s] [--jitter 25ms] [--seed N] [--end-ms MS] [--out FILE] [--describe]";

fn main() {
    if let Err(e) = run() {
        eprintln!("synth-gen: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let known = [
        "format",
        "hours",
        "targets",
        "series-per-target",
        "interval",
        "jitter",
        "seed",
        "end-ms",
        "out",
        "describe",
        "help",
    ];
    let flags = parse_flags(&args, &known)?;
    if flags.contains_key("help") {
        let _ = writeln!(io::stdout(), "{USAGE}");
        return Ok(());
    }
    let get = |name: &str| flags.get(name).map(String::as_str);
    let format = match get("format").unwrap_or("prom") {
        "prom" => Format::Prom,
        "openmetrics" | "om" => Format::OpenMetrics,
        other => return Err(format!("unknown --format {other:?}")),
    };
    let hours: f64 = parse(get("hours"), 6.0)?;
    let targets: u64 = parse(get("targets"), 1)?;
    let per_target: usize = parse(get("series-per-target"), vitals_bench::DEFAULT_SERIES_PER_TARGET)?;
    let seed: u64 = parse(get("seed"), vitals_bench::DEFAULT_SEED)?;
    let interval_ms = get("interval").map_or(Ok(vitals_bench::DEFAULT_INTERVAL_MS), parse_duration_ms)?;
    let jitter_ms = get("jitter").map_or(Ok(25), parse_duration_ms)?;
    if interval_ms == 0 || jitter_ms * 2 >= interval_ms {
        return Err("--interval must be positive and more than twice --jitter".into());
    }
    let end_ms: u64 = parse(get("end-ms"), now_ms())?;
    let steps = ((hours * 3_600_000.0) / interval_ms as f64).round().max(1.0) as u64;
    let last_step = end_ms / interval_ms;
    let first_step = last_step + 1 - steps;

    let pages: Vec<Page> = (0..targets)
        .map(|t| Page::build(per_target, &[("job", "synth"), ("instance", &format!("synth-{t}"))]))
        .collect();
    if get("describe").is_some() {
        describe(&pages[0]);
        return Ok(());
    }

    let sink: Box<dyn Write> = match get("out") {
        None | Some("-") => Box::new(io::stdout().lock()),
        Some(path) => Box::new(File::create(path).map_err(|e| format!("create {path}: {e}"))?),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let io_err = |e: io::Error| format!("write: {e}");
    let mut samples = 0u64;
    match format {
        Format::Prom => {
            let mut states: Vec<Vec<i64>> =
                (0..targets).map(|t| pages[t as usize].init(seed, t, first_step, interval_ms)).collect();
            let mut buf = Vec::with_capacity(1 << 20);
            pages[0].render_meta(&mut buf, Format::Prom);
            let mut ts = Vec::with_capacity(24);
            for step in first_step..=last_step {
                for t in 0..targets {
                    let page = &pages[t as usize];
                    let vals = &mut states[t as usize];
                    if step > first_step {
                        page.advance(vals, seed, t, step, interval_ms);
                    }
                    ts.clear();
                    ts.push(b' ');
                    write_int(&mut ts, jittered_ts_ms(seed, t, step, interval_ms, jitter_ms) as i64);
                    page.render_samples(vals, &ts, &mut buf);
                    samples += page.len() as u64;
                    out.write_all(&buf).map_err(io_err)?;
                    buf.clear();
                }
            }
        }
        Format::OpenMetrics => {
            let mut states: Vec<Vec<i64>> =
                (0..targets).map(|t| pages[t as usize].init(seed, t, first_step, interval_ms)).collect();
            for f in 0..pages[0].families().len() {
                let mut meta = Vec::new();
                write_family_meta(&pages[0], f, &mut meta);
                out.write_all(&meta).map_err(io_err)?;
                for t in 0..targets {
                    let stamp = move |step: u64| om_stamp(jittered_ts_ms(seed, t, step, interval_ms, jitter_ms));
                    samples += pages[t as usize]
                        .render_family_series_major(
                            f,
                            &mut states[t as usize],
                            seed,
                            t,
                            first_step,
                            steps,
                            interval_ms,
                            &stamp,
                            &mut out,
                        )
                        .map_err(io_err)?;
                }
            }
            out.write_all(b"# EOF\n").map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)?;
    let series = pages.iter().map(Page::len).sum::<usize>();
    eprintln!(
        "samples={samples} series={series} scrapes={steps} first_ms={} last_ms={}",
        first_step * interval_ms,
        last_step * interval_ms
    );
    Ok(())
}

fn parse<T: std::str::FromStr>(v: Option<&str>, default: T) -> Result<T, String> {
    match v {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// ` <seconds>.<millis>` as OpenMetrics timestamps are written.
fn om_stamp(ms: u64) -> Vec<u8> {
    format!(" {}.{:03}", ms / 1000, ms % 1000).into_bytes()
}

fn write_family_meta(page: &Page, f: usize, out: &mut Vec<u8>) {
    let fam = &page.families()[f];
    let kind = match fam.kind {
        vitals_bench::Kind::Counter => "counter",
        vitals_bench::Kind::Gauge => "gauge",
        vitals_bench::Kind::Histogram => "histogram",
        vitals_bench::Kind::Summary => "summary",
        vitals_bench::Kind::Untyped => "unknown",
    };
    let _ = write!(out, "# HELP {} {}\n# TYPE {} {kind}\n", fam.name, fam.help, fam.name);
}

fn describe(page: &Page) {
    let total = page.len();
    eprintln!("series per target: {total} in {} families", page.families().len());
    for (cat, n) in page.mix() {
        eprintln!("  {:<10} {:>6} {:>5.1} %", format!("{cat:?}"), n, 100.0 * n as f64 / total as f64);
    }
}
