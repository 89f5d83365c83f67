// Live charts: `GET /api/v1/live?query=…` pushes every query's instant value (Server-Sent Events,
// `event: result`) after each storage commit. The pure part turns those answers into points appended
// to a chart's matrix; `LiveFeed` is the thin EventSource wrapper that falls back (its `onError`)
// when the stream fails, so pages go back to polling.

import { ApiError, buildUrl, type Labels, type MatrixSeries, type QueryData, type SamplePair } from './api';

/** The most queries the server takes on one live connection. */
export const MAX_LIVE_QUERIES = 20;

/** After a live stream failed, pages poll for this long before they try live again. */
export const LIVE_RETRY_MS = 60_000;

/** One `result` event: which query, the commit that triggered it, and the query's answer. */
export interface LiveEvent {
  index: number;
  initial: boolean;
  /** Wall-clock ms of the storage commit that triggered the event (the connect time for the initial one). */
  commitMs: number;
  /** Evaluation time, ms. */
  t: number;
  /** The /api/v1/query answer (the Prometheus envelope). */
  response: unknown;
}

/** An event's `data` text → the event, or null when it is not one. */
export function parseLiveEvent(data: string): LiveEvent | null {
  let o: unknown;
  try {
    o = JSON.parse(data);
  } catch {
    return null;
  }
  if (!o || typeof o !== 'object') return null;
  const r = o as Record<string, unknown>;
  const index = Number(r.index);
  if (!Number.isInteger(index) || index < 0) return null;
  const t = Number(r.t);
  const commit = Number(r.commit_ms);
  return {
    index,
    initial: r.initial === true,
    t: Number.isFinite(t) ? t : Date.now(),
    commitMs: Number.isFinite(commit) ? commit : Number.isFinite(t) ? t : Date.now(),
    response: r.response,
  };
}

/** The query answer an event carries: the envelope's data, or an `ApiError` for an error answer. */
export function liveResult(response: unknown): QueryData | ApiError {
  if (!response || typeof response !== 'object') return new ApiError('bad_response', 'live event without a response');
  const o = response as Record<string, unknown>;
  if (o.status === 'error') {
    return new ApiError(typeof o.errorType === 'string' ? o.errorType : 'error', typeof o.error === 'string' ? o.error : 'unknown error');
  }
  const d = (o.status === 'success' ? o.data : o) as Record<string, unknown> | undefined;
  if (d && typeof d === 'object' && typeof d.resultType === 'string') return d as unknown as QueryData;
  return new ApiError('bad_response', 'live event with an unknown answer');
}

/** The samples of an instant answer: a vector's, a scalar as one unlabelled sample, else none. */
export function instantSamples(d: QueryData): Array<{ metric: Labels; value: SamplePair }> {
  if (!d) return [];
  if (d.resultType === 'vector') return Array.isArray(d.result) ? d.result : [];
  if (d.resultType === 'scalar' && Array.isArray(d.result)) return [{ metric: {}, value: d.result }];
  return [];
}

/** The first sample's value of an instant answer as a number, or null (none, NaN, ±Inf). */
export function firstValue(d: QueryData): number | null {
  const s = instantSamples(d)[0];
  if (!s) return null;
  const x = parseFloat(s.value?.[1]);
  return Number.isFinite(x) ? x : null;
}

/** A label set as a key that does not depend on the order of its names. */
export function labelsKey(l: Labels): string {
  return JSON.stringify(Object.keys(l ?? {}).sort().map((k) => [k, l[k]]));
}

/**
 * The slot width (seconds) that bounds how many pushed points a series gets: storage may commit
 * many times a second, and each commit pushes an answer. Within one slot a push with the same value
 * as the series' last point moves that point forward instead of adding one, and a slot holds at
 * most two points (so a changed value still shows at once). A tenth of the step, at least 1 s.
 */
export function liveResolution(stepSeconds: number): number {
  return Math.max(1, (Number.isFinite(stepSeconds) ? stepSeconds : 0) / 10);
}

export interface AppendOptions {
  /** The evaluation time (unix seconds): the range ends here even when the answer has no sample. */
  t?: number;
  /** The slot width of `liveResolution`; 0 (default) adds every point with a new timestamp. */
  resolution?: number;
}

/**
 * A chart's matrix with an instant answer appended: each sample goes to the series with the same
 * label set (a new label set becomes a new series at the end) as a new point, except that a sample
 * older than the series' last point is ignored, one at the same time replaces it, and within a
 * resolution slot (see `liveResolution`) a sample replaces the last point when it has the same value
 * or when the slot already holds two points. Then points older than `rangeSeconds` before the newest
 * time are dropped, and series left without points with them. Returns a new matrix; the one given is
 * not changed.
 */
export function appendLive(matrix: MatrixSeries[], response: QueryData, rangeSeconds: number, opts: AppendOptions = {}): MatrixSeries[] {
  const samples = instantSamples(response);
  let now = opts.t !== undefined && Number.isFinite(opts.t) ? opts.t : -Infinity;
  for (const s of samples) {
    const t = Number(s.value?.[0]);
    if (Number.isFinite(t) && t > now) now = t;
  }
  if (now === -Infinity) return matrix;
  const res = opts.resolution && opts.resolution > 0 ? opts.resolution : 0;
  const out: MatrixSeries[] = matrix.map((s) => ({ metric: s.metric ?? {}, values: s.values ?? [] }));
  const byKey = new Map<string, number>();
  out.forEach((s, i) => byKey.set(labelsKey(s.metric), i));
  const touched = new Set<number>();
  for (const s of samples) {
    const t = Number(s.value?.[0]);
    if (!Number.isFinite(t) || typeof s.value?.[1] !== 'string') continue;
    const metric = s.metric ?? {};
    const key = labelsKey(metric);
    let i = byKey.get(key);
    if (i === undefined) {
      i = out.length;
      out.push({ metric, values: [] });
      byKey.set(key, i);
    }
    const series = out[i];
    if (!touched.has(i)) {
      series.values = series.values.slice();
      touched.add(i);
    }
    const vals = series.values;
    const n = vals.length;
    const point: SamplePair = [t, s.value[1]];
    if (n === 0) {
      vals.push(point);
      continue;
    }
    const lastT = Number(vals[n - 1][0]);
    if (t < lastT) continue;
    if (t === lastT) {
      vals[n - 1] = point;
      continue;
    }
    const slot = (x: number) => Math.floor(x / res);
    if (res > 0 && slot(t) === slot(lastT)) {
      const sameValue = vals[n - 1][1] === point[1];
      const slotFull = n >= 2 && slot(Number(vals[n - 2][0])) === slot(lastT);
      if (sameValue || slotFull) {
        vals[n - 1] = point;
        continue;
      }
    }
    vals.push(point);
  }
  const start = now - rangeSeconds;
  const kept: MatrixSeries[] = [];
  for (const s of out) {
    let k = 0;
    while (k < s.values.length && Number(s.values[k][0]) < start) k++;
    if (k === s.values.length) continue;
    kept.push(k === 0 ? s : { metric: s.metric, values: s.values.slice(k) });
  }
  return kept;
}

/** The URL of a live stream for some queries. */
export function liveUrl(queries: string[]): string {
  return buildUrl('/api/v1/live', { query: queries });
}

/** Whether live may be tried again: never failed, or failed at least `retryMs` ago. */
export function canTryLive(lastFailureMs: number | null, nowMs: number, retryMs = LIVE_RETRY_MS): boolean {
  return lastFailureMs === null || nowMs - lastFailureMs >= retryMs;
}

/** Queries cut into groups of at most `max` (one live connection each), keeping their order. */
export function chunkQueries(queries: string[], max = MAX_LIVE_QUERIES): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < queries.length; i += max) out.push(queries.slice(i, i + max));
  return out;
}

// --- the EventSource side ------------------------------------------------------------------

/** What `LiveFeed` needs of an EventSource (so tests can give a fake one). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (e: MessageEvent) => void): void;
  close(): void;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

let lastFailure: number | null = null;

/** Whether pages should subscribe now: EventSource exists and live did not fail recently. */
export function liveAvailable(now = Date.now()): boolean {
  return typeof EventSource !== 'undefined' && canTryLive(lastFailure, now);
}

/** Forgets a recorded failure (tests). */
export function resetLiveFailures(): void {
  lastFailure = null;
}

export interface LiveHandlers {
  /** A query's answer (or its error) after a commit. */
  onResult(index: number, result: QueryData | ApiError, ev: LiveEvent): void;
  /** The stream failed; the feed is closed and will not call again. */
  onError(): void;
}

/**
 * Subscribes to `queries` (any number: one connection per 20) until `close()`. On an error of any
 * connection all are closed, the failure is remembered (see `liveAvailable`) and `onError` runs once.
 */
export class LiveFeed {
  private sources: EventSourceLike[] = [];
  closed = false;

  constructor(
    readonly queries: string[],
    private handlers: LiveHandlers,
    factory: EventSourceFactory = (url) => new EventSource(url),
  ) {
    let offset = 0;
    for (const group of chunkQueries(queries)) {
      const base = offset;
      offset += group.length;
      let src: EventSourceLike;
      try {
        src = factory(liveUrl(group));
      } catch {
        this.fail();
        return;
      }
      this.sources.push(src);
      src.addEventListener('result', (e: MessageEvent) => {
        if (this.closed) return;
        const ev = parseLiveEvent(typeof e.data === 'string' ? e.data : '');
        if (!ev || ev.index >= group.length) return;
        ev.index += base;
        this.handlers.onResult(ev.index, liveResult(ev.response), ev);
      });
      src.addEventListener('error', () => this.fail());
    }
  }

  private fail(): void {
    if (this.closed) return;
    lastFailure = Date.now();
    this.close();
    this.handlers.onError();
  }

  close(): void {
    this.closed = true;
    for (const s of this.sources.splice(0)) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
  }
}
