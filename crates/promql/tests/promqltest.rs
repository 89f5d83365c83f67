//! Runs Prometheus' PromQL test scripts (`promqltest` format) against our engine.
//!
//! The scripts live outside the repository, in `shared/conformance/promql/` next to the
//! workspace; without them the test prints a note and passes. The format and the comparison
//! rules are those of that folder's README. Every eval is tagged in its `evals.tsv`: untagged
//! ("plain") evals must pass; tagged ones (native histograms, experimental features, newest
//! storage semantics) are skipped, but still run when they need no native-histogram data, and
//! those that pass are counted as "bonus".
//!
//! ```text
//! cargo test --release -p vitals-promql --test promqltest -- --nocapture
//! ```
//!
//! Environment: `PROMQLTEST_FILE=functions` runs one file; `PROMQLTEST_VERBOSE=1` prints every
//! failing plain eval; `PROMQLTEST_REPORT=path.md` writes the skipped evals by tag;
//! upstream's extra instant-eval checks (re-run with `@` added to the selectors at other evaluation
//! times, and as a range query around the eval time) run too unless `PROMQLTEST_EXTRA=0`.
#![allow(clippy::print_stdout)]

#[path = "promqltest/compare.rs"]
mod compare;
#[path = "promqltest/exprs.rs"]
mod exprs;
#[path = "promqltest/script.rs"]
mod script;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Once};
use std::time::{Duration, Instant};

use regex::Regex;
use vitals_model::{Appendable, Labels, MemStorage};
use vitals_promql::{Engine, EngineOptions, InstantSample, QueryError, QueryOptions, QueryResult, Value};

use compare::{check_outcome, compare_value, fmt_expected, fmt_value, Grid};
use script::{Command, Eval, EvalTime, Item, Load};

/// The conformance folder, relative to this crate.
const DATA_DIR: &str = "../../../shared/conformance/promql";

#[test]
fn promqltest() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA_DIR);
    let dir = dir.canonicalize().unwrap_or(dir);
    let testdata = dir.join("testdata");
    if !testdata.is_dir() {
        println!("promqltest skipped: conformance data not found at {}", dir.display());
        return;
    }
    let opts = Options::from_env();
    let tags = Tags::load(&dir.join("evals.tsv"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&testdata)
        .expect("read testdata")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    if let Some(only) = &opts.only {
        files.retain(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name == only.as_str() || name.strip_suffix(".test") == Some(only.as_str())
        });
        assert!(!files.is_empty(), "PROMQLTEST_FILE={only}: no such file in {}", testdata.display());
    }

    install_panic_hook();
    let engine = Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        default_subquery_step: Duration::from_secs(60),
        ..EngineOptions::default()
    });
    let began = Instant::now();
    let mut total = Tally::default();
    let mut records: Vec<EvalRecord> = Vec::new();
    let mut script_errors: Vec<String> = Vec::new();
    println!("promqltest: {} file(s) from {}", files.len(), dir.display());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("read test file");
        let file_began = Instant::now();
        let file_records = match run_file(&name, &text, &tags, &engine, &opts) {
            Ok(r) => r,
            Err(e) => {
                println!("  {name}: SCRIPT ERROR {e}");
                script_errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let tally = Tally::of(&file_records);
        println!(
            "  {name:<26} {:>4} passed, {:>3} failed, {:>4} skipped; bonus: {} of the {} skipped pass ({:.2}s)",
            tally.passed,
            tally.failed,
            tally.skipped,
            tally.bonus,
            tally.skipped,
            file_began.elapsed().as_secs_f64()
        );
        if opts.verbose {
            for r in file_records.iter().filter(|r| r.tag.is_none()) {
                if let Status::Fail(why) = &r.status {
                    println!("    FAIL {}:{}  {}", r.file, r.line, r.expr);
                    println!("         expected: {}", r.expected);
                    println!("         got:      {}", r.got);
                    println!("         why:      {why}");
                }
            }
        }
        total.add(&tally);
        records.extend(file_records);
    }

    let retagged: Vec<String> = records
        .iter()
        .filter(|r| r.retagged)
        .map(|r| format!("{}:{} ({})", r.file, r.line, r.tag.as_deref().unwrap_or("")))
        .collect();
    if !retagged.is_empty() {
        println!("promqltest: {} eval(s) plain in evals.tsv count as skipped: {}", retagged.len(), retagged.join(", "));
    }
    let untagged = records.iter().filter(|r| r.tag.is_none() && !tags.knows(&r.file, r.line)).count();
    if tags.is_empty() {
        println!("promqltest: no evals.tsv: every eval counts as plain");
    } else if untagged > 0 {
        println!("promqltest: {untagged} eval(s) missing from evals.tsv count as plain");
    }
    println!("promqltest: {} passed, {} failed, {} skipped", total.passed, total.failed, total.skipped);
    println!(
        "bonus: {} of the {} skipped pass ({} run, {} not run: they need native histograms) [{:.2}s]",
        total.bonus,
        total.skipped,
        total.skipped_run,
        total.skipped - total.skipped_run,
        began.elapsed().as_secs_f64()
    );
    if let Some(path) = &opts.report {
        std::fs::write(path, markdown_report(&records, &total)).expect("write PROMQLTEST_REPORT");
        println!("promqltest: report written to {}", path.display());
    }

    assert!(script_errors.is_empty(), "scripts the runner could not parse:\n{}", script_errors.join("\n"));
    let failures: Vec<String> = records
        .iter()
        .filter(|r| r.tag.is_none())
        .filter_map(|r| match &r.status {
            Status::Fail(why) => Some(format!("{}:{} {}\n    {why}", r.file, r.line, r.expr)),
            _ => None,
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} plain evals failed (PROMQLTEST_VERBOSE=1 lists them all); the first ones:\n{}",
        failures.len(),
        total.passed + total.failed,
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Settings read from the environment.
struct Options {
    verbose: bool,
    only: Option<String>,
    report: Option<PathBuf>,
    extra: bool,
}

impl Options {
    fn from_env() -> Self {
        let set = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty() && v != "0");
        Options {
            verbose: set("PROMQLTEST_VERBOSE").is_some(),
            only: set("PROMQLTEST_FILE"),
            report: set("PROMQLTEST_REPORT").map(PathBuf::from),
            extra: std::env::var("PROMQLTEST_EXTRA").map(|v| v != "0").unwrap_or(true),
        }
    }
}

/// Tags of every eval from `evals.tsv`, by (file, header line); `-` means plain.
struct Tags(HashMap<(String, usize), String>);

impl Tags {
    fn load(path: &Path) -> Self {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Tags(HashMap::new());
        };
        Tags(Tags::parse(&text))
    }

    fn parse(text: &str) -> HashMap<(String, usize), String> {
        let mut map = HashMap::new();
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split('\t').collect();
            if cols.len() < 4 {
                continue;
            }
            if let Ok(line) = cols[1].parse::<usize>() {
                map.insert((cols[0].to_string(), line), cols[3].trim().to_string());
            }
        }
        map
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn knows(&self, file: &str, line: usize) -> bool {
        self.0.contains_key(&(file.to_string(), line))
    }

    /// The eval's tags, or `None` when it is plain (or not listed).
    fn of(&self, file: &str, line: usize) -> Option<String> {
        self.0.get(&(file.to_string(), line)).filter(|t| t.as_str() != "-").cloned()
    }
}

/// The family a tag belongs to: NH, EXP or NEW.
fn family(tag: &str) -> &'static str {
    match tag {
        "native_histogram" => "NH",
        "start_timestamps" | "type_unit_labels" => "NEW",
        _ => "EXP",
    }
}

#[derive(Debug)]
enum Status {
    Pass,
    Fail(String),
    /// Not run: it needs native-histogram data or expects histogram output.
    NotRun,
}

/// One eval's outcome.
#[derive(Debug)]
struct EvalRecord {
    file: String,
    line: usize,
    expr: String,
    /// `None` for plain evals.
    tag: Option<String>,
    /// Plain in `evals.tsv`, tagged by the runner.
    retagged: bool,
    status: Status,
    expected: String,
    got: String,
}

#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
    skipped_run: usize,
    bonus: usize,
}

impl Tally {
    fn of(records: &[EvalRecord]) -> Self {
        let mut t = Tally::default();
        for r in records {
            match (&r.tag, &r.status) {
                (None, Status::Pass) => t.passed += 1,
                (None, _) => t.failed += 1,
                (Some(_), s) => {
                    t.skipped += 1;
                    t.skipped_run += usize::from(!matches!(s, Status::NotRun));
                    t.bonus += usize::from(matches!(s, Status::Pass));
                }
            }
        }
        t
    }

    fn add(&mut self, o: &Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.skipped_run += o.skipped_run;
        self.bonus += o.bonus;
    }
}

/// Runs one script against a fresh storage.
fn run_file(name: &str, text: &str, tags: &Tags, engine: &Engine, opts: &Options) -> Result<Vec<EvalRecord>, String> {
    let script = script::parse_script(text)?;
    let storage = MemStorage::new();
    // Series holding native histograms since the last `clear` (their histogram samples are not
    // stored, so evals reading them can't be judged).
    let mut histogram_series: Vec<Labels> = Vec::new();
    let mut records = Vec::new();
    for cmd in &script.commands {
        match cmd {
            Command::Clear => {
                storage.clear();
                histogram_series.clear();
            }
            Command::Load(load) => load_into(&storage, load, &mut histogram_series)?,
            Command::Eval(ev) => {
                let needs_histograms = ev.expects_histograms() || exprs::may_select_any(&ev.expr, &histogram_series);
                // `evals.tsv` tags are a conservative guide; a few plain evals are really
                // experimental or read native histograms, which the runner can tell.
                let (tag, retagged) = match tags.of(name, ev.line) {
                    Some(t) => (Some(t), false),
                    None if exprs::uses_extended_range_modifier(&ev.expr) => (Some("anchored_smoothed".into()), true),
                    None if needs_histograms => (Some("native_histogram".into()), true),
                    None => (None, false),
                };
                let (status, got) = if needs_histograms && tag.is_some() {
                    (Status::NotRun, String::new())
                } else {
                    run_eval(engine, &storage, ev, opts)
                };
                records.push(EvalRecord {
                    file: name.to_string(),
                    line: ev.line,
                    expr: ev.expr.clone(),
                    tag,
                    retagged,
                    status,
                    expected: fmt_expected(ev),
                    got,
                });
            }
        }
    }
    Ok(records)
}

/// Appends a load block's float samples; records series that hold native histograms (including
/// the custom-bucket histograms `load_with_nhcb` derives from classic ones).
fn load_into(storage: &MemStorage, load: &Load, histogram_series: &mut Vec<Labels>) -> Result<(), String> {
    let mut app = storage.appender();
    for s in &load.series {
        if s.has_histograms() && !histogram_series.contains(&s.labels) {
            histogram_series.push(s.labels.clone());
        }
        for (i, item) in s.values.iter().enumerate() {
            if let Item::Float(v) = item {
                app.append(&s.labels, i as i64 * load.step, *v).map_err(|e| e.to_string())?;
            }
        }
        if load.with_nhcb {
            if let Some(base) = nhcb_series(&s.labels) {
                if !histogram_series.contains(&base) {
                    histogram_series.push(base);
                }
            }
        }
    }
    app.commit().map_err(|e| e.to_string())
}

/// The series `load_with_nhcb` builds from a classic-histogram series: `X` from `X_bucket{le}`,
/// `X_sum` and `X_count`, without `le`.
fn nhcb_series(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = if let Some(base) = name.strip_suffix("_bucket") {
        let le = labels.get("le")?;
        let le = le.parse::<f64>().ok().or_else(|| (le.eq_ignore_ascii_case("+inf")).then_some(f64::INFINITY))?;
        if le.is_nan() {
            return None;
        }
        base
    } else {
        name.strip_suffix("_sum").or_else(|| name.strip_suffix("_count"))?
    };
    let mut b = labels.builder();
    b.del("le");
    b.set("__name__", base);
    Some(b.build())
}

/// Runs one eval (and, with `PROMQLTEST_EXTRA`, upstream's extra instant checks); returns the
/// status and a compact rendering of what the first query returned.
fn run_eval(engine: &Engine, storage: &MemStorage, ev: &Eval, opts: &Options) -> (Status, String) {
    let qopts = QueryOptions::default();
    let (first, grid) = match ev.time {
        EvalTime::Range { start, end, step } => (
            guarded(|| engine.range_query(storage, &ev.expr, start, end, step, &qopts)),
            Grid { start, end: Some(end), step },
        ),
        EvalTime::Instant(t) => {
            let (t, grid) = match ev.range_vector {
                Some((start, end, step)) => (end, Grid { start, end: Some(end), step }),
                None => (t, Grid { start: t, end: None, step: 0 }),
            };
            (guarded(|| engine.instant_query(storage, &ev.expr, t, &qopts)), grid)
        }
    };
    let got = match &first {
        Err(panic) => format!("panic: {panic}"),
        Ok(Err(e)) => format!("error: {e}"),
        Ok(Ok(r)) => fmt_value(&r.value),
    };
    let outcome = match first {
        Err(panic) => return (Status::Fail(format!("the engine panicked: {panic}")), got),
        Ok(o) => o,
    };
    if let Err(why) = check_outcome(ev, &outcome, grid) {
        return (Status::Fail(why), got);
    }
    if opts.extra {
        if let EvalTime::Instant(t) = ev.time {
            if let Err(why) = extra_instant_checks(engine, storage, ev, t, outcome.as_ref().ok(), grid) {
                return (Status::Fail(why), got);
            }
        }
    }
    (Status::Pass, got)
}

/// Matches the query-context functions that make range mode differ.
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").unwrap());

/// Upstream's extra checks of an instant eval that passed: (a) the same expression with `@ t`
/// on every selector, at other evaluation times; (b) the expression as a range query from
/// t−1m to t+1m, whose middle step must match.
fn extra_instant_checks(
    engine: &Engine,
    storage: &MemStorage,
    ev: &Eval,
    t: i64,
    first: Option<&QueryResult>,
    grid: Grid,
) -> Result<(), String> {
    let qopts = QueryOptions::default();
    let mut queries = vec![(ev.expr.clone(), t)];
    if let Some(rewritten) = exprs::with_at_modifier(&ev.expr, t) {
        let times = if t == 0 { vec![-1000, 0, 1000] } else { vec![-10 * t, 0, t / 5, t, 10 * t] };
        queries.extend(times.into_iter().map(|at| (rewritten.clone(), at)));
    }
    for (i, (expr, at)) in queries.iter().enumerate() {
        let instant: QueryResult = if i == 0 {
            match first {
                Some(r) => r.clone(),
                None => continue, // The eval expected (and got) a failure.
            }
        } else {
            let o = guarded(|| engine.instant_query(storage, expr, *at, &qopts)).map_err(|p| format!("panic: {p}"))?;
            check_outcome(ev, &o, grid).map_err(|e| format!("{e} (extra check: {expr} at {at}ms)"))?;
            match o {
                Ok(r) => r,
                Err(_) => continue,
            }
        };
        if ev.excluded_from_range_mode() || QUERY_CONTEXT_FUNCS.is_match(expr) {
            continue;
        }
        let ranged = guarded(|| engine.range_query(storage, expr, at - 60_000, at + 60_000, 60_000, &qopts))
            .map_err(|p| format!("panic: {p}"))?
            .map_err(|e| format!("error in range mode (extra check: {expr} at {at}ms): {e}"))?;
        if ev.ordered {
            continue;
        }
        let Value::Matrix(m) = &ranged.value else {
            return Err(format!("range mode returned a {} (extra check: {expr})", ranged.value.type_name()));
        };
        if m.windows(2).any(|w| w[0].labels > w[1].labels) {
            return Err(format!("range mode result not sorted by labels (extra check: {expr} at {at}ms)"));
        }
        let vector: Vec<InstantSample> = m
            .iter()
            .filter_map(|s| {
                s.floats.iter().find(|p| p.t == *at).map(|p| InstantSample { labels: s.labels.clone(), t: p.t, v: p.v })
            })
            .collect();
        let value = match instant.value {
            Value::Scalar { .. } => match vector.first() {
                Some(s) => Value::Scalar { t: *at, v: s.v },
                None => return Err(format!("range mode returned no point for a scalar (extra check: {expr})")),
            },
            _ => Value::Vector(vector),
        };
        compare_value(ev, &value, grid).map_err(|e| format!("{e} (range mode, extra check: {expr} at {at}ms)"))?;
    }
    Ok(())
}

thread_local! {
    /// Set while an engine call runs on this thread, so the panic hook captures instead of printing.
    static IN_QUERY: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Routes panics raised inside [`guarded`] to `LAST_PANIC`; all others to the usual hook (other
/// tests in this binary run on other threads at the same time).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_QUERY.with(Cell::get) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string payload)".into());
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs an engine call, turning a panic into `Err(message)`.
fn guarded(f: impl FnOnce() -> Result<QueryResult, QueryError>) -> Result<Result<QueryResult, QueryError>, String> {
    IN_QUERY.with(|q| q.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    IN_QUERY.with(|q| q.set(false));
    r.map_err(|_| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown panic".into()))
}

/// The Markdown report: skipped evals grouped by tag, with what happened to each.
fn markdown_report(records: &[EvalRecord], total: &Tally) -> String {
    let mut by_tag: BTreeMap<&str, Vec<&EvalRecord>> = BTreeMap::new();
    for r in records {
        if let Some(tags) = &r.tag {
            for t in tags.split(',') {
                by_tag.entry(t.trim()).or_default().push(r);
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "# promqltest: skipped evals by reason\n");
    let _ = writeln!(
        out,
        "Plain evals: {} passed, {} failed. Skipped (tagged) evals: {}; {} of them run, {} pass (bonus); \
         the others need native-histogram data. An eval with several tags is listed under each.\n",
        total.passed, total.failed, total.skipped, total.skipped_run, total.bonus
    );
    let _ = writeln!(out, "| reason (tag) | family | evals | run | pass |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (tag, rs) in &by_tag {
        let run = rs.iter().filter(|r| !matches!(r.status, Status::NotRun)).count();
        let pass = rs.iter().filter(|r| matches!(r.status, Status::Pass)).count();
        let _ = writeln!(out, "| {tag} | {} | {} | {run} | {pass} |", family(tag), rs.len());
    }
    for (tag, rs) in &by_tag {
        let _ = writeln!(out, "\n## {tag} ({}, {} evals)\n", family(tag), rs.len());
        for r in rs {
            let status = match &r.status {
                Status::Pass => "pass".to_string(),
                Status::NotRun => "not run (native histograms)".to_string(),
                Status::Fail(why) => format!("fail: {}", truncate(why, 160)),
            };
            let note = if r.retagged { " (plain in evals.tsv; tagged by the runner)" } else { "" };
            let _ = writeln!(out, "- `{}:{}` {} — {}{note}", r.file, r.line, code(&r.expr), md_escape(&status));
        }
    }
    out
}

/// `text` as Markdown inline code, whatever back-ticks it contains.
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::compare::{almost_equal, strip_position};
    use super::script::{parse_descriptor, parse_go_number, parse_script, parse_values, TextMatch};
    use super::*;
    use vitals_model::{is_stale_nan, Queryable, STALE_NAN};
    use vitals_promql::{FPoint, QueryStats, RangeSeries};

    fn floats(items: &[Item]) -> Vec<Option<f64>> {
        items
            .iter()
            .map(|i| match i {
                Item::Float(v) => Some(*v),
                Item::Omitted => None,
                Item::Histogram => panic!("histogram"),
            })
            .collect()
    }

    fn eval_of(script: &str) -> Box<Eval> {
        let s = parse_script(script).unwrap();
        s.commands
            .into_iter()
            .find_map(|c| match c {
                Command::Eval(e) => Some(e),
                _ => None,
            })
            .expect("an eval")
    }

    fn result(value: Value) -> Result<QueryResult, QueryError> {
        Ok(QueryResult { value, warnings: vec![], infos: vec![], stats: QueryStats::default() })
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn expands_the_value_notation() {
        assert_eq!(floats(&parse_values("0+10x5").unwrap()), [0., 10., 20., 30., 40., 50.].map(Some));
        assert_eq!(floats(&parse_values("1x3").unwrap()), [Some(1.); 4]);
        assert_eq!(floats(&parse_values("10-2.5x2").unwrap()), [10., 7.5, 5.].map(Some));
        assert_eq!(floats(&parse_values("-1-1x2 -Inf").unwrap()), [-1., -2., -3., f64::NEG_INFINITY].map(Some));
        assert_eq!(floats(&parse_values("1e3 .5 9.9E+2 -2.5e-1").unwrap()), [1000., 0.5, 990., -0.25].map(Some));
        // No hexadecimal in series values: `0x5` is "0, five more times".
        assert_eq!(floats(&parse_values("0x5").unwrap()), [Some(0.); 6]);
        assert_eq!(floats(&parse_values("52+0x2").unwrap()), [Some(52.); 3]);

        let v = parse_values("1 _x3 stale _ 2").unwrap();
        assert_eq!(v.len(), 7);
        assert_eq!(v[0], Item::Float(1.));
        assert!(v[1..4].iter().all(|i| *i == Item::Omitted));
        assert!(matches!(v[4], Item::Float(x) if is_stale_nan(x)));
        assert_eq!(v[5], Item::Omitted);
        let v = parse_values("NaN nan Inf +Inf inf").unwrap();
        assert!(matches!(v[0], Item::Float(x) if x.is_nan() && !is_stale_nan(x)));
        assert!(matches!(v[1], Item::Float(x) if x.is_nan()));
        assert_eq!(&v[2..], &[Item::Float(f64::INFINITY); 3]);
        assert!(parse_values("_x0").unwrap().is_empty());

        // Repeated addition, as upstream (not a + i*b).
        let v = floats(&parse_values("0+0.1x3").unwrap());
        assert_eq!(v[3], Some(0.1 + 0.1 + 0.1));

        for bad in ["1+", "1x", "abc", "1+2", "1y3", "{{schema:0"] {
            assert!(parse_values(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn histogram_literals_are_counted_not_decoded() {
        let v = parse_values("{{schema:0 sum:1 count:1 buckets:[1 2 3]}} 5 {{count:1}}x2 _").unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0], Item::Histogram);
        assert_eq!(v[1], Item::Float(5.));
        assert_eq!(&v[2..5], &[Item::Histogram; 3]);
        let v = parse_values("{{schema:0 sum:5 count:4 buckets:[9 2 1]}}+{{schema:0 sum:1 count:1 buckets:[1]}}x3")
            .unwrap();
        assert_eq!(v, [Item::Histogram; 4]);
        assert!(parse_values("{{nonsense:1}}").is_err());
    }

    #[test]
    fn parses_series_descriptors() {
        let (labels, rest) = parse_descriptor(r#"http_requests{job="api", instance='0', path=`/a b`} 1 2"#).unwrap();
        assert_eq!(labels, l(&[("__name__", "http_requests"), ("job", "api"), ("instance", "0"), ("path", "/a b")]));
        assert_eq!(rest.trim(), "1 2");
        let (labels, _) = parse_descriptor(r#"{__name__="m", a="x",} 1"#).unwrap();
        assert_eq!(labels, l(&[("__name__", "m"), ("a", "x")]));
        let (labels, _) = parse_descriptor(r#"{"my.metric", "service.name"="cart"} 1"#).unwrap();
        assert_eq!(labels, l(&[("__name__", "my.metric"), ("service.name", "cart")]));
        let (labels, _) = parse_descriptor(r#"{a="\xc5\x82\n\u00e9\101"} 1"#).unwrap();
        assert_eq!(labels.get("a"), Some("ł\néA"));
        let (labels, _) = parse_descriptor("{} 3").unwrap();
        assert!(labels.is_empty());
        let (labels, _) = parse_descriptor("name{} 3").unwrap();
        assert_eq!(labels, l(&[("__name__", "name")]));
        for bad in [r#"m{a=~"x"} 1"#, r#"m{a="x" 1"#, "3", r#"m{a="x}"#] {
            assert!(parse_descriptor(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn bare_numbers_follow_go() {
        assert_eq!(parse_go_number("3"), Some(3.));
        assert_eq!(parse_go_number("0x10"), Some(16.));
        assert_eq!(parse_go_number("-0.2e-6"), Some(-0.2e-6));
        assert_eq!(parse_go_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_number("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_go_number("NaN").unwrap().is_nan());
        assert_eq!(parse_go_number("2."), Some(2.));
        for not in ["{} 3", "x 1", "1 2", "expect fail", ""] {
            assert_eq!(parse_go_number(not), None, "{not}");
        }
    }

    #[test]
    fn parses_a_script() {
        let text = "
# comment
load 5m
  m{a=\"1\"} 0+1x2
  m{a=\"1\"} 7 8
  {__name__=\"n\"} 1 _ 3
    # a comment ends the block

clear
load_with_nhcb 1m
  h_bucket{le=\"1\"} 1 2
  h_bucket{le=\"+Inf\"} 2 4
  h_count 2 4
  h_sum 3 6

eval instant at 10m m
  expect no_warn
  m{a=\"1\"} 8

eval range from 0 to 10m step 5m m
  expect warn msg: PromQL warning: something (1:1)
  expect warn regex: other .* \\(1:3\\)
  m{a=\"1\"} 7 8 _
  m{a=\"1\"} 7 8 9

eval_fail instant at 0 -{job=\"api\"}

eval instant at 1m some[1m]
  expect range vector from 10s to 1m step 10s
  some{env=\"a\"} 2 3 4 5 6

eval instant at 50m \"Foo\"
  expect string `Foo`

eval instant at 0 1 + 1
  2
";
        let s = parse_script(text).unwrap();
        assert_eq!(s.commands.len(), 9);
        let Command::Load(load) = &s.commands[0] else { panic!() };
        assert_eq!(load.step, 300_000);
        assert_eq!(load.series.len(), 2, "the later line for a label set replaces the earlier");
        assert_eq!(floats(&load.series[0].values), [Some(7.), Some(8.)]);
        assert!(matches!(s.commands[1], Command::Clear));
        let Command::Load(nhcb) = &s.commands[2] else { panic!() };
        assert!(nhcb.with_nhcb);
        assert_eq!(nhcb.series.len(), 4);

        let Command::Eval(e) = &s.commands[3] else { panic!() };
        assert_eq!((e.line, e.expr.as_str(), e.time), (16, "m", EvalTime::Instant(600_000)));
        assert!(e.no_warn && e.series.len() == 1 && e.series[0].pos == 1);
        let Command::Eval(e) = &s.commands[4] else { panic!() };
        assert_eq!(e.time, EvalTime::Range { start: 0, end: 600_000, step: 300_000 });
        assert_eq!(e.warn.len(), 2);
        assert_eq!(e.series.len(), 1);
        assert_eq!(floats(&e.series[0].values), [Some(7.), Some(8.), Some(9.)]);
        let Command::Eval(e) = &s.commands[5] else { panic!() };
        assert!(e.fail && e.fail_matches.is_empty());
        let Command::Eval(e) = &s.commands[6] else { panic!() };
        assert_eq!(e.range_vector, Some((10_000, 60_000, 10_000)));
        let Command::Eval(e) = &s.commands[7] else { panic!() };
        assert_eq!(e.expected_string.as_deref(), Some("Foo"));
        let Command::Eval(e) = &s.commands[8] else { panic!() };
        assert_eq!(e.scalar, Some(Item::Float(2.)));
    }

    #[test]
    fn script_errors_are_reported_with_their_line() {
        let err = parse_script("load 5m\n  m 1\n\nfrobnicate\n").unwrap_err();
        assert!(err.contains("line 4"), "{err}");
        let err = parse_script("eval instant at 0 m\n  m 1 2\n").unwrap_err();
        assert!(err.contains("multiple values"), "{err}");
        let err = parse_script("eval instant at 0 m\n  expect warn\n  expect no_warn\n").unwrap_err();
        assert!(err.contains("no_warn"), "{err}");
        assert!(parse_script("load 5m\n  m{a=\"1\"}@st 1s 2s\n  m{a=\"1\"} 1\n").is_err(), "@st count mismatch");
        assert!(parse_script("load 1m\n  m{a=\"1\"}@st _ -1m-1mx2 -59999msx1\n  m{a=\"1\"} 1 2 3 4 5 6\n").is_ok());
    }

    #[test]
    fn tolerance_rules() {
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0 + 1e-5));
        assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7)));
        assert!(almost_equal(f64::NAN, -f64::NAN));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!almost_equal(0.0, 1e-300), "a zero side needs an effectively exact match");
        assert!(almost_equal(0.0, -0.0));
        assert!(almost_equal(STALE_NAN, STALE_NAN));
        assert!(!almost_equal(STALE_NAN, f64::NAN) && !almost_equal(f64::NAN, STALE_NAN));
    }

    #[test]
    fn messages_match_without_positions() {
        assert_eq!(strip_position("PromQL info: x (1:15)"), "PromQL info: x");
        let msg = TextMatch::Msg("PromQL warning: y (1:1)".into());
        assert!(msg.matches("PromQL warning: y (1:1)"));
        assert!(msg.matches("PromQL warning: y"));
        assert!(!msg.matches("PromQL warning: yy"));
        assert!(TextMatch::Msg("bad thing".into()).matches("1:1: bad thing"));
        let re = TextMatch::Regex(Regex::new(r"got NaN \([0-9]+:[0-9]+\)").unwrap());
        assert!(re.matches("quantile value should be between 0 and 1, got NaN (1:10)"));
        assert!(re.matches("quantile value should be between 0 and 1, got NaN"));
        assert!(!re.matches("got 2"));
        assert!(TextMatch::Any.matches("anything at all"));
    }

    #[test]
    fn compares_vectors_matrices_and_scalars() {
        let ev = eval_of("eval instant at 0 m\n  m{a=\"1\"} 1\n  m{a=\"2\"} 2\n");
        let v = |pairs: &[(&str, f64)]| {
            Value::Vector(
                pairs
                    .iter()
                    .map(|(a, v)| InstantSample { labels: l(&[("__name__", "m"), ("a", a)]), t: 0, v: *v })
                    .collect(),
            )
        };
        let grid = Grid { start: 0, end: None, step: 0 };
        assert!(check_outcome(&ev, &result(v(&[("2", 2.), ("1", 1.0000000001)])), grid).is_ok(), "order is free");
        assert!(check_outcome(&ev, &result(v(&[("1", 1.)])), grid).is_err(), "missing series");
        assert!(check_outcome(&ev, &result(v(&[("1", 1.), ("2", 2.), ("3", 3.)])), grid).is_err(), "extra series");
        assert!(check_outcome(&ev, &result(v(&[("1", 1.), ("2", 2.1)])), grid).is_err(), "wrong value");
        assert!(check_outcome(&ev, &result(Value::Scalar { t: 0, v: 1. }), grid).is_err());
        assert!(check_outcome(&ev, &Err(QueryError::Execution("not yet".into())), grid).is_err());

        let ordered = eval_of("eval instant at 0 m\n  expect ordered\n  m{a=\"2\"} 2\n  m{a=\"1\"} 1\n");
        assert!(check_outcome(&ordered, &result(v(&[("2", 2.), ("1", 1.)])), grid).is_ok());
        assert!(check_outcome(&ordered, &result(v(&[("1", 1.), ("2", 2.)])), grid).is_err());

        let empty = eval_of("eval instant at 0 m\n");
        assert!(check_outcome(&empty, &result(Value::Vector(vec![])), grid).is_ok());
        assert!(check_outcome(&empty, &result(Value::Matrix(vec![])), grid).is_ok());
        assert!(check_outcome(&empty, &result(Value::Scalar { t: 0, v: 1. }), grid).is_err());

        let scalar = eval_of("eval instant at 0 1\n  1\n");
        assert!(check_outcome(&scalar, &result(Value::Scalar { t: 0, v: 1. }), grid).is_ok());
        assert!(check_outcome(&scalar, &result(v(&[("1", 1.)])), grid).is_err());

        let string = eval_of("eval instant at 0 \"a\"\n  expect string \"a\"\n");
        assert!(check_outcome(&string, &result(Value::String { t: 0, v: "a".into() }), grid).is_ok());
        assert!(check_outcome(&string, &result(Value::String { t: 0, v: "b".into() }), grid).is_err());

        let range = eval_of("eval range from 0 to 20s step 10s m\n  m{a=\"1\"} 1 _ 3\n");
        let grid = Grid { start: 0, end: Some(20_000), step: 10_000 };
        let series = |pts: &[(i64, f64)]| {
            Value::Matrix(vec![RangeSeries {
                labels: l(&[("__name__", "m"), ("a", "1")]),
                floats: pts.iter().map(|&(t, v)| FPoint { t, v }).collect(),
            }])
        };
        assert!(check_outcome(&range, &result(series(&[(0, 1.), (20_000, 3.)])), grid).is_ok());
        assert!(check_outcome(&range, &result(series(&[(0, 1.), (10_000, 3.)])), grid).is_err(), "timestamps");
        assert!(check_outcome(&range, &result(series(&[(0, 1.)])), grid).is_err(), "point count");
        let unsorted = Value::Matrix(vec![
            RangeSeries { labels: l(&[("a", "2")]), floats: vec![] },
            RangeSeries { labels: l(&[("a", "1")]), floats: vec![] },
        ]);
        assert!(compare_value(&empty, &unsorted, grid).unwrap_err().contains("sorted"));
    }

    #[test]
    fn checks_failures_and_annotations() {
        let grid = Grid { start: 0, end: None, step: 0 };
        let fail =
            eval_of("eval instant at 0 m\n  expect fail msg: vector cannot contain metrics with the same labelset\n");
        let err = |m: &str| Err(QueryError::Execution(m.into()));
        assert!(check_outcome(&fail, &err("vector cannot contain metrics with the same labelset"), grid).is_ok());
        assert!(check_outcome(&fail, &err("something else"), grid).is_err());
        assert!(check_outcome(&fail, &result(Value::Vector(vec![])), grid).is_err(), "must fail");
        let fail_re = eval_of("eval instant at 0 m\n  expect fail regex: conflicting label\n");
        assert!(check_outcome(&fail_re, &err("found conflicting label x"), grid).is_ok());

        let warn = eval_of("eval instant at 0 m\n  expect warn msg: PromQL warning: w (1:1)\n  expect no_info\n");
        let with = |warnings: &[&str], infos: &[&str]| {
            Ok(QueryResult {
                value: Value::Vector(vec![]),
                warnings: warnings.iter().map(|s| s.to_string()).collect(),
                infos: infos.iter().map(|s| s.to_string()).collect(),
                stats: QueryStats::default(),
            })
        };
        assert!(check_outcome(&warn, &with(&["PromQL warning: w"], &[]), grid).is_ok());
        assert!(check_outcome(&warn, &with(&[], &[]), grid).is_err(), "warning missing");
        assert!(check_outcome(&warn, &with(&["PromQL warning: w", "PromQL warning: v"], &[]), grid).is_err());
        assert!(check_outcome(&warn, &with(&["PromQL warning: w"], &["PromQL info: i"]), grid).is_err());
        let plain = eval_of("eval instant at 0 m\n");
        assert!(check_outcome(&plain, &with(&["PromQL warning: w"], &["PromQL info: i"]), grid).is_ok());
        let legacy = eval_of("eval_warn instant at 0 m\n");
        assert!(check_outcome(&legacy, &with(&[], &[]), grid).is_err());
    }

    #[test]
    fn loads_floats_and_notes_histogram_series() {
        let s = parse_script(
            "load 1m\n  a 1 {{count:1}} 3\n  b 1 _ stale\n\nload_with_nhcb 1m\n  h_bucket{le=\"1\", x=\"y\"} 1\n  h_sum{x=\"y\"} 1\n",
        )
        .unwrap();
        let storage = MemStorage::new();
        let mut hist = Vec::new();
        for c in &s.commands {
            let Command::Load(load) = c else { panic!() };
            load_into(&storage, load, &mut hist).unwrap();
        }
        assert_eq!(storage.num_samples(), 6, "a: 2 floats, b: 2, h_bucket and h_sum: 1 each");
        assert_eq!(hist, vec![l(&[("__name__", "a")]), l(&[("__name__", "h"), ("x", "y")])]);
        let q = storage.querier(0, 120_000).unwrap();
        let b = q.select(&[vitals_model::Matcher::equal("__name__", "b")], None).unwrap();
        let mut it = b[0].iter();
        assert_eq!(it.next().unwrap().t, 0);
        assert!(is_stale_nan(it.next().unwrap().v));

        assert!(exprs::may_select_any("rate(a[5m])", &hist));
        assert!(exprs::may_select_any("sum(h) + 1", &hist));
        assert!(exprs::may_select_any(r#"{__name__=~"h.*"}"#, &hist));
        assert!(!exprs::may_select_any("rate(b[5m]) + h_sum", &hist));
        assert!(!exprs::may_select_any(r#"h{x="z"}"#, &hist));
        assert!(exprs::may_select_any("this is not promql (", &hist), "unparsable counts as touching");
        assert!(!exprs::may_select_any("anything", &[]));
    }

    #[test]
    fn spots_extended_range_modifiers() {
        assert!(exprs::uses_extended_range_modifier("metric smoothed"));
        assert!(exprs::uses_extended_range_modifier("rate(m[5m] anchored)"));
        assert!(!exprs::uses_extended_range_modifier("smoothed_total + anchored_x"));
        assert!(!exprs::uses_extended_range_modifier(r#"label_replace(m, "a", "smoothed", "b", "(.*)")"#));
    }

    #[test]
    fn at_modifier_rewrite() {
        let r = exprs::with_at_modifier("sum(rate(m[5m])) + m offset 1m", 60_000).unwrap();
        assert!(
            r.contains("m[5m] @ 60.000") && r.contains("m offset 1m @ 60.000") || r.contains("m @ 60.000 offset 1m"),
            "{r}"
        );
        let r = exprs::with_at_modifier("max_over_time(m[5m:1m]) + x @ 10", 60_000).unwrap();
        assert!(r.contains("@ 10.000") && r.contains("[5m:1m] @ 60.000") && !r.contains("m @ 60"), "{r}");
        assert!(exprs::with_at_modifier("time() + m", 60_000).is_none());
        assert!(exprs::with_at_modifier("timestamp(m)", 60_000).is_none());
        assert!(exprs::with_at_modifier(r#"label_replace(m, "\xff", "", "a", "")"#, 60_000).is_none());
    }

    #[test]
    fn reads_tags() {
        let t = Tags::parse(
            "file\tline\tkind\ttags\texpr\na.test\t3\tinstant\t-\tm\na.test\t7\trange\tnative_histogram,limitk\tx\n",
        );
        let tags = Tags(t);
        assert_eq!(tags.of("a.test", 3), None);
        assert_eq!(tags.of("a.test", 7).as_deref(), Some("native_histogram,limitk"));
        assert!(tags.knows("a.test", 3) && !tags.knows("a.test", 4));
        assert_eq!(family("native_histogram"), "NH");
        assert_eq!(family("type_unit_labels"), "NEW");
        assert_eq!(family("fill_modifier"), "EXP");
        let b = nhcb_series(&l(&[("__name__", "x_bucket"), ("le", "+Inf"), ("j", "1")])).unwrap();
        assert_eq!(b, l(&[("__name__", "x"), ("j", "1")]));
        assert!(nhcb_series(&l(&[("__name__", "x_total")])).is_none());
    }
}
