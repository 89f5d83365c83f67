// Pure shaping of API answers for the pages: defensive readers for probes and SLOs, target
// grouping, alert/silence merging, silence forms, load-test runs.

import type { AmAlert, Labels, Matcher, MatrixSeries, PromAlert, Silence, SilenceBody, Target } from './api';
import { parseDuration } from './time';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const x = Number(v);
    return Number.isFinite(x) ? x : null;
  }
  return null;
};
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** The list inside `data`: `data` itself when it is one, else the first array among `keys`. */
export function listOf(data: unknown, keys: string[]): unknown[] {
  if (Array.isArray(data)) return data;
  if (isObj(data)) {
    for (const k of keys) if (Array.isArray(data[k])) return data[k] as unknown[];
    for (const v of Object.values(data)) if (Array.isArray(v)) return v;
  }
  return [];
}

/** A map of window → number (`{"1h": 0.99}`), or a single number under the key ''. */
function numMap(v: unknown): Record<string, number | null> {
  if (isObj(v)) {
    const out: Record<string, number | null> = {};
    for (const [k, x] of Object.entries(v)) out[k] = num(x);
    return out;
  }
  const x = num(v);
  return x === null ? {} : { '': x };
}

// --- SLOs -----------------------------------------------------------------------------------

export interface Slo {
  name: string;
  /** As a ratio (0.999). */
  objective: number | null;
  window: string;
  errorBudget: number | null;
  /** Share of the budget left (1 = untouched, < 0 = overspent), or null when unknown. */
  budgetRemaining: number | null;
  errorRatio: Record<string, number | null>;
  burnRate: Record<string, number | null>;
  labels: Labels;
  /** Recording-rule series names, when the API gives them. */
  recordingRules: string[];
  raw: Obj;
}

export function normalizeSlos(data: unknown): Slo[] {
  return listOf(data, ['slos', 'items']).filter(isObj).map((o) => {
    let objective = num(o.objective ?? o.target ?? o.goal);
    if (objective !== null && objective > 1) objective /= 100;
    let budget = num(o.errorBudget);
    if (budget === null && objective !== null) budget = 1 - objective;
    const remaining = num(o.errorBudgetRemaining ?? o.budgetRemaining ?? o.remaining);
    const rr = o.recordingRules ?? o.recordingRuleNames ?? o.rules;
    const recordingRules = Array.isArray(rr)
      ? rr.map((r) => (typeof r === 'string' ? r : isObj(r) ? str(r.record ?? r.name) : '')).filter(Boolean)
      : [];
    return {
      name: str(o.name) || '(unnamed)',
      objective,
      window: str(o.window),
      errorBudget: budget,
      budgetRemaining: remaining,
      errorRatio: numMap(o.errorRatio),
      burnRate: numMap(o.burnRate),
      labels: (isObj(o.labels) ? o.labels : {}) as Labels,
      recordingRules,
      raw: o,
    };
  });
}

/** The burn-rate query for an SLO: from its recording rules when listed, else vitals' convention
 * (`slo:sli_error:ratio_rate<window>{slo="name"}`), divided by the error budget. */
export function burnRateQuery(slo: Slo): string | null {
  if (!slo.errorBudget || slo.errorBudget <= 0) return null;
  const names = slo.recordingRules.filter((r) => /ratio_rate/.test(r));
  const nameRe = names.length ? names.map(escapeRegex).join('|') : 'slo:sli_error:ratio_rate.+';
  const sel = `{__name__=~${JSON.stringify(nameRe)}, slo=${JSON.stringify(slo.name)}}`;
  return `label_replace(${sel}, "window", "$1", "__name__", ".*ratio_rate(.+)") / ${slo.errorBudget}`;
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// --- Probes ---------------------------------------------------------------------------------

export interface Incident {
  start: string;
  end: string | null;
  cause: string;
}

export interface Probe {
  name: string;
  target: string;
  module: string;
  /** True/false from the last result, null when it has not run. */
  up: boolean | null;
  lastTime: string;
  lastDuration: number | null;
  failure: string;
  /** Uptime ratio (0–1) per window ("1h", "24h", …), or under '' when only one is given. */
  uptime: Record<string, number | null>;
  incidents: Incident[];
  raw: Obj;
}

export function normalizeProbes(data: unknown): Probe[] {
  return listOf(data, ['probes', 'checks', 'items']).filter(isObj).map((o) => {
    const last = isObj(o.last) ? o.last : isObj(o.lastResult) ? o.lastResult : {};
    let up: boolean | null = null;
    for (const v of [last.success, o.up, o.success, last.up]) {
      if (typeof v === 'boolean') {
        up = v;
        break;
      }
      if (typeof v === 'number') {
        up = v > 0;
        break;
      }
    }
    const incidents = (Array.isArray(o.incidents) ? o.incidents : []).filter(isObj).map((i) => ({
      start: str(i.start ?? i.startsAt),
      end: i.end === null || i.end === undefined ? (str(i.endsAt) || null) : str(i.end),
      cause: str(i.cause ?? i.reason ?? i.error),
    }));
    return {
      name: str(o.check ?? o.name ?? o.job) || str(o.target) || '(unnamed)',
      target: str(o.target ?? o.url ?? o.instance),
      module: str(o.module),
      up,
      lastTime: str(last.time ?? o.lastCheck ?? o.lastTime),
      lastDuration: num(last.durationSeconds ?? last.duration ?? o.durationSeconds),
      failure: str(last.failure ?? last.error ?? o.lastError ?? o.failure),
      uptime: uptimeOf(o),
      incidents,
      raw: o,
    };
  });
}

/**
 * Uptime ratios (0–1) per window. vitals gives `uptime` in percent (0–100, per its API docs);
 * `uptimeRatio` is taken as a ratio.
 */
function uptimeOf(o: Obj): Record<string, number | null> {
  if (o.uptime !== undefined && o.uptime !== null) {
    const m = numMap(o.uptime);
    for (const k of Object.keys(m)) m[k] = m[k] === null ? null : m[k]! / 100;
    return m;
  }
  return numMap(o.uptimeRatio);
}

/** The uptime window shown first: 24h when there, else the first given. */
export function mainUptime(p: Probe): [string, number | null] | null {
  if ('24h' in p.uptime) return ['24h', p.uptime['24h']];
  const k = Object.keys(p.uptime)[0];
  return k === undefined ? null : [k, p.uptime[k]];
}

// --- Targets --------------------------------------------------------------------------------

export interface TargetGroup {
  pool: string;
  targets: Target[];
  up: number;
}

export function groupTargets(targets: Target[]): TargetGroup[] {
  const byPool = new Map<string, Target[]>();
  for (const t of targets) {
    const pool = t.scrapePool || t.labels?.job || '(none)';
    if (!byPool.has(pool)) byPool.set(pool, []);
    byPool.get(pool)!.push(t);
  }
  return [...byPool.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pool, ts]) => ({
      pool,
      targets: ts.slice().sort((a, b) => (a.scrapeUrl < b.scrapeUrl ? -1 : a.scrapeUrl > b.scrapeUrl ? 1 : 0)),
      up: ts.filter((t) => t.health === 'up').length,
    }));
}

// --- Alerts and silences --------------------------------------------------------------------

export interface AlertView {
  labels: Labels;
  annotations: Labels;
  /** firing | pending (from the rules), or firing for alerts only Alertmanager knows. */
  state: string;
  activeAt: string;
  value: string;
  silencedBy: string[];
  inhibited: boolean;
  fingerprint: string;
}

/** Whether every label of `a` has the same value in `b`. */
function labelsWithin(a: Labels, b: Labels): boolean {
  return Object.entries(a).every(([k, v]) => b[k] === v);
}

/**
 * The rule-evaluated alerts (`/api/v1/alerts`) with the silences that Alertmanager applies to them
 * (`/api/v2/alerts`), plus alerts that only Alertmanager has (pushed by other senders). Firing
 * before pending, then by alert name.
 */
export function mergeAlerts(prom: PromAlert[], am: AmAlert[]): AlertView[] {
  const used = new Set<AmAlert>();
  const out: AlertView[] = prom.map((p) => {
    const m = am.find((a) => !used.has(a) && labelsWithin(p.labels ?? {}, a.labels ?? {}));
    if (m) used.add(m);
    return {
      labels: p.labels ?? {},
      annotations: p.annotations ?? {},
      state: p.state,
      activeAt: p.activeAt ?? '',
      value: p.value ?? '',
      silencedBy: m?.status?.silencedBy ?? [],
      inhibited: (m?.status?.inhibitedBy ?? []).length > 0,
      fingerprint: m?.fingerprint ?? '',
    };
  });
  for (const a of am) {
    if (used.has(a)) continue;
    out.push({
      labels: a.labels ?? {},
      annotations: a.annotations ?? {},
      state: 'firing',
      activeAt: a.startsAt ?? '',
      value: '',
      silencedBy: a.status?.silencedBy ?? [],
      inhibited: (a.status?.inhibitedBy ?? []).length > 0,
      fingerprint: a.fingerprint ?? '',
    });
  }
  const rank = (s: string) => (s === 'firing' ? 0 : s === 'pending' ? 1 : 2);
  return out
    .filter((a) => a.state !== 'inactive')
    .sort((a, b) => rank(a.state) - rank(b.state) || (a.labels.alertname ?? '').localeCompare(b.labels.alertname ?? ''));
}

/** Matchers that select exactly an alert's label set (alertname first). */
export function matchersFromLabels(labels: Labels): Matcher[] {
  return Object.keys(labels)
    .sort((a, b) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a < b ? -1 : a > b ? 1 : 0))
    .map((name) => ({ name, value: labels[name], isRegex: false, isEqual: true }));
}

/** A matcher as text: `job="x"`, `job=~"x|y"`, `job!="x"`, `job!~"x"`. */
export function matcherText(m: Matcher): string {
  const op = (m.isEqual === false ? '!' : '=') + (m.isRegex ? '~' : '');
  return `${m.name}${op === '=' ? '=' : op === '!' ? '!=' : op}${JSON.stringify(m.value)}`;
}

export interface SilenceForm {
  id?: string;
  matchers: Matcher[];
  /** Unix ms. */
  startsAt: number;
  /** A duration such as "2h". */
  duration: string;
  createdBy: string;
  comment: string;
}

/** The POST body for a silence form, or an Error saying what is missing. */
export function silenceBody(f: SilenceForm): SilenceBody {
  const matchers = f.matchers.filter((m) => m.name.trim() !== '');
  if (matchers.length === 0) throw new Error('a silence needs at least one matcher');
  for (const m of matchers) {
    if (m.isRegex) {
      try {
        new RegExp(m.value);
      } catch {
        throw new Error(`matcher ${m.name}: invalid regular expression`);
      }
    }
  }
  const d = parseDuration(f.duration);
  if (d === null) throw new Error(`invalid duration "${f.duration}" (e.g. 2h, 30m, 1d)`);
  if (!f.createdBy.trim()) throw new Error('"created by" is required');
  if (!f.comment.trim()) throw new Error('a comment is required');
  const body: SilenceBody = {
    matchers: matchers.map((m) => ({ name: m.name.trim(), value: m.value, isRegex: m.isRegex, isEqual: m.isEqual !== false })),
    startsAt: new Date(f.startsAt).toISOString(),
    endsAt: new Date(f.startsAt + d * 1000).toISOString(),
    createdBy: f.createdBy.trim(),
    comment: f.comment.trim(),
  };
  if (f.id) body.id = f.id;
  return body;
}

/** A duration in seconds as form text: whole hours as "2h", else minutes ("90m"), at least 1m. */
function durationText(secs: number): string {
  const m = Math.max(1, Math.round(secs / 60));
  return m % 60 === 0 ? `${m / 60}h` : `${m}m`;
}

/**
 * The form for editing a silence: same start and length, so that extending it updates it in
 * place. An expired silence becomes a new one (no id) of the same length starting now.
 */
export function formFromSilence(s: Silence, now = Date.now()): SilenceForm {
  const start = Date.parse(s.startsAt);
  const end = Date.parse(s.endsAt);
  const length = Number.isFinite(start) && Number.isFinite(end) ? (end - start) / 1000 : 7200;
  const base = { matchers: s.matchers.map((m) => ({ ...m })), createdBy: s.createdBy, comment: s.comment };
  if (s.status?.state === 'expired' || !Number.isFinite(end) || end <= now) {
    return { ...base, startsAt: now, duration: durationText(length) };
  }
  return { ...base, id: s.id, startsAt: Number.isFinite(start) ? start : now, duration: durationText(length) };
}

/** Active first, then pending, then expired; within a state the latest ending first. */
export function sortSilences(list: Silence[]): Silence[] {
  const rank = (s: Silence) => (s.status?.state === 'active' ? 0 : s.status?.state === 'pending' ? 1 : 2);
  return list.slice().sort((a, b) => rank(a) - rank(b) || Date.parse(b.endsAt) - Date.parse(a.endsAt));
}

// --- Load-test runs -------------------------------------------------------------------------

export interface LoadRun {
  run: string;
  /** Unix seconds of the first and last sample seen. */
  start: number;
  end: number;
  /** The last value of the request counter (requests sent). */
  requests: number | null;
}

/**
 * Runs from the raw samples of `vitals_load_requests_total[<lookback>]` (an instant query of a range
 * selector, so the timestamps are the samples' own): per `run` label, the first and last sample
 * and the requests counted (the last value of each of its series, added up). Latest first.
 */
export function deriveRuns(matrix: MatrixSeries[]): LoadRun[] {
  const byRun = new Map<string, LoadRun>();
  for (const s of matrix) {
    const run = s.metric?.run;
    if (run === undefined || !s.values?.length) continue;
    let lo = Infinity;
    let hi = -Infinity;
    for (const [t] of s.values) {
      lo = Math.min(lo, Number(t));
      hi = Math.max(hi, Number(t));
    }
    const last = num(s.values[s.values.length - 1][1]);
    const r = byRun.get(run);
    if (!r) {
      byRun.set(run, { run, start: lo, end: hi, requests: last });
    } else {
      r.start = Math.min(r.start, lo);
      r.end = Math.max(r.end, hi);
      r.requests = r.requests === null ? last : last === null ? r.requests : r.requests + last;
    }
  }
  return [...byRun.values()].sort((a, b) => b.end - a.end || a.run.localeCompare(b.run));
}

/** The time span to chart a run over: its samples with 5 % (at least 10 s) on each side. */
export function runSpan(r: LoadRun): { start: number; end: number } {
  const pad = Math.max(10, (r.end - r.start) * 0.05);
  return { start: r.start - pad, end: r.end + pad };
}

/** A PromQL string literal for a label value. */
export function quote(v: string): string {
  return JSON.stringify(v);
}
