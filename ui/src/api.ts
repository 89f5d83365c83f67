// Typed fetch helpers for the vitals HTTP API (Prometheus v1 envelope and Alertmanager v2).

export type Labels = Record<string, string>;
export type SamplePair = [number, string];

export interface MatrixSeries {
  metric: Labels;
  values: SamplePair[];
}
export interface VectorSample {
  metric: Labels;
  value: SamplePair;
}
export type QueryData =
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'vector'; result: VectorSample[] }
  | { resultType: 'scalar'; result: SamplePair }
  | { resultType: 'string'; result: SamplePair };

export interface Target {
  labels: Labels;
  discoveredLabels?: Labels;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown' | string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  globalUrl?: string;
}

export interface PromAlert {
  labels: Labels;
  annotations: Labels;
  state: 'firing' | 'pending' | 'inactive' | string;
  activeAt?: string;
  value?: string;
}

export interface AmAlert {
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt?: string;
  fingerprint: string;
  status: { state: string; silencedBy: string[]; inhibitedBy?: string[] };
}

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  updatedAt?: string;
  status: { state: 'active' | 'pending' | 'expired' | string };
}

export interface SilenceBody {
  id?: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** An error from the API: `errorType` is Prometheus' (bad_data, execution, timeout, …), or
 * `http` for a failed request without such a body, or `network` when no answer came. */
export class ApiError extends Error {
  constructor(
    public errorType: string,
    message: string,
    public status = 0,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  /** `errorType: error`, as shown under the editor. */
  toString(): string {
    return `${this.errorType}: ${this.message}`;
  }
}

/**
 * Turns a response (status code and body text) into the value it carries, or throws an `ApiError`.
 * The Prometheus envelope `{status, data}` is unwrapped; other JSON (Alertmanager v2) is returned whole.
 */
export function parseResponse<T>(status: number, body: string): T {
  let json: unknown = undefined;
  const text = body.trim();
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    if (o.status === 'error') {
      throw new ApiError(
        typeof o.errorType === 'string' && o.errorType ? o.errorType : 'error',
        typeof o.error === 'string' ? o.error : 'unknown error',
        status,
      );
    }
    if (status >= 200 && status < 300) {
      if (o.status === 'success') return o.data as T;
      return json as T;
    }
    // Alertmanager-style error bodies: {code, message}.
    if (typeof o.message === 'string') throw new ApiError('http', o.message, status);
  }
  if (status >= 200 && status < 300) {
    return (json === undefined ? text : json) as T;
  }
  const msg = text !== '' && json === undefined ? text : `HTTP ${status}`;
  throw new ApiError(status === 0 ? 'network' : 'http', msg, status);
}

export type Params = Record<string, string | number | undefined | string[]>;

/** `path?k=v&…`, repeating array values (`match[]`), leaving out undefined ones. */
export function buildUrl(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body !== undefined ? { 'Content-Type': 'application/json', Accept: 'application/json' } : { Accept: 'application/json' },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal,
    });
  } catch (e) {
    if ((e as { name?: string })?.name === 'AbortError') throw e;
    throw new ApiError('network', `request failed: ${(e as Error)?.message ?? e}`, 0);
  }
  const text = await res.text();
  return parseResponse<T>(res.status, text);
}

export function get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', buildUrl(path, params), undefined, signal);
}

// --- Prometheus API -------------------------------------------------------------------------

export function query(expr: string, time?: number, signal?: AbortSignal): Promise<QueryData> {
  return get<QueryData>('/api/v1/query', { query: expr, time }, signal);
}

export function queryRange(
  expr: string,
  start: number,
  end: number,
  step: number,
  signal?: AbortSignal,
): Promise<QueryData> {
  return get<QueryData>('/api/v1/query_range', { query: expr, start, end, step }, signal);
}

/** A range query that must give a matrix (anything else becomes an empty one). */
export async function queryMatrix(
  expr: string,
  start: number,
  end: number,
  step: number,
  signal?: AbortSignal,
): Promise<MatrixSeries[]> {
  const d = await queryRange(expr, start, end, step, signal);
  return d && d.resultType === 'matrix' && Array.isArray(d.result) ? d.result : [];
}

/** An instant query reduced to its samples: a vector's, or a scalar as one unlabelled sample. */
export async function queryVector(expr: string, time?: number, signal?: AbortSignal): Promise<VectorSample[]> {
  const d = await query(expr, time, signal);
  if (!d) return [];
  if (d.resultType === 'vector') return Array.isArray(d.result) ? d.result : [];
  if (d.resultType === 'scalar') return [{ metric: {}, value: d.result }];
  return [];
}

/** The first value of an instant query as a number, or null when there is none. */
export async function queryScalar(expr: string, signal?: AbortSignal): Promise<number | null> {
  const v = await queryVector(expr, undefined, signal);
  if (v.length === 0) return null;
  const x = parseFloat(v[0].value[1]);
  return Number.isFinite(x) ? x : null;
}

export function labelNames(match?: string[], signal?: AbortSignal): Promise<string[]> {
  return get<string[]>('/api/v1/labels', { 'match[]': match }, signal);
}

export function labelValues(name: string, match?: string[], signal?: AbortSignal): Promise<string[]> {
  return get<string[]>(`/api/v1/label/${encodeURIComponent(name)}/values`, { 'match[]': match }, signal);
}

export function series(match: string[], start?: number, end?: number, signal?: AbortSignal): Promise<Labels[]> {
  return get<Labels[]>('/api/v1/series', { 'match[]': match, start, end }, signal);
}

export function targets(signal?: AbortSignal): Promise<{ activeTargets: Target[]; droppedTargets?: unknown[] }> {
  return get('/api/v1/targets', undefined, signal);
}

export function alerts(signal?: AbortSignal): Promise<{ alerts: PromAlert[] }> {
  return get('/api/v1/alerts', undefined, signal);
}

export function rules(signal?: AbortSignal): Promise<{ groups: unknown[] }> {
  return get('/api/v1/rules', undefined, signal);
}

export function probes(signal?: AbortSignal): Promise<unknown> {
  return get('/api/v1/probes', undefined, signal);
}

export function slos(signal?: AbortSignal): Promise<unknown> {
  return get('/api/v1/slos', undefined, signal);
}

// --- Alertmanager v2 ------------------------------------------------------------------------

export function amAlerts(signal?: AbortSignal): Promise<AmAlert[]> {
  return get<AmAlert[]>('/api/v2/alerts', undefined, signal);
}

export function silences(signal?: AbortSignal): Promise<Silence[]> {
  return get<Silence[]>('/api/v2/silences', undefined, signal);
}

export function postSilence(body: SilenceBody): Promise<{ silenceID: string }> {
  return request('POST', '/api/v2/silences', body);
}

export function expireSilence(id: string): Promise<unknown> {
  return request('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
}

// --- dashboards -----------------------------------------------------------------------------

export function dashboards<T = unknown[]>(signal?: AbortSignal): Promise<T> {
  return get<T>('/api/v1/dashboards', undefined, signal);
}

export function dashboard<T = unknown>(id: string, signal?: AbortSignal): Promise<T> {
  return get<T>(`/api/v1/dashboards/${encodeURIComponent(id)}`, undefined, signal);
}

/** Saves a dashboard (`PUT`); the server validates it (`bad_data` errors name the field). */
export function putDashboard(id: string, body: unknown): Promise<{ id: string }> {
  return request('PUT', `/api/v1/dashboards/${encodeURIComponent(id)}`, body);
}

export function deleteDashboard(id: string): Promise<unknown> {
  return request('DELETE', `/api/v1/dashboards/${encodeURIComponent(id)}`);
}
