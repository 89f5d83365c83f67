// Durations, steps and the Explore page's URL state.

/** The ranges offered by the pickers. */
export const RANGES = ['5m', '15m', '1h', '3h', '6h', '12h', '1d', '7d'] as const;

const UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  y: 365 * 86400,
};

/**
 * A Prometheus duration ("90s", "1h30m", "7d") or a plain number of seconds ("15", "0.5") in
 * seconds; null when it is not one.
 */
export function parseDuration(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const s = text.trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = parseFloat(s);
    return n > 0 ? n : null;
  }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += parseFloat(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || total <= 0) return null;
  return total;
}

/** Seconds as the shortest Prometheus duration ("3600" → "1h", "5400" → "1h30m", "0.5" → "500ms"). */
export function formatDuration(seconds: number): string {
  if (!(seconds > 0)) return '0s';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  let rest = Math.round(seconds);
  let out = '';
  for (const [u, n] of [
    ['y', UNITS.y],
    ['w', UNITS.w],
    ['d', UNITS.d],
    ['h', UNITS.h],
    ['m', UNITS.m],
    ['s', 1],
  ] as const) {
    if (rest >= n) {
      const k = Math.floor(rest / n);
      out += `${k}${u}`;
      rest -= k * n;
    }
  }
  return out;
}

/** The step used when none is given: the range over 250 points, rounded, at least 1 s. */
export function autoStep(rangeSeconds: number): number {
  return Math.max(1, Math.round(rangeSeconds / 250));
}

/** A time given as unix seconds or RFC 3339 text → unix seconds, or null. */
export function parseTime(text: string | null | undefined): number | null {
  if (!text) return null;
  const s = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return parseFloat(s);
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** Unix seconds as "YYYY-MM-DD HH:MM:SS" in local time. */
export function formatTime(unix: number): string {
  const d = new Date(unix * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "3s ago", "5m ago", "2h ago", "4d ago" (or "in 3m" for the future). */
export function ago(unix: number, now = Date.now() / 1000): string {
  const d = now - unix;
  const a = Math.abs(d);
  let t: string;
  if (a < 1) t = `${Math.round(a * 1000)}ms`;
  else if (a < 60) t = `${Math.round(a)}s`;
  else if (a < 3600) t = `${Math.round(a / 60)}m`;
  else if (a < 86400) t = `${Math.round(a / 3600)}h`;
  else t = `${Math.round(a / 86400)}d`;
  return d >= 0 ? `${t} ago` : `in ${t}`;
}

// --- Explore URL state ----------------------------------------------------------------------

export interface ExploreState {
  expr: string;
  /** A duration text such as "1h". */
  range: string;
  /** Step in a duration text, or '' for auto. */
  step: string;
  /** End as unix seconds, or null for now. */
  end: number | null;
  stacked: boolean;
  tab: 'graph' | 'table';
}

export const DEFAULT_RANGE = '1h';

/** Reads the Explore state from a query string (`?expr=…&range=1h&step=&end=&stacked=1&tab=table`). */
export function parseExploreState(search: string): ExploreState {
  const q = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const range = q.get('range') ?? '';
  const step = q.get('step') ?? '';
  return {
    expr: q.get('expr') ?? '',
    range: parseDuration(range) !== null ? range : DEFAULT_RANGE,
    step: parseDuration(step) !== null ? step : '',
    end: parseTime(q.get('end')),
    stacked: q.get('stacked') === '1' || q.get('stacked') === 'true',
    tab: q.get('tab') === 'table' ? 'table' : 'graph',
  };
}

/** The query string for a state; defaults are left out so links stay short. */
export function exploreSearch(s: ExploreState): string {
  const q = new URLSearchParams();
  q.set('expr', s.expr);
  q.set('range', s.range);
  if (s.step) q.set('step', s.step);
  if (s.end !== null) q.set('end', String(s.end));
  if (s.stacked) q.set('stacked', '1');
  if (s.tab === 'table') q.set('tab', 'table');
  return `?${q.toString()}`;
}

/** The start, end and step (all seconds) a state asks for, at time `now`. */
export function resolveRange(s: Pick<ExploreState, 'range' | 'step' | 'end'>, now = Date.now() / 1000): {
  start: number;
  end: number;
  step: number;
} {
  const range = parseDuration(s.range) ?? 3600;
  const end = s.end ?? now;
  const step = parseDuration(s.step) ?? autoStep(range);
  return { start: end - range, end, step };
}
