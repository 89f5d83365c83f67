// Comparing load-test runs: a run's latency quantiles (the median over its seconds of each pushed
// quantile) and throughput (mean requests per second), the relative change against a baseline run,
// and a baseline series moved onto another run's time axis (aligned by time since run start).

import type { MatrixSeries } from './api';

/** The quantiles `vitals load --push` sends, as `vitals_load_latency_seconds{quantile=…}`. */
export const QUANTILES: Array<[key: LatencyKey, quantile: string, label: string]> = [
  ['p50', '0.5', 'p50'],
  ['p90', '0.9', 'p90'],
  ['p95', '0.95', 'p95'],
  ['p99', '0.99', 'p99'],
  ['max', '1', 'max'],
];
export type LatencyKey = 'p50' | 'p90' | 'p95' | 'p99' | 'max';
export type StatKey = LatencyKey | 'rps';

export interface RunStats {
  run: string;
  /** Median over the run's seconds of each latency quantile (seconds), null without samples. */
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  /** Mean requests per second. */
  rps: number | null;
  /** Seconds with latency samples. */
  seconds: number;
}

const finite = (v: string | number): number | null => {
  const x = typeof v === 'number' ? v : parseFloat(v);
  return Number.isFinite(x) ? x : null;
};

/** The median of numbers (the mean of the middle two for an even count), null for none. */
export function median(xs: number[]): number | null {
  const a = xs.filter(Number.isFinite).sort((x, y) => x - y);
  if (a.length === 0) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

export function mean(xs: number[]): number | null {
  const a = xs.filter(Number.isFinite);
  return a.length ? a.reduce((s, x) => s + x, 0) / a.length : null;
}

/** A quantile label value as a number ("0.95" → 0.95, "1" → 1), so "0.90" and "0.9" are the same. */
function q(s: string | undefined): number | null {
  if (s === undefined) return null;
  const x = parseFloat(s);
  return Number.isFinite(x) ? x : null;
}

/**
 * A run's stats from raw samples (instant queries of range selectors over the run):
 * `latency` = `vitals_load_latency_seconds{run=…}[…]` (one series per quantile), `rps` =
 * `vitals_load_requests_per_second{run=…}[…]`, and, used when there are no rps samples,
 * `requests` = `vitals_load_requests_total{run=…}[…]` (the counter's increase over its time span).
 * Series of other runs are left out.
 */
export function runStats(run: string, latency: MatrixSeries[], rps: MatrixSeries[] = [], requests: MatrixSeries[] = []): RunStats {
  const mine = (m: MatrixSeries[]) => (m ?? []).filter((s) => (s.metric?.run ?? run) === run);
  const out: RunStats = { run, p50: null, p90: null, p95: null, p99: null, max: null, rps: null, seconds: 0 };
  const secs = new Set<number>();
  for (const [key, quant] of QUANTILES) {
    const want = q(quant);
    const vals: number[] = [];
    for (const s of mine(latency)) {
      if (q(s.metric?.quantile) !== want) continue;
      for (const [t, v] of s.values ?? []) {
        const x = finite(v);
        if (x === null) continue;
        vals.push(x);
        secs.add(Math.round(Number(t)));
      }
    }
    out[key] = median(vals);
  }
  out.seconds = secs.size;
  const rv = mine(rps).flatMap((s) => (s.values ?? []).map(([, v]) => finite(v)).filter((x): x is number => x !== null));
  out.rps = mean(rv);
  if (out.rps === null) {
    // From the counter: what it grew by over the time between its first and last sample, per series.
    let n = 0;
    let span = 0;
    for (const s of mine(requests)) {
      const v = (s.values ?? []).map(([t, x]) => [Number(t), finite(x)] as const).filter(([, x]) => x !== null) as Array<readonly [number, number]>;
      if (v.length < 2) continue;
      let inc = 0;
      for (let i = 1; i < v.length; i++) inc += v[i][1] >= v[i - 1][1] ? v[i][1] - v[i - 1][1] : v[i][1];
      n += inc;
      span = Math.max(span, v[v.length - 1][0] - v[0][0]);
    }
    if (span > 0) out.rps = n / span;
  }
  return out;
}

export type Verdict = 'worse' | 'better' | 'same';

export interface CompareRow {
  key: StatKey;
  label: string;
  unit: 'seconds' | 'reqps';
  current: number | null;
  baseline: number | null;
  /** (current − baseline) / baseline; null when it cannot be told (a value missing, baseline 0). */
  change: number | null;
  /** Latency up or throughput down by more than the tolerance is worse; the opposite better. */
  verdict: Verdict | null;
}

/**
 * The comparison table of a run against a baseline: p50, p90, p95, p99, max and throughput, each
 * with its relative change; `tolerance` (default 5 %) decides what counts as worse or better.
 */
export function compareRuns(current: RunStats, baseline: RunStats, tolerance = 0.05): CompareRow[] {
  const rows: CompareRow[] = [];
  const keys: Array<[StatKey, string, 'seconds' | 'reqps']> = [
    ...QUANTILES.map(([k, , label]) => [k, label, 'seconds'] as [StatKey, string, 'seconds']),
    ['rps', 'throughput', 'reqps'],
  ];
  for (const [key, label, unit] of keys) {
    const c = current[key];
    const b = baseline[key];
    let change: number | null = null;
    if (c !== null && b !== null) change = b === 0 ? (c === 0 ? 0 : null) : (c - b) / Math.abs(b);
    let verdict: Verdict | null = null;
    if (change !== null) {
      // Positive `bad` means worse: latency rising, throughput falling.
      const bad = key === 'rps' ? -change : change;
      verdict = bad > tolerance ? 'worse' : bad < -tolerance ? 'better' : 'same';
    }
    rows.push({ key, label, unit, current: c, baseline: b, change, verdict });
  }
  return rows;
}

/** A relative change as text: "+12.3%", "−4%", "0%"; "–" for none. */
export function formatChange(change: number | null): string {
  if (change === null || !Number.isFinite(change)) return '–';
  const p = change * 100;
  const digits = Math.abs(p) >= 10 ? 0 : 1;
  const s = Math.abs(p).toFixed(digits).replace(/\.0$/, '');
  if (s === '0') return '0%';
  return `${p > 0 ? '+' : '−'}${s}%`;
}

/**
 * A series moved from one run's time axis onto another's (aligned by time since each run's start):
 * every timestamp gets `toStart − fromStart` added; with `clip`, points outside it are dropped.
 * `labels` replace the series' labels (e.g. to mark it as the baseline).
 */
export function alignToRun(
  s: MatrixSeries,
  fromStart: number,
  toStart: number,
  opts: { clip?: { start: number; end: number }; labels?: Record<string, string> } = {},
): MatrixSeries {
  const d = toStart - fromStart;
  const values = (s.values ?? [])
    .map(([t, v]) => [Math.round((Number(t) + d) * 1000) / 1000, v] as [number, string])
    .filter(([t]) => !opts.clip || (t >= opts.clip.start && t <= opts.clip.end));
  return { metric: opts.labels ?? { ...(s.metric ?? {}) }, values };
}
