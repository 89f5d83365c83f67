// The overview's endpoint tables, from the standard HTTP metrics: the slowest endpoints by p95
// (`*_request_duration_seconds_bucket`) and the highest 5xx ratios (`*_requests_total`, or a
// duration histogram's `_count` when that is all there is). Each table is a top-k instant query;
// its sparklines come from one range query of the same expression restricted to the rows' labels.

import type { Labels, MatrixSeries, VectorSample } from './api';
import { escapeRegex } from './model';

/** The labels that name an endpoint: a table row, and a sparkline's series. */
export const ENDPOINT_LABELS = ['job', 'handler'] as const;

/** How many rows a table shows. */
export const TOP = 10;

const BY = `by (${ENDPOINT_LABELS.join(', ')})`;

/** `, a="x", …` to add to a selector's matchers ('' for none). */
function extra(matchers: string): string {
  return matchers ? `,${matchers}` : '';
}

/** The p95 latency per endpoint, over the series that also match `matchers` (`job=~"api"`). */
export function slowestExpr(matchers = ''): string {
  const buckets = `{__name__=~".+_request_duration_seconds_bucket"${extra(matchers)}}`;
  return `histogram_quantile(0.95, sum by (le, ${ENDPOINT_LABELS.join(', ')}) (rate(${buckets}[5m])))`;
}

/**
 * The 5xx ratio of one counter family per endpoint: the status code in `code` or in `status`
 * (a series with both counts once, `or` keeps one of equal label sets).
 */
function ratioOf(name: string, matchers: string): string {
  const sel = (m: string) => `{__name__=~"${name}"${m}${extra(matchers)}}`;
  const errors = `sum ${BY} (rate(${sel(',code=~"5.."')}[5m]) or rate(${sel(',status=~"5.."')}[5m]))`;
  return `${errors} / sum ${BY} (rate(${sel('')}[5m]))`;
}

/**
 * The share of 5xx responses per endpoint, from `*_requests_total`; endpoints without one fall
 * back to a duration histogram's `_count` when it has a code (or status) label.
 */
export function errorRatioExpr(matchers = ''): string {
  return `${ratioOf('.+_requests_total', matchers)} or ${ratioOf('.+_request_duration_seconds_count', matchers)}`;
}

/** The table's instant query: the `TOP` highest endpoints. */
export function topExpr(expr: string, k = TOP): string {
  return `topk(${k}, ${expr})`;
}

export const SLOWEST_EXPR = topExpr(slowestExpr());
export const ERRORS_EXPR = topExpr(errorRatioExpr());

export interface Row {
  labels: Labels;
  value: number;
}

/** The rows of a table: finite values (NaN from an empty histogram is left out), highest first. */
export function topRows(samples: VectorSample[], k = TOP): Row[] {
  return samples
    .map((s) => ({ labels: s.metric ?? {}, value: parseFloat(s.value?.[1]) }))
    .filter((r) => Number.isFinite(r.value))
    .sort((a, b) => b.value - a.value)
    .slice(0, k);
}

/**
 * Matchers that select every row's series: per label the alternatives of its values (regex-escaped,
 * in a PromQL string; a row without the label adds the empty alternative, which matches a missing
 * label), e.g. `job=~"api|web",handler=~"/a|/b\\.c"`. Being one matcher per label it may select more
 * than the rows (other combinations of the values); `matchRows` picks the rows' series out.
 */
export function rowMatchers(rows: Labels[], names: readonly string[] = ENDPOINT_LABELS): string {
  if (rows.length === 0) return '';
  return names
    .map((n) => {
      const values = [...new Set(rows.map((r) => r[n] ?? ''))].sort();
      return `${n}=~${JSON.stringify(values.map(escapeRegex).join('|'))}`;
    })
    .join(',');
}

/** A label set reduced to `names` as a key (a missing label counts as empty, as in PromQL). */
export function rowKey(labels: Labels, names: readonly string[] = ENDPOINT_LABELS): string {
  return JSON.stringify(names.map((n) => labels[n] ?? ''));
}

/** Per row, the series with the same values of `names` (the first such), or null. */
export function matchRows(rows: Labels[], series: MatrixSeries[], names: readonly string[] = ENDPOINT_LABELS): Array<MatrixSeries | null> {
  const byKey = new Map<string, MatrixSeries>();
  for (const s of series) {
    const k = rowKey(s.metric ?? {}, names);
    if (!byKey.has(k)) byKey.set(k, s);
  }
  return rows.map((r) => byKey.get(rowKey(r, names)) ?? null);
}
