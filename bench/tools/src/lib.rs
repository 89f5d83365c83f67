//! Synthetic scrape pages for the ingest benchmarks: a deterministic model of an application + node_exporter
//! page whose values evolve step by step (one step per scrape interval) from a seed.
//!
//! Every series (or histogram/summary group) is advanced from step `k - 1` to step `k` with randomness drawn
//! from `hash(seed, target, unit, k)` only, so any two consumers that start from the same step see exactly the
//! same values, in whatever order they walk through targets, series and steps.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Default scrape interval in milliseconds.
pub const DEFAULT_INTERVAL_MS: u64 = 5_000;
/// Default seed of the value model.
pub const DEFAULT_SEED: u64 = 0x5EED_CAFE;
/// Default number of series per target.
pub const DEFAULT_SERIES_PER_TARGET: usize = 2_000;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const TAG_INIT: u64 = 0x1A17;
const TAG_GROUP: u64 = 1 << 40;
const TAG_JITTER: u64 = 0x7177;

/// SplitMix64 finaliser: a fast, well-mixed 64-bit hash of `x`.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed and three words.
pub fn hash4(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    mix64(mix64(mix64(seed ^ a.wrapping_mul(GOLDEN)) ^ b) ^ c)
}

/// Small deterministic random number generator (SplitMix64 stream).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator from a 64-bit state.
    pub fn new(state: u64) -> Self {
        Rng(state)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    /// True with probability `permille / 1000`.
    pub fn chance(&mut self, permille: u16) -> bool {
        permille >= 1000 || (self.next_u64() % 1000) < u64::from(permille)
    }

    /// Standard normal variate (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Metric type of a family, as written in `# TYPE` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic counter (samples end in `_total`).
    Counter,
    /// Gauge.
    Gauge,
    /// Classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Summary (quantiles, `_sum`, `_count`).
    Summary,
    /// Untyped (`unknown` in OpenMetrics).
    Untyped,
}

/// Broad category of a series, used to describe the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Counter with integer or few-decimal increments.
    Counter,
    /// Gauge with integer or few-decimal values that moves.
    Gauge,
    /// Series whose value never changes.
    Constant,
    /// Part of a classic histogram (buckets, sum, count).
    Histogram,
    /// Full-precision float (summary quantiles and sums, clocks, ratios).
    FullFloat,
}

/// How one series' value evolves; values are stored as `i64` (fixed point, or `f64` bits for floats).
#[derive(Clone, Copy, Debug)]
enum Model {
    /// Fixed-point counter: with probability `p`‰ per step adds `quantum * uniform(0..=2*mean)`.
    Counter { dec: u8, quantum: i64, mean: i64, p: u16 },
    /// Fixed-point random walk: with probability `p`‰ moves by `quantum * uniform(-steps..=steps)`, clamped.
    Walk { dec: u8, quantum: i64, steps: i64, min: i64, max: i64, p: u16 },
    /// Fixed-point constant.
    Const { dec: u8 },
    /// Full-precision float redrawn log-uniformly in `[lo, hi]` each step.
    FloatRandom { lo: f64, hi: f64 },
    /// Full-precision wall-clock seconds with a random sub-second part.
    FloatClock,
    /// Full-precision float constant.
    FloatConst,
    /// Fixed-point member of a group (bucket, count, histogram sum).
    GroupFixed { dec: u8 },
    /// Full-precision member of a group (summary quantile or sum).
    GroupFloat,
}

impl Model {
    fn is_float(self) -> bool {
        matches!(self, Model::FloatRandom { .. } | Model::FloatClock | Model::FloatConst | Model::GroupFloat)
    }
}

#[derive(Clone, Debug)]
struct SeriesDef {
    prefix: String,
    model: Model,
    base: i64,
    category: Category,
}

#[derive(Clone, Debug)]
enum GroupKind {
    /// Cumulative buckets (`bounds.len()` series, last is `+Inf`), then `_sum` (µs fixed point), then `_count`.
    Histogram { bounds: &'static [f64] },
    /// `quantiles.len()` quantile series, then `_sum` (float), then `_count`.
    Summary { quantiles: &'static [f64] },
}

#[derive(Clone, Debug)]
struct Group {
    kind: GroupKind,
    first: usize,
    /// Mean observations per step.
    rate: f64,
    /// Log-normal observation distribution (ln of median seconds, sigma).
    mu: f64,
    sigma: f64,
}

/// A unit that is advanced as a whole: one independent series or one histogram/summary group.
#[derive(Clone, Copy, Debug)]
enum Unit {
    Series(usize),
    Group(usize),
}

/// One metric family: its metadata and the contiguous range of its series.
#[derive(Clone, Debug)]
pub struct Family {
    /// Family name (without `_total` for counters, as OpenMetrics wants it).
    pub name: String,
    /// Help text.
    pub help: String,
    /// Metric type.
    pub kind: Kind,
    /// First series index.
    pub first: usize,
    /// Number of series.
    pub len: usize,
    units: Vec<Unit>,
}

/// Exposition format of rendered samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (timestamps, when present, in integer milliseconds).
    Prom,
    /// OpenMetrics 1.0 text (timestamps in seconds with millisecond decimals).
    OpenMetrics,
}

/// The layout of one target's page plus the value model of every series.
#[derive(Clone, Debug)]
pub struct Page {
    families: Vec<Family>,
    series: Vec<SeriesDef>,
    groups: Vec<Group>,
}

const DEF_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];
const GC_QUANTILES: &[f64] = &[0.0, 0.25, 0.5, 0.75, 1.0];
const LATENCY_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];
const HANDLERS: &[&str] = &[
    "/api/v1/users",
    "/api/v1/orders",
    "/api/v1/products",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/search",
    "/api/v1/login",
    "/api/v1/logout",
    "/api/v1/session",
    "/api/v1/inventory",
    "/api/v1/payments",
    "/api/v1/refunds",
    "/api/v1/shipping",
    "/api/v1/reviews",
    "/api/v1/recommendations",
    "/api/v1/notifications",
    "/api/v1/settings",
    "/api/v1/profile",
    "/api/v1/avatar",
    "/api/v1/export",
    "/api/v2/users",
    "/api/v2/orders",
    "/api/v2/search",
    "/api/v2/catalog",
    "/healthz",
    "/readyz",
    "/metrics",
    "/static",
    "/graphql",
    "/webhooks/stripe",
    "/webhooks/github",
    "/admin/users",
    "/admin/jobs",
    "/admin/flags",
    "/internal/cache",
    "/internal/reindex",
];
/// (method, code, share of the handler's traffic, probability ‰ that the counter moves in a step).
const REQUEST_MIX: &[(&str, &str, f64, u16)] = &[
    ("GET", "200", 1.0, 1000),
    ("GET", "304", 0.2, 900),
    ("GET", "404", 0.02, 300),
    ("GET", "500", 0.002, 30),
    ("POST", "200", 0.3, 950),
    ("POST", "201", 0.1, 700),
    ("POST", "400", 0.02, 150),
    ("POST", "500", 0.001, 10),
];
const CPU_MODES: &[(&str, i64, u16)] = &[
    ("idle", 380, 1000),
    ("iowait", 6, 900),
    ("irq", 0, 0),
    ("nice", 1, 40),
    ("softirq", 3, 900),
    ("steal", 0, 0),
    ("system", 30, 1000),
    ("user", 75, 1000),
];

fn walk(dec: u8, quantum: i64, steps: i64, min: i64, max: i64, p: u16) -> Model {
    Model::Walk { dec, quantum, steps, min, max, p }
}

fn counter(dec: u8, quantum: i64, mean: i64, p: u16) -> Model {
    Model::Counter { dec, quantum, mean, p }
}

const CONST: Model = Model::Const { dec: 0 };

struct Builder {
    page: Page,
    extra: Vec<(String, String)>,
}

impl Builder {
    fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let first = self.page.series.len();
        self.page.families.push(Family {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            first,
            len: 0,
            units: Vec::new(),
        });
    }

    fn prefix(&self, suffix: &str, labels: &[(&str, &str)]) -> String {
        let fam = self.page.families.last().expect("family");
        let mut s = String::with_capacity(64);
        s.push_str(&fam.name);
        s.push_str(suffix);
        let mut all: Vec<(&str, &str)> = self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(labels);
        if !all.is_empty() {
            s.push('{');
            for (i, (k, v)) in all.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(k);
                s.push_str("=\"");
                s.push_str(v);
                s.push('"');
            }
            s.push('}');
        }
        s.push(' ');
        s
    }

    fn push_series(&mut self, suffix: &str, labels: &[(&str, &str)], model: Model, base: i64, cat: Category) {
        let prefix = self.prefix(suffix, labels);
        self.page.series.push(SeriesDef { prefix, model, base, category: cat });
        let fam = self.page.families.last_mut().expect("family");
        fam.len += 1;
    }

    /// Adds one independently evolving series to the current family.
    fn series(&mut self, labels: &[(&str, &str)], model: Model, base: i64) {
        let kind = self.page.families.last().expect("family").kind;
        let suffix = if kind == Kind::Counter { "_total" } else { "" };
        let cat = match model {
            Model::Counter { mean, p, .. } if mean == 0 || p == 0 => Category::Constant,
            Model::Counter { .. } => Category::Counter,
            Model::Walk { .. } => Category::Gauge,
            Model::Const { .. } => Category::Constant,
            _ => Category::FullFloat,
        };
        let idx = self.page.series.len();
        self.push_series(suffix, labels, model, base, cat);
        self.page.families.last_mut().expect("family").units.push(Unit::Series(idx));
    }

    fn single(&mut self, name: &str, help: &str, kind: Kind, model: Model, base: i64) {
        self.family(name, help, kind);
        self.series(&[], model, base);
    }

    fn histogram(&mut self, labels: &[(&str, &str)], rate: f64, mu: f64, sigma: f64) {
        let first = self.page.series.len();
        for &b in DEF_BUCKETS {
            let le = if b.is_infinite() { "+Inf".to_string() } else { format!("{b}") };
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.push_series("_bucket", &l, Model::GroupFixed { dec: 0 }, 0, Category::Histogram);
        }
        self.push_series("_sum", labels, Model::GroupFixed { dec: 6 }, 0, Category::Histogram);
        self.push_series("_count", labels, Model::GroupFixed { dec: 0 }, 0, Category::Histogram);
        let g = self.page.groups.len();
        self.page.groups.push(Group { kind: GroupKind::Histogram { bounds: DEF_BUCKETS }, first, rate, mu, sigma });
        self.page.families.last_mut().expect("family").units.push(Unit::Group(g));
    }

    fn summary(&mut self, labels: &[(&str, &str)], quantiles: &'static [f64], rate: f64, mu: f64, sigma: f64) {
        let first = self.page.series.len();
        for &q in quantiles {
            let qs = format!("{q}");
            let mut l = labels.to_vec();
            l.push(("quantile", &qs));
            self.push_series("", &l, Model::GroupFloat, 0, Category::FullFloat);
        }
        self.push_series("_sum", labels, Model::GroupFloat, 0, Category::FullFloat);
        self.push_series("_count", labels, Model::GroupFixed { dec: 0 }, 0, Category::Counter);
        let g = self.page.groups.len();
        self.page.groups.push(Group { kind: GroupKind::Summary { quantiles }, first, rate, mu, sigma });
        self.page.families.last_mut().expect("family").units.push(Unit::Group(g));
    }

    fn len(&self) -> usize {
        self.page.series.len()
    }
}

fn add_process_block(b: &mut Builder) {
    use Kind::{Counter as C, Gauge as G};
    b.family("go_gc_duration_seconds", "A summary of the pause duration of garbage collection cycles.", Kind::Summary);
    b.summary(&[], GC_QUANTILES, 0.4, (80e-6f64).ln(), 0.6);
    b.single("go_goroutines", "Number of goroutines that currently exist.", G, walk(0, 1, 3, 20, 400, 600), 80);
    b.single("go_threads", "Number of OS threads created.", G, walk(0, 1, 1, 8, 64, 20), 14);
    b.family("go_info", "Information about the Go environment.", G);
    b.series(&[("version", "go1.20.3")], CONST, 1);
    let memstats: &[(&str, Kind, Model, i64)] = &[
        ("alloc_bytes", G, walk(0, 8, 200_000, 4_000_000, 60_000_000, 1000), 20_000_000),
        ("allocated_bytes", C, counter(0, 8, 400_000, 1000), 0),
        ("buck_hash_sys_bytes", G, CONST, 1_475_032),
        ("frees", C, counter(0, 1, 40_000, 1000), 0),
        ("gc_sys_bytes", G, walk(0, 4096, 2, 8_000_000, 9_000_000, 30), 8_500_000),
        ("heap_alloc_bytes", G, walk(0, 8, 200_000, 4_000_000, 60_000_000, 1000), 20_000_000),
        ("heap_idle_bytes", G, walk(0, 8192, 64, 1_000_000, 40_000_000, 400), 9_000_000),
        ("heap_inuse_bytes", G, walk(0, 8192, 64, 4_000_000, 60_000_000, 800), 24_000_000),
        ("heap_objects", G, walk(0, 1, 5_000, 20_000, 900_000, 1000), 150_000),
        ("heap_released_bytes", G, walk(0, 8192, 16, 0, 30_000_000, 100), 4_000_000),
        ("heap_sys_bytes", G, walk(0, 262_144, 1, 20_000_000, 90_000_000, 20), 36_000_000),
        ("last_gc_time_seconds", G, Model::FloatClock, 0),
        ("lookups", C, counter(0, 1, 0, 0), 0),
        ("mallocs", C, counter(0, 1, 42_000, 1000), 0),
        ("mcache_inuse_bytes", G, walk(0, 1200, 1, 2400, 24_000, 10), 9600),
        ("mcache_sys_bytes", G, CONST, 15_600),
        ("mspan_inuse_bytes", G, walk(0, 136, 20, 100_000, 900_000, 500), 350_000),
        ("mspan_sys_bytes", G, walk(0, 16_384, 1, 200_000, 2_000_000, 10), 600_000),
        ("next_gc_bytes", G, walk(0, 8, 400_000, 4_000_000, 80_000_000, 100), 40_000_000),
        ("other_sys_bytes", G, walk(0, 1, 2_000, 500_000, 3_000_000, 200), 1_200_000),
        ("stack_inuse_bytes", G, walk(0, 32_768, 2, 300_000, 5_000_000, 200), 1_500_000),
        ("stack_sys_bytes", G, walk(0, 32_768, 2, 300_000, 5_000_000, 200), 1_500_000),
        ("sys_bytes", G, walk(0, 262_144, 1, 30_000_000, 120_000_000, 20), 50_000_000),
    ];
    for &(name, kind, model, base) in memstats {
        let help = format!("Go runtime statistic {name}.");
        b.single(&format!("go_memstats_{name}"), &help, kind, model, base);
    }
    b.single("process_cpu_seconds", "Total user and system CPU time spent in seconds.", C, counter(2, 1, 25, 1000), 0);
    b.single("process_max_fds", "Maximum number of open file descriptors.", G, CONST, 1_048_576);
    b.single("process_open_fds", "Number of open file descriptors.", G, walk(0, 1, 2, 10, 2000, 300), 40);
    b.single(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        G,
        walk(0, 4096, 200, 20_000_000, 400_000_000, 900),
        60_000_000,
    );
    b.single(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        G,
        Model::Const { dec: 2 },
        169_900_001_234,
    );
    b.single(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        G,
        walk(0, 4096, 100, 700_000_000, 3_000_000_000, 300),
        1_200_000_000,
    );
    b.single(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        G,
        Model::FloatConst,
        1.8446744073709552e19f64.to_bits() as i64,
    );
    b.family("app_build_info", "Build information of the application.", G);
    b.series(
        &[("branch", "main"), ("goversion", "go1.20.3"), ("revision", "4f7c2e1a"), ("version", "2.7.1")],
        CONST,
        1,
    );
    b.single("app_config_max_connections", "Configured connection limit.", G, CONST, 1024);
    b.single("app_config_timeout_seconds", "Configured request timeout.", G, Model::Const { dec: 1 }, 300);
    b.single("app_config_cache_size_bytes", "Configured cache size.", G, CONST, 268_435_456);
    b.single("app_config_last_reload_successful", "Whether the last configuration reload succeeded.", G, CONST, 1);
    b.single(
        "app_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful reload.",
        G,
        CONST,
        1_699_000_042,
    );
}

fn add_node_block(b: &mut Builder, ncpu: usize, ndev: usize) {
    use Kind::{Counter as C, Gauge as G, Untyped as U};
    let cpus: Vec<String> = (0..ncpu).map(|c| c.to_string()).collect();
    b.family("node_cpu_seconds", "Seconds the CPUs spent in each mode.", C);
    for cpu in &cpus {
        for &(mode, mean, p) in CPU_MODES {
            b.series(&[("cpu", cpu), ("mode", mode)], counter(2, 1, mean, p), 0);
        }
    }
    b.family("node_cpu_guest_seconds", "Seconds the CPUs spent in guests (VMs) for each mode.", C);
    for cpu in &cpus {
        for mode in ["nice", "user"] {
            b.series(&[("cpu", cpu), ("mode", mode)], counter(2, 1, 0, 0), 0);
        }
    }
    b.family("node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz.", G);
    for cpu in &cpus {
        b.series(&[("cpu", cpu)], walk(0, 1000, 400_000, 800_000_000, 3_600_000_000, 900), 2_400_000_000);
    }
    let sensors: Vec<String> = (0..ncpu).map(|c| format!("temp{}", c + 2)).collect();
    b.family("node_hwmon_temp_celsius", "Hardware monitor for temperature (input)", G);
    for s in &sensors {
        b.series(&[("chip", "platform_coretemp_0"), ("sensor", s)], walk(1, 1, 10, 300, 950, 700), 450);
    }
    b.family("node_hwmon_temp_crit_celsius", "Hardware monitor for temperature (crit)", G);
    for s in &sensors {
        b.series(&[("chip", "platform_coretemp_0"), ("sensor", s)], Model::Const { dec: 1 }, 1000);
    }
    let kb = 1024;
    let meminfo: &[(&str, Model, i64)] = &[
        ("MemTotal", CONST, 33_396_543_488),
        ("MemFree", walk(0, kb, 4_000, 1_000_000_000, 20_000_000_000, 1000), 8_000_000_000),
        ("MemAvailable", walk(0, kb, 4_000, 4_000_000_000, 30_000_000_000, 1000), 20_000_000_000),
        ("Buffers", walk(0, kb, 20, 100_000_000, 900_000_000, 400), 400_000_000),
        ("Cached", walk(0, kb, 2_000, 2_000_000_000, 16_000_000_000, 900), 10_000_000_000),
        ("SwapCached", CONST, 0),
        ("Active", walk(0, kb, 2_000, 2_000_000_000, 16_000_000_000, 900), 9_000_000_000),
        ("Inactive", walk(0, kb, 2_000, 2_000_000_000, 16_000_000_000, 900), 8_000_000_000),
        ("Active_anon", walk(0, kb, 1_000, 500_000_000, 8_000_000_000, 900), 3_000_000_000),
        ("Inactive_anon", walk(0, kb, 200, 100_000_000, 2_000_000_000, 600), 500_000_000),
        ("Active_file", walk(0, kb, 1_000, 500_000_000, 8_000_000_000, 900), 6_000_000_000),
        ("Inactive_file", walk(0, kb, 1_000, 500_000_000, 8_000_000_000, 900), 7_000_000_000),
        ("Unevictable", CONST, 8_192_000),
        ("Mlocked", CONST, 8_192_000),
        ("SwapTotal", CONST, 0),
        ("SwapFree", CONST, 0),
        ("Dirty", walk(0, kb, 200, 0, 400_000_000, 900), 2_000_000),
        ("Writeback", walk(0, kb, 2, 0, 4_000_000, 50), 0),
        ("AnonPages", walk(0, kb, 1_000, 500_000_000, 8_000_000_000, 900), 3_400_000_000),
        ("Mapped", walk(0, kb, 100, 100_000_000, 2_000_000_000, 500), 800_000_000),
        ("Shmem", walk(0, kb, 20, 10_000_000, 900_000_000, 300), 90_000_000),
        ("KReclaimable", walk(0, kb, 100, 100_000_000, 2_000_000_000, 600), 600_000_000),
        ("Slab", walk(0, kb, 100, 200_000_000, 3_000_000_000, 800), 900_000_000),
        ("SReclaimable", walk(0, kb, 100, 100_000_000, 2_000_000_000, 600), 600_000_000),
        ("SUnreclaim", walk(0, kb, 40, 100_000_000, 1_000_000_000, 700), 300_000_000),
        ("KernelStack", walk(0, 16_384, 2, 10_000_000, 60_000_000, 500), 20_000_000),
        ("PageTables", walk(0, 4096, 20, 20_000_000, 300_000_000, 800), 80_000_000),
        ("CommitLimit", CONST, 16_698_271_744),
        ("Committed_AS", walk(0, kb, 2_000, 4_000_000_000, 40_000_000_000, 900), 14_000_000_000),
        ("VmallocTotal", CONST, 35_184_372_087_808),
        ("VmallocUsed", walk(0, kb, 20, 50_000_000, 200_000_000, 300), 90_000_000),
        ("HugePages_Total", CONST, 0),
        ("HugePages_Free", CONST, 0),
        ("Hugepagesize", CONST, 2_097_152),
    ];
    for &(name, model, base) in meminfo {
        let help = format!("Memory information field {name}_bytes.");
        b.single(&format!("node_memory_{name}_bytes"), &help, G, model, base);
    }
    b.single("node_load1", "1m load average.", G, walk(2, 1, 20, 0, 1600, 1000), 120);
    b.single("node_load5", "5m load average.", G, walk(2, 1, 8, 0, 1600, 1000), 110);
    b.single("node_load15", "15m load average.", G, walk(2, 1, 3, 0, 1600, 1000), 100);
    b.single("node_procs_running", "Number of processes in runnable state.", G, walk(0, 1, 2, 1, 20, 800), 3);
    b.single(
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        G,
        walk(0, 1, 1, 0, 4, 100),
        0,
    );
    b.single("node_context_switches", "Total number of context switches.", C, counter(0, 1, 40_000, 1000), 0);
    b.single("node_intr", "Total number of interrupts serviced.", C, counter(0, 1, 25_000, 1000), 0);
    b.single("node_forks", "Total number of forks.", C, counter(0, 1, 60, 1000), 0);
    b.single("node_boot_time_seconds", "Node boot time, in unixtime.", G, CONST, 1_698_000_000);
    b.single("node_time_seconds", "System time in seconds since epoch (1970).", G, Model::FloatClock, 0);
    b.single("node_entropy_available_bits", "Bits of available entropy.", G, walk(0, 1, 20, 256, 4096, 500), 3500);
    b.single(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        G,
        walk(0, 32, 2, 2_000, 90_000, 600),
        12_000,
    );
    b.single("node_filefd_maximum", "File descriptor statistics: maximum.", G, CONST, 9_223_372_036_854_775_807);
    b.family("node_uname_info", "Labeled system information as provided by the uname system call.", G);
    b.series(
        &[("machine", "x86_64"), ("nodename", "app-host"), ("release", "6.1.0-13-amd64"), ("sysname", "Linux")],
        CONST,
        1,
    );
    b.family("node_os_info", "A metric with a constant '1' value labeled by os-release fields.", G);
    b.series(&[("id", "debian"), ("name", "Debian GNU/Linux"), ("version_id", "12")], CONST, 1);
    b.single(
        "node_timex_offset_seconds",
        "Time offset in between local system and reference clock.",
        G,
        Model::FloatRandom { lo: 1e-6, hi: 2e-3 },
        0,
    );
    b.single(
        "node_timex_frequency_adjustment_ratio",
        "Local clock frequency adjustment.",
        G,
        Model::FloatRandom { lo: 0.99998, hi: 1.00002 },
        0,
    );
    b.single("node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", G, CONST, 1);
    b.single(
        "node_timex_maxerror_seconds",
        "Maximum error in seconds.",
        G,
        walk(6, 1, 800, 1_000, 2_000_000, 1000),
        300_000,
    );
    b.single(
        "node_timex_estimated_error_seconds",
        "Estimated error in seconds.",
        G,
        walk(6, 1, 20, 0, 100_000, 700),
        600,
    );
    let vmstat: &[(&str, Model)] = &[
        ("pgfault", counter(0, 1, 9_000, 1000)),
        ("pgmajfault", counter(0, 1, 1, 100)),
        ("pgpgin", counter(0, 1, 400, 500)),
        ("pgpgout", counter(0, 1, 2_000, 1000)),
        ("pswpin", counter(0, 1, 0, 0)),
        ("pswpout", counter(0, 1, 0, 0)),
        ("oom_kill", counter(0, 1, 0, 0)),
    ];
    for &(name, model) in vmstat {
        let help = format!("/proc/vmstat information field {name}.");
        b.single(&format!("node_vmstat_{name}"), &help, U, model, 0);
    }
    let disks: Vec<String> = (0..ndev).map(|i| format!("sd{}", (b'a' + (i % 26) as u8) as char)).collect();
    let disk_counters: &[(&str, Model)] = &[
        ("reads_completed", counter(0, 1, 30, 900)),
        ("writes_completed", counter(0, 1, 150, 1000)),
        ("read_bytes", counter(0, 512, 500, 900)),
        ("written_bytes", counter(0, 512, 3_000, 1000)),
        ("read_time_seconds", counter(3, 1, 40, 900)),
        ("write_time_seconds", counter(3, 1, 300, 1000)),
        ("io_time_seconds", counter(3, 1, 250, 1000)),
        ("io_time_weighted_seconds", counter(3, 1, 400, 1000)),
        ("discards_completed", counter(0, 1, 1, 20)),
    ];
    for &(name, model) in disk_counters {
        b.family(&format!("node_disk_{name}"), &format!("Disk statistic {name}."), C);
        for d in &disks {
            b.series(&[("device", d)], model, 0);
        }
    }
    b.family("node_disk_io_now", "The number of I/Os currently in progress.", G);
    for d in &disks {
        b.series(&[("device", d)], walk(0, 1, 1, 0, 8, 200), 0);
    }
    let nics: Vec<String> = (0..ndev).map(|i| format!("eth{i}")).collect();
    let nic_counters: &[(&str, Model)] = &[
        ("receive_bytes", counter(0, 1, 600_000, 1000)),
        ("transmit_bytes", counter(0, 1, 900_000, 1000)),
        ("receive_packets", counter(0, 1, 900, 1000)),
        ("transmit_packets", counter(0, 1, 1_100, 1000)),
        ("receive_errs", counter(0, 1, 1, 2)),
        ("transmit_errs", counter(0, 1, 1, 1)),
        ("receive_drop", counter(0, 1, 1, 5)),
        ("transmit_drop", counter(0, 1, 0, 0)),
    ];
    for &(name, model) in nic_counters {
        b.family(&format!("node_network_{name}"), &format!("Network device statistic {name}."), C);
        for n in &nics {
            b.series(&[("device", n)], model, 0);
        }
    }
    for (name, value) in
        [("node_network_up", 1), ("node_network_mtu_bytes", 1500), ("node_network_speed_bytes", 1_250_000_000)]
    {
        b.family(name, &format!("Network device property {name}."), G);
        for n in &nics {
            b.series(&[("device", n)], CONST, value);
        }
    }
    let mounts: Vec<(String, String)> = (0..ndev)
        .map(|i| match i {
            0 => ("/dev/sda1".to_string(), "/".to_string()),
            1 => ("/dev/sda2".to_string(), "/var".to_string()),
            _ => (format!("/dev/sd{}1", (b'a' + (i % 26) as u8) as char), format!("/srv/data{i}")),
        })
        .collect();
    let fs: &[(&str, Model, i64)] = &[
        ("avail_bytes", walk(0, 4096, 500, 1_000_000_000, 400_000_000_000, 600), 120_000_000_000),
        ("device_error", CONST, 0),
        ("files", CONST, 26_214_400),
        ("files_free", walk(0, 1, 50, 1_000_000, 26_000_000, 500), 24_000_000),
        ("free_bytes", walk(0, 4096, 500, 1_000_000_000, 400_000_000_000, 600), 140_000_000_000),
        ("readonly", CONST, 0),
        ("size_bytes", CONST, 429_496_729_600),
    ];
    for &(name, model, base) in fs {
        b.family(&format!("node_filesystem_{name}"), &format!("Filesystem {name}."), G);
        for (dev, mnt) in &mounts {
            b.series(&[("device", dev), ("fstype", "ext4"), ("mountpoint", mnt)], model, base);
        }
    }
}

fn handler_name(h: usize) -> String {
    let base = HANDLERS[h % HANDLERS.len()];
    if h < HANDLERS.len() {
        base.to_string()
    } else {
        format!("{base}/{}", h / HANDLERS.len())
    }
}

/// Series of one handler in the app block: request counters, a histogram or a summary, and three more.
fn handler_series(h: usize) -> usize {
    REQUEST_MIX.len() + 3 + if h % 3 == 2 { LATENCY_QUANTILES.len() + 2 } else { DEF_BUCKETS.len() + 2 }
}

fn add_app_block(b: &mut Builder, handlers: usize, fillers: usize) {
    let names: Vec<String> = (0..handlers).map(handler_name).collect();
    // Requests per step per handler: log-uniform between 0.5 and 300.
    let rates: Vec<f64> =
        (0..handlers).map(|h| (0.5f64.ln() + (600f64).ln() * Rng::new(mix64(h as u64)).unit()).exp()).collect();
    b.family("http_requests", "Total number of HTTP requests by handler, method and status code.", Kind::Counter);
    for (h, name) in names.iter().enumerate() {
        for &(method, code, share, p) in REQUEST_MIX {
            let mean = ((rates[h] * share).round() as i64).max(1);
            let p = if rates[h] * share < 1.0 { ((f64::from(p) * rates[h] * share).ceil() as u16).max(1) } else { p };
            b.series(&[("code", code), ("handler", name), ("method", method)], counter(0, 1, mean, p), 0);
        }
    }
    b.family("http_request_duration_seconds", "Histogram of HTTP request latencies.", Kind::Histogram);
    for (h, name) in names.iter().enumerate().filter(|(h, _)| h % 3 != 2) {
        let median = 0.02 + 0.25 * Rng::new(mix64(h as u64 ^ 0xD0)).unit();
        b.histogram(&[("handler", name)], rates[h].min(80.0), median.ln(), 0.8);
    }
    b.family("app_handler_latency_seconds", "Summary of handler latencies.", Kind::Summary);
    for (h, name) in names.iter().enumerate().filter(|(h, _)| h % 3 == 2) {
        let median = 0.01 + 0.2 * Rng::new(mix64(h as u64 ^ 0xD1)).unit();
        b.summary(&[("handler", name)], LATENCY_QUANTILES, rates[h].min(80.0), median.ln(), 0.7);
    }
    b.family("http_response_size_bytes", "Total bytes sent in HTTP responses.", Kind::Counter);
    for (h, name) in names.iter().enumerate() {
        b.series(&[("handler", name)], counter(0, 1, (rates[h] * 2400.0) as i64 + 1, 1000), 0);
    }
    b.family("http_requests_in_flight", "Requests currently being served.", Kind::Gauge);
    for name in &names {
        b.series(&[("handler", name)], walk(0, 1, 1, 0, 10, 300), 0);
    }
    b.family("app_cache_hit_ratio", "Ratio of cache hits.", Kind::Gauge);
    for name in &names {
        b.series(&[("handler", name)], walk(3, 1, 15, 300, 1000, 900), 850);
    }
    if fillers > 0 {
        b.family("app_jobs_processed", "Jobs processed per queue.", Kind::Counter);
        for q in 0..fillers {
            b.series(&[("queue", &format!("q{q}"))], counter(0, 1, 3, 800), 0);
        }
    }
}

impl Page {
    /// Builds the page of one target with about `series` series (exactly, unless `series` is below the fixed
    /// part of ~270 series); `extra` labels are prepended to every series (e.g. `job`, `instance`).
    pub fn build(series: usize, extra: &[(&str, &str)]) -> Page {
        let ncpu = (series / 250).clamp(1, 64);
        let ndev = (series / 700).clamp(1, 16);
        let mut b = Builder {
            page: Page { families: Vec::new(), series: Vec::new(), groups: Vec::new() },
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        add_process_block(&mut b);
        add_node_block(&mut b, ncpu, ndev);
        let mut left = series.saturating_sub(b.len());
        let mut handlers = 0;
        while left >= handler_series(handlers) {
            left -= handler_series(handlers);
            handlers += 1;
        }
        add_app_block(&mut b, handlers, left);
        b.page
    }

    /// The series of `i` as on the page: `name` or `name{label="value",...}` (no escapes needed).
    pub fn series_text(&self, i: usize) -> &str {
        self.series[i].prefix.trim_end()
    }

    /// The float value of series `i` for its entry `v` of the values from [`Page::init`] / [`Page::advance`]
    /// (the same number the page renders).
    pub fn value_f64(&self, i: usize, v: i64) -> f64 {
        match self.series[i].model {
            Model::Counter { dec, .. } | Model::Walk { dec, .. } | Model::Const { dec } | Model::GroupFixed { dec } => {
                v as f64 / 10f64.powi(i32::from(dec))
            }
            _ => f64::from_bits(v as u64),
        }
    }

    /// Number of series on the page.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the page has no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Metric families in page order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Number of series per category, in category order.
    pub fn mix(&self) -> Vec<(Category, usize)> {
        let mut m: HashMap<Category, usize> = HashMap::new();
        for s in &self.series {
            *m.entry(s.category).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        v
    }

    /// Initial values of all series of `target` at `step`.
    pub fn init(&self, seed: u64, target: u64, step: u64, interval_ms: u64) -> Vec<i64> {
        let mut vals = vec![0i64; self.series.len()];
        for (i, s) in self.series.iter().enumerate() {
            let mut r = Rng::new(hash4(seed, target, i as u64, TAG_INIT));
            vals[i] = match s.model {
                Model::Counter { quantum, mean, p, .. } => {
                    quantum * (mean * i64::from(p) / 1000) * r.range(2_000, 200_000)
                        + if mean > 0 && p > 0 { r.range(0, 1000) } else { 0 }
                }
                Model::Walk { quantum, steps, min, max, .. } => {
                    let spread = (50 * steps).min((max - min) / quantum / 4);
                    let v = s.base + quantum * r.range(-spread, spread);
                    (v / quantum * quantum).clamp(min, max)
                }
                Model::Const { .. } | Model::FloatConst => s.base,
                Model::FloatRandom { lo, hi } => float_random(&mut r, lo, hi).to_bits() as i64,
                Model::FloatClock => clock(&mut r, step, interval_ms).to_bits() as i64,
                Model::GroupFixed { .. } | Model::GroupFloat => 0,
            };
        }
        for (g, grp) in self.groups.iter().enumerate() {
            let mut r = Rng::new(hash4(seed, target, TAG_GROUP | g as u64, TAG_INIT));
            let count = (grp.rate * r.range(2_000, 50_000) as f64) as i64;
            match grp.kind {
                GroupKind::Histogram { bounds } => {
                    let mut hits = vec![0i64; bounds.len()];
                    let mut sum_us = 0f64;
                    const N: i64 = 512;
                    for _ in 0..N {
                        let obs = (grp.mu + grp.sigma * r.normal()).exp();
                        hits[bucket_of(bounds, obs)] += 1;
                        sum_us += obs * 1e6;
                    }
                    let mut cum = 0;
                    for (b, h) in hits.iter().enumerate() {
                        cum += h;
                        vals[grp.first + b] = count * cum / N;
                    }
                    vals[grp.first + bounds.len()] = (sum_us / N as f64 * count as f64) as i64;
                    vals[grp.first + bounds.len() + 1] = count;
                }
                GroupKind::Summary { quantiles } => {
                    for (q, v) in summary_quantiles(&mut r, grp, quantiles).into_iter().enumerate() {
                        vals[grp.first + q] = v.to_bits() as i64;
                    }
                    let sum = count as f64 * grp.mu.exp() * (1.0 + 0.3 * r.unit());
                    vals[grp.first + quantiles.len()] = sum.to_bits() as i64;
                    vals[grp.first + quantiles.len() + 1] = count;
                }
            }
        }
        vals
    }

    /// Advances all series of `target` from `step - 1` to `step`.
    pub fn advance(&self, vals: &mut [i64], seed: u64, target: u64, step: u64, interval_ms: u64) {
        for f in 0..self.families.len() {
            self.advance_family(f, vals, seed, target, step, interval_ms);
        }
    }

    /// Advances the series of family `f` only (other series are untouched).
    pub fn advance_family(&self, f: usize, vals: &mut [i64], seed: u64, target: u64, step: u64, interval_ms: u64) {
        for &u in &self.families[f].units {
            self.advance_unit(u, vals, seed, target, step, interval_ms);
        }
    }

    fn advance_unit(&self, u: Unit, vals: &mut [i64], seed: u64, target: u64, step: u64, interval_ms: u64) {
        match u {
            Unit::Series(i) => {
                let s = &self.series[i];
                match s.model {
                    Model::Counter { quantum, mean, p, .. } => {
                        if mean > 0 && p > 0 {
                            let mut r = Rng::new(hash4(seed, target, i as u64, step));
                            if r.chance(p) {
                                vals[i] += quantum * r.range(0, 2 * mean);
                            }
                        }
                    }
                    Model::Walk { quantum, steps, min, max, p, .. } => {
                        let mut r = Rng::new(hash4(seed, target, i as u64, step));
                        if r.chance(p) {
                            vals[i] = (vals[i] + quantum * r.range(-steps, steps)).clamp(min, max);
                        }
                    }
                    Model::FloatRandom { lo, hi } => {
                        let mut r = Rng::new(hash4(seed, target, i as u64, step));
                        vals[i] = float_random(&mut r, lo, hi).to_bits() as i64;
                    }
                    Model::FloatClock => {
                        let mut r = Rng::new(hash4(seed, target, i as u64, step));
                        vals[i] = clock(&mut r, step, interval_ms).to_bits() as i64;
                    }
                    Model::Const { .. } | Model::FloatConst | Model::GroupFixed { .. } | Model::GroupFloat => {}
                }
            }
            Unit::Group(g) => {
                let grp = &self.groups[g];
                let mut r = Rng::new(hash4(seed, target, TAG_GROUP | g as u64, step));
                let n = observations(&mut r, grp.rate);
                match grp.kind {
                    GroupKind::Histogram { bounds } => {
                        if n == 0 {
                            return;
                        }
                        let mut hits = [0i64; 16];
                        let mut sum_us = 0i64;
                        for _ in 0..n {
                            let obs = (grp.mu + grp.sigma * r.normal()).exp();
                            hits[bucket_of(bounds, obs)] += 1;
                            sum_us += (obs * 1e6).round() as i64;
                        }
                        let mut cum = 0;
                        for (b, h) in hits.iter().take(bounds.len()).enumerate() {
                            cum += h;
                            vals[grp.first + b] += cum;
                        }
                        vals[grp.first + bounds.len()] += sum_us;
                        vals[grp.first + bounds.len() + 1] += n as i64;
                    }
                    GroupKind::Summary { quantiles } => {
                        if n == 0 {
                            return;
                        }
                        let mut sum = 0f64;
                        for _ in 0..n {
                            sum += (grp.mu + grp.sigma * r.normal()).exp();
                        }
                        for (q, v) in summary_quantiles(&mut r, grp, quantiles).into_iter().enumerate() {
                            vals[grp.first + q] = v.to_bits() as i64;
                        }
                        let si = grp.first + quantiles.len();
                        vals[si] = (f64::from_bits(vals[si] as u64) + sum).to_bits() as i64;
                        vals[si + 1] += n as i64;
                    }
                }
            }
        }
    }

    /// Writes a scrape page (no timestamps) for the current values, with `# HELP`/`# TYPE` lines.
    pub fn render_scrape(&self, vals: &[i64], out: &mut Vec<u8>) {
        for f in &self.families {
            write_meta(out, f, Format::Prom);
            for (i, &v) in vals.iter().enumerate().skip(f.first).take(f.len) {
                self.write_sample(out, i, v, b"");
            }
        }
    }

    /// Writes the `# HELP` and `# TYPE` lines of every family (used once at the top of a prom-format dump).
    pub fn render_meta(&self, out: &mut Vec<u8>, format: Format) {
        for f in &self.families {
            write_meta(out, f, format);
        }
    }

    /// Writes all series of the page with the given timestamp suffix (e.g. `b" 1700000000000"`).
    pub fn render_samples(&self, vals: &[i64], ts: &[u8], out: &mut Vec<u8>) {
        for (i, &v) in vals.iter().enumerate().take(self.series.len()) {
            self.write_sample(out, i, v, ts);
        }
    }

    /// Writes family `f` for `steps` consecutive steps starting at `first_step`, one unit (series or
    /// histogram/summary) after the other, each with all its points in time order (OpenMetrics order).
    /// `vals` must hold the values at `first_step`; the family's entries are advanced in place.
    /// `ts(step)` renders the timestamp suffix for a step.
    #[allow(clippy::too_many_arguments)]
    pub fn render_family_series_major<W: Write>(
        &self,
        f: usize,
        vals: &mut [i64],
        seed: u64,
        target: u64,
        first_step: u64,
        steps: u64,
        interval_ms: u64,
        ts: &dyn Fn(u64) -> Vec<u8>,
        out: &mut W,
    ) -> io::Result<u64> {
        let mut buf = Vec::with_capacity(1 << 16);
        let mut n = 0u64;
        let stamps: Vec<Vec<u8>> = (first_step..first_step + steps).map(ts).collect();
        for &u in &self.families[f].units {
            let range = match u {
                Unit::Series(i) => i..i + 1,
                Unit::Group(g) => {
                    let grp = &self.groups[g];
                    let len = match grp.kind {
                        GroupKind::Histogram { bounds } => bounds.len() + 2,
                        GroupKind::Summary { quantiles } => quantiles.len() + 2,
                    };
                    grp.first..grp.first + len
                }
            };
            for (k, stamp) in stamps.iter().enumerate() {
                let step = first_step + k as u64;
                if k > 0 {
                    self.advance_unit(u, vals, seed, target, step, interval_ms);
                }
                for i in range.clone() {
                    self.write_sample(&mut buf, i, vals[i], stamp);
                    n += 1;
                }
                if buf.len() > 1 << 16 {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        out.write_all(&buf)?;
        Ok(n)
    }

    fn write_sample(&self, out: &mut Vec<u8>, i: usize, v: i64, ts: &[u8]) {
        let s = &self.series[i];
        out.extend_from_slice(s.prefix.as_bytes());
        match s.model {
            Model::Counter { dec, .. } | Model::Walk { dec, .. } | Model::Const { dec } | Model::GroupFixed { dec } => {
                write_fixed(out, v, dec)
            }
            m => {
                debug_assert!(m.is_float());
                write_float(out, f64::from_bits(v as u64));
            }
        }
        out.extend_from_slice(ts);
        out.push(b'\n');
    }
}

fn write_meta(out: &mut Vec<u8>, f: &Family, format: Format) {
    let name =
        if f.kind == Kind::Counter && format == Format::Prom { format!("{}_total", f.name) } else { f.name.clone() };
    let kind = match (f.kind, format) {
        (Kind::Counter, _) => "counter",
        (Kind::Gauge, _) => "gauge",
        (Kind::Histogram, _) => "histogram",
        (Kind::Summary, _) => "summary",
        (Kind::Untyped, Format::Prom) => "untyped",
        (Kind::Untyped, Format::OpenMetrics) => "unknown",
    };
    let _ = write!(out, "# HELP {name} {}\n# TYPE {name} {kind}\n", f.help);
}

fn bucket_of(bounds: &[f64], obs: f64) -> usize {
    bounds.iter().position(|&b| obs <= b).unwrap_or(bounds.len() - 1)
}

fn observations(r: &mut Rng, rate: f64) -> u64 {
    if rate < 1.0 {
        return u64::from(r.unit() < rate);
    }
    // Roughly Poisson: uniform around the mean with +-60 % spread.
    (rate * (0.4 + 1.2 * r.unit())).round() as u64
}

fn summary_quantiles(r: &mut Rng, grp: &Group, quantiles: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(quantiles.len());
    let mut prev = 0.0f64;
    for &q in quantiles {
        // z-score of q, clamped for q = 0 and q = 1, plus noise; kept monotonic.
        let z = match q {
            q if q <= 0.0 => -2.5,
            q if q >= 1.0 => 3.0,
            q if q >= 0.99 => 2.33,
            q if q >= 0.9 => 1.28,
            q if q >= 0.75 => 0.67,
            q if q >= 0.5 => 0.0,
            _ => -0.67,
        };
        let v = (grp.mu + grp.sigma * (z + 0.25 * r.normal())).exp().max(prev);
        out.push(v);
        prev = v;
    }
    out
}

fn float_random(r: &mut Rng, lo: f64, hi: f64) -> f64 {
    if lo > 0.0 && hi / lo > 10.0 {
        (lo.ln() + (hi / lo).ln() * r.unit()).exp()
    } else {
        lo + (hi - lo) * r.unit()
    }
}

fn clock(r: &mut Rng, step: u64, interval_ms: u64) -> f64 {
    (step * interval_ms) as f64 / 1000.0 + r.unit() * 0.05
}

/// Writes a fixed-point value with `dec` decimals, trimming trailing zeros like Go's float formatting.
pub fn write_fixed(out: &mut Vec<u8>, v: i64, dec: u8) {
    if dec == 0 {
        write_int(out, v);
        return;
    }
    if v < 0 {
        out.push(b'-');
    }
    let a = v.unsigned_abs();
    let scale = 10u64.pow(u32::from(dec));
    write_int(out, (a / scale) as i64);
    let frac = a % scale;
    if frac == 0 {
        return;
    }
    let digits = format!("{frac:0width$}", width = usize::from(dec));
    out.push(b'.');
    out.extend_from_slice(digits.trim_end_matches('0').as_bytes());
}

/// Writes an integer in decimal.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = v < 0;
    let mut a = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (a % 10) as u8;
        a /= 10;
        if a == 0 {
            break;
        }
    }
    if neg {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a float with the shortest representation that round-trips (full precision).
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Scrape timestamp of `target` at `step`: the interval grid plus a uniform jitter of +-`jitter_ms`.
pub fn jittered_ts_ms(seed: u64, target: u64, step: u64, interval_ms: u64, jitter_ms: u64) -> u64 {
    let grid = step * interval_ms;
    if jitter_ms == 0 {
        return grid;
    }
    let mut r = Rng::new(hash4(seed, target, step, TAG_JITTER));
    (grid as i64 + r.range(-(jitter_ms as i64), jitter_ms as i64)) as u64
}

/// Parses a duration such as `5s`, `250ms`, `1m`, `6h` or `1.5h` into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let mult = match unit {
        "ms" => 1.0,
        "s" | "" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(format!("bad duration unit in {s:?}")),
    };
    Ok((n * mult).round() as u64)
}

/// Minimal `--flag value` / `--flag=value` parser: returns the flags, rejecting unknown ones.
pub fn parse_flags(args: &[String], known: &[&str]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(flag) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a:?}")) };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        if !known.contains(&name.as_str()) {
            return Err(format!("unknown flag --{name}"));
        }
        let value = match value {
            Some(v) => v,
            None if name == "help" || name == "describe" || name == "count" => "true".to_string(),
            None => {
                i += 1;
                args.get(i).cloned().ok_or_else(|| format!("--{name} needs a value"))?
            }
        };
        out.insert(name, value);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_formatting() {
        let mut v = Vec::new();
        for (x, d) in [(123_456, 2), (123_400, 2), (5, 3), (-15, 1), (42, 0), (1_000_000, 6)] {
            write_fixed(&mut v, x, d);
            v.push(b' ');
        }
        assert_eq!(String::from_utf8(v).unwrap(), "1234.56 1234 0.005 -1.5 42 1 ");
    }

    #[test]
    fn page_has_requested_size_and_is_deterministic() {
        let p = Page::build(2000, &[]);
        assert_eq!(p.len(), 2000);
        let mut a = p.init(1, 3, 100, 5000);
        let mut b = a.clone();
        for s in 101..200 {
            p.advance(&mut a, 1, 3, s, 5000);
        }
        // Family by family gives the same result as page by page.
        for f in 0..p.families().len() {
            for s in 101..200 {
                p.advance_family(f, &mut b, 1, 3, s, 5000);
            }
        }
        assert_eq!(a, b);
    }

    #[test]
    fn counters_and_buckets_are_monotonic() {
        let p = Page::build(2000, &[]);
        let mut v = p.init(7, 0, 10, 5000);
        for s in 11..300 {
            let before = v.clone();
            p.advance(&mut v, 7, 0, s, 5000);
            for (i, d) in p.series.iter().enumerate() {
                if matches!(d.model, Model::Counter { .. } | Model::GroupFixed { .. }) {
                    assert!(v[i] >= before[i], "series {} decreased", d.prefix);
                }
            }
        }
        for g in &p.groups {
            if let GroupKind::Histogram { bounds } = g.kind {
                for b in 1..bounds.len() {
                    assert!(v[g.first + b] >= v[g.first + b - 1]);
                }
                assert_eq!(v[g.first + bounds.len() - 1], v[g.first + bounds.len() + 1]);
            }
        }
    }
}
