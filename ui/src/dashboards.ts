// Dashboards: the schema the server keeps (`/api/v1/dashboards`), the built-in dashboards as data
// (the fallback when the API is not there; the server's built-ins were generated from them), and the
// pure helpers of the dashboards page: variables (`$job` in an expression is replaced by the chosen
// value, as a regular expression: the expressions match it with `=~`, and "All" is `.+`), URL state,
// and the client-side check of the editor's JSON.

import type { Labels, QueryData } from './api';
import type { Unit } from './format';
import { escapeRegex } from './model';

/** The panel types the UI draws (and the server accepts). */
export const PANEL_TYPES = ['timeseries', 'stat', 'gauge', 'bar', 'table', 'heatmap'] as const;
export type PanelType = (typeof PANEL_TYPES)[number];

/** A panel as the server stores it. */
export interface PanelSpec {
  title: string;
  type: PanelType;
  expr: string;
  unit?: Unit | string;
  stacked?: boolean;
  /** Twice the usual width (2 of 4 columns for stat and gauge, the whole row for the others). */
  wide?: boolean;
  min?: number;
  max?: number;
  /** Ascending values where the colour changes (green, then amber … red above the last). */
  thresholds?: number[];
  decimals?: number;
  /** Whether a chart shows its legend (default true). */
  legend?: boolean;
}

export interface VariableSpec {
  name: string;
  label?: string;
  default?: string;
  /** Where the choices come from: a PromQL query (the values of the label `name` in its answer),
   * or `label_values(label)` / `label_values(selector, label)`; by default the label `name`'s values. */
  query?: string;
}

/** A dashboard as the server stores it (`PUT` body). */
export interface DashboardSpec {
  title: string;
  description?: string;
  tags?: string[];
  /** Poll interval when live updates are not available, e.g. "30s" (default 10 s). */
  refresh?: string;
  /** The range shown first, e.g. "6h" (default 1h). */
  range?: string;
  variables?: VariableSpec[];
  panels: PanelSpec[];
}

/** `GET /api/v1/dashboards/{id}`: the dashboard with what the server adds. */
export interface DashboardDoc extends DashboardSpec {
  id: string;
  source: 'builtin' | 'file' | string;
  readonly: boolean;
}

/** An entry of `GET /api/v1/dashboards`. */
export interface DashboardInfo {
  id: string;
  title: string | null;
  source: 'builtin' | 'file' | string;
  readonly: boolean;
  file?: string;
  /** Why a file cannot be used (names the file and line). */
  error?: string;
}

/** The built-in dashboards as the TS definitions describe them (`DASHBOARDS`). */
export interface PanelDef {
  title: string;
  type: 'timeseries' | 'stat';
  expr: string;
  unit: Unit;
  stacked?: boolean;
  /** Grid columns the panel spans (of 4 for stats, 2 for charts). */
  wide?: boolean;
}

export interface DashboardDef {
  id: string;
  title: string;
  /** The `$job` variable's default value (when the job exists). */
  defaultJob: string;
  panels: PanelDef[];
}

/** The value of the "All" choice of `$job`. */
export const ALL = '__all__';

const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs|devtmpfs|nsfs|autofs"';
const J = 'job=~"$job"';

export const DASHBOARDS: DashboardDef[] = [
  {
    id: 'host',
    title: 'Host',
    defaultJob: 'node',
    panels: [
      { title: 'CPU used', type: 'stat', unit: 'percent', expr: `100 * (1 - avg(rate(node_cpu_seconds_total{${J},mode="idle"}[1m])))` },
      { title: 'Memory used', type: 'stat', unit: 'percent', expr: `100 * (1 - sum(node_memory_MemAvailable_bytes{${J}}) / sum(node_memory_MemTotal_bytes{${J}}))` },
      { title: 'Disk used (fullest)', type: 'stat', unit: 'percent', expr: `100 * max(1 - node_filesystem_avail_bytes{${J},${FS}} / node_filesystem_size_bytes{${J},${FS}})` },
      { title: 'Load (1m)', type: 'stat', unit: '', expr: `max(node_load1{${J}})` },
      { title: 'CPU by mode', type: 'timeseries', unit: 'percent', stacked: true, expr: `100 * avg by (mode) (rate(node_cpu_seconds_total{${J},mode!="idle"}[1m]))` },
      { title: 'Memory used', type: 'timeseries', unit: 'percent', expr: `100 * (1 - node_memory_MemAvailable_bytes{${J}} / node_memory_MemTotal_bytes{${J}})` },
      { title: 'Disk used by mount point', type: 'timeseries', unit: 'percent', expr: `100 * (1 - node_filesystem_avail_bytes{${J},${FS}} / node_filesystem_size_bytes{${J},${FS}})` },
      { title: 'Disk I/O', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_disk_read_bytes_total{${J}}[1m]) + rate(node_disk_written_bytes_total{${J}}[1m]))` },
      { title: 'Network received', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_network_receive_bytes_total{${J},device!="lo"}[1m]))` },
      { title: 'Network sent', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_network_transmit_bytes_total{${J},device!="lo"}[1m]))` },
    ],
  },
  {
    id: 'api',
    title: 'API performance',
    defaultJob: 'vitals',
    panels: [
      { title: 'Request rate', type: 'stat', unit: 'reqps', expr: `sum(rate({__name__=~".+_request_duration_seconds_count",${J}}[5m]))` },
      {
        title: 'Error ratio (5xx)',
        type: 'stat',
        unit: 'percentunit',
        expr: `(sum(rate({__name__=~".+_requests_total",${J},code=~"5.."}[5m])) or vector(0)) / sum(rate({__name__=~".+_requests_total",${J}}[5m]))`,
      },
      { title: 'p95 latency', type: 'stat', unit: 'seconds', expr: `histogram_quantile(0.95, sum by (le) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'p99 latency', type: 'stat', unit: 'seconds', expr: `histogram_quantile(0.99, sum by (le) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'Request rate by handler', type: 'timeseries', unit: 'reqps', stacked: true, expr: `sum by (handler) (rate({__name__=~".+_request_duration_seconds_count",${J}}[1m]))` },
      {
        title: 'Error ratio by handler',
        type: 'timeseries',
        unit: 'percentunit',
        expr: `(sum by (handler) (rate({__name__=~".+_requests_total",${J},code=~"5.."}[5m])) or 0 * sum by (handler) (rate({__name__=~".+_requests_total",${J}}[5m]))) / sum by (handler) (rate({__name__=~".+_requests_total",${J}}[5m]))`,
      },
      { title: 'p95 latency by handler', type: 'timeseries', unit: 'seconds', expr: `histogram_quantile(0.95, sum by (le, handler) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'Responses by status code', type: 'timeseries', unit: 'reqps', stacked: true, expr: `sum by (code) (rate({__name__=~".+_requests_total",${J}}[5m]))` },
    ],
  },
];

/** An expression with its variables filled in (`$job` and `${job}`); values are regex-escaped. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in vars)) return m;
    const v = vars[name];
    return v === ALL ? '.+' : escapeRegex(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  });
}

/** The job a dashboard starts with: the asked one if it exists, else its default, else the first. */
export function pickJob(jobs: string[], asked: string | null, def: string): string {
  if (asked && (asked === ALL || jobs.includes(asked))) return asked;
  if (jobs.includes(def)) return def;
  return jobs[0] ?? ALL;
}

// --- the server's schema ------------------------------------------------------------------

/** A TS-defined built-in dashboard in the server's schema (as the server's built-in JSON has it). */
export function builtinSpec(d: DashboardDef): DashboardDoc {
  return {
    title: d.title,
    variables: [{ name: 'job', label: 'job', default: d.defaultJob }],
    panels: d.panels.map((p) => ({ ...p })),
    id: d.id,
    source: 'builtin',
    readonly: true,
  };
}

/** The list the page shows when the dashboards API is not there: the TS-defined built-ins. */
export function fallbackList(): DashboardInfo[] {
  return DASHBOARDS.map((d) => ({ id: d.id, title: d.title, source: 'builtin', readonly: true }));
}

/** Whether `id` can name a dashboard (the server's rule: 1 to 64 letters, digits, `-`, `_`). */
export function validId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

/** The dashboard without the fields the server adds, as the editor shows it. */
export function specOf(d: DashboardSpec | DashboardDoc): DashboardSpec {
  const o = { ...(d as unknown as Record<string, unknown>) };
  delete o.id;
  delete o.source;
  delete o.readonly;
  return o as unknown as DashboardSpec;
}

const DASHBOARD_ORDER = ['title', 'description', 'tags', 'refresh', 'range', 'variables', 'panels'];
const PANEL_ORDER = ['title', 'type', 'expr', 'unit', 'stacked', 'wide', 'min', 'max', 'thresholds', 'decimals', 'legend'];
const VARIABLE_ORDER = ['name', 'label', 'default', 'query'];

/** `o` with its keys in `order` first (then any others as they were). */
function ordered<T>(o: T, order: string[]): T {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return o;
  const src = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in src) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out)) out[k] = src[k];
  return out as T;
}

/**
 * The editor's text of a dashboard: pretty JSON without id/source/readonly, keys in the schema's
 * order (the server may give them sorted).
 */
export function editorText(d: DashboardSpec | DashboardDoc): string {
  const s = ordered(specOf(d), DASHBOARD_ORDER);
  if (Array.isArray(s.panels)) s.panels = s.panels.map((p) => ordered(p, PANEL_ORDER));
  if (Array.isArray(s.variables)) s.variables = s.variables.map((v) => ordered(v, VARIABLE_ORDER));
  return JSON.stringify(s, null, 2);
}

/** What "New dashboard" starts from. */
export function newDashboardSpec(): DashboardSpec {
  return {
    title: 'New dashboard',
    variables: [{ name: 'job', label: 'job' }],
    panels: [
      { title: 'Targets up', type: 'stat', expr: 'sum(up{job=~"$job"})' },
      { title: 'Up by instance', type: 'timeseries', expr: 'up{job=~"$job"}' },
    ],
  };
}

/** Line and column (1-based) of offset `pos` in `text`. */
export function lineCol(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(pos, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/**
 * Where JSON text first goes wrong (its offset and what was expected), or null when it is valid.
 * Browsers' `JSON.parse` messages do not always give a position, so the editor finds it here.
 */
export function jsonSyntaxError(text: string): { pos: number; message: string } | null {
  let i = 0;
  const n = text.length;
  class Bad {
    constructor(
      public pos: number,
      public message: string,
    ) {}
  }
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const what = () => (i >= n ? 'end of input' : `${JSON.stringify(text[i])}`);
  const fail = (expected: string): never => {
    throw new Bad(i, `expected ${expected}, found ${what()}`);
  };
  const str = () => {
    i++;
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            fail('4 hex digits after \\u');
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else {
          i++;
          fail('an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)');
        }
        continue;
      }
      if (c < ' ') fail('no control character inside a string (use \\n)');
      i++;
    }
    fail('the closing "');
  };
  /** The items of an object or array, from its opening bracket to `close`, separated by commas. */
  const items = (close: '}' | ']', item: () => void): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      if (text[i] !== ',') fail(`',' or '${close}'`);
      i++;
    }
  };
  const member = (): void => {
    ws();
    if (text[i] !== '"') fail('a property name in double quotes');
    str();
    ws();
    if (text[i] !== ':') fail("':'");
    i++;
    value();
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return items('}', member);
    if (c === '[') return items(']', value);
    if (c === '"') return str();
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== '-' && m[0] !== '') {
      i += m[0].length;
      return;
    }
    fail('a value');
  };
  try {
    value();
    ws();
    if (i < n) fail('the end of the input');
    return null;
  } catch (e) {
    if (e instanceof Bad) return { pos: e.pos, message: e.message };
    throw e;
  }
}

export type ParsedDashboard = { ok: true; value: DashboardSpec } | { ok: false; error: string };

/**
 * The editor's text as a dashboard, or why not: JSON syntax (with the line and column), and the
 * shape the page needs to draw it (an object with a title and a `panels` list of objects). The rest
 * (field types, panel types, PromQL, variables) is checked by the server when saving.
 */
export function parseDashboardJson(text: string): ParsedDashboard {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const at = jsonSyntaxError(text);
    if (at) {
      const { line, column } = lineCol(text, at.pos);
      return { ok: false, error: `invalid JSON at line ${line} column ${column}: ${at.message}` };
    }
    return { ok: false, error: `invalid JSON: ${(e as Error)?.message ?? e}` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'a dashboard is a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.title !== 'string' || o.title.trim() === '') return { ok: false, error: 'title: a non-empty string is required' };
  if (!Array.isArray(o.panels)) return { ok: false, error: 'panels: a list of panels is required' };
  for (let i = 0; i < o.panels.length; i++) {
    const p = o.panels[i] as unknown;
    if (!p || typeof p !== 'object' || Array.isArray(p)) return { ok: false, error: `panels[${i}]: expected an object` };
  }
  if (o.variables !== undefined && !Array.isArray(o.variables)) return { ok: false, error: 'variables: expected a list' };
  return { ok: true, value: v as DashboardSpec };
}

/** Grid columns (of 4) a panel spans: 1 for stat and gauge, 2 for the others; twice that when wide. */
export function panelSpan(p: Pick<PanelSpec, 'type' | 'wide'>): number {
  const base = p.type === 'stat' || p.type === 'gauge' ? 1 : 2;
  return p.wide ? base * 2 : base;
}

// --- variables and the URL ----------------------------------------------------------------

/** The variables a dashboard has (those without a usable name left out). */
export function variablesOf(d: Pick<DashboardSpec, 'variables'>): VariableSpec[] {
  return (Array.isArray(d.variables) ? d.variables : []).filter((v) => v && typeof v.name === 'string' && /^\w+$/.test(v.name));
}

/** The values asked for in the URL: `var-<name>=` (or the older `<name>=`, as `?job=`). */
export function varsFromUrl(params: URLSearchParams, vars: VariableSpec[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const v of vars) out[v.name] = params.get(`var-${v.name}`) ?? params.get(v.name);
  return out;
}

/** The query string of a dashboard's state: `var-<name>=…` per variable, `range` when not the default. */
export function dashboardSearch(values: Record<string, string>, range: string, defaultRange = '1h'): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) q.set(`var-${k}`, v);
  if (range && range !== defaultRange) q.set('range', range);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Where a variable's choices come from. */
export type VariableSource =
  | { kind: 'label'; label: string; match?: string }
  | { kind: 'query'; expr: string; label: string };

/** A variable's `query` read: empty → the label `name`'s values; `label_values(…)`; else PromQL. */
export function variableSource(v: VariableSpec): VariableSource {
  const q = (v.query ?? '').trim();
  if (q === '') return { kind: 'label', label: v.name };
  const m = /^label_values\(\s*(?:(.*?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)$/s.exec(q);
  if (m) return m[1] ? { kind: 'label', label: m[2], match: m[1] } : { kind: 'label', label: m[2] };
  return { kind: 'query', expr: q, label: v.name };
}

/** The distinct values of `label` in a query answer (vector or matrix), sorted. */
export function labelValuesIn(d: QueryData | null | undefined, label: string): string[] {
  const set = new Set<string>();
  if (d && (d.resultType === 'vector' || d.resultType === 'matrix') && Array.isArray(d.result)) {
    for (const s of d.result as Array<{ metric?: Labels }>) {
      const v = s?.metric?.[label];
      if (v !== undefined && v !== '') set.add(v);
    }
  }
  return [...set].sort((a, b) => a.localeCompare(b));
}

/** The value a variable starts with: the asked one if it is a choice (or All), else its default, else the first. */
export function pickValue(values: string[], asked: string | null, def: string | undefined): string {
  if (asked && (asked === ALL || values.includes(asked))) return asked;
  if (def && (def === ALL || values.includes(def))) return def;
  return values[0] ?? ALL;
}
