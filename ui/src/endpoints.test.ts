import { describe, expect, it } from 'vitest';
import type { Labels, MatrixSeries } from './api';
import { ERRORS_EXPR, errorRatioExpr, matchRows, rowKey, rowMatchers, SLOWEST_EXPR, slowestExpr, topExpr, topRows } from './endpoints';

describe('endpoint table queries', () => {
  it('slowest: p95 per job and handler from any *_request_duration_seconds histogram', () => {
    expect(SLOWEST_EXPR).toBe(
      'topk(10, histogram_quantile(0.95, sum by (le, job, handler) (rate({__name__=~".+_request_duration_seconds_bucket"}[5m]))))',
    );
    expect(slowestExpr('job=~"api"')).toBe(
      'histogram_quantile(0.95, sum by (le, job, handler) (rate({__name__=~".+_request_duration_seconds_bucket",job=~"api"}[5m])))',
    );
  });

  it('errors: 5xx by code or status over all requests, *_requests_total first, else a histogram count', () => {
    const ratio = (name: string, m: string) =>
      `sum by (job, handler) (rate({__name__=~"${name}",code=~"5.."${m}}[5m]) or rate({__name__=~"${name}",status=~"5.."${m}}[5m])) / ` +
      `sum by (job, handler) (rate({__name__=~"${name}"${m}}[5m]))`;
    expect(errorRatioExpr()).toBe(`${ratio('.+_requests_total', '')} or ${ratio('.+_request_duration_seconds_count', '')}`);
    expect(ERRORS_EXPR).toBe(`topk(10, ${errorRatioExpr()})`);
    // The matchers go into every selector.
    const e = errorRatioExpr('job=~"api"');
    expect(e.match(/\{[^}]*\}/g)!.length).toBe(6);
    expect(e.match(/,job=~"api"\}/g)!.length).toBe(6);
    expect(topExpr('x', 3)).toBe('topk(3, x)');
  });
});

describe('endpoint rows', () => {
  it('topRows: finite values only, highest first, at most k', () => {
    const s = (handler: string, v: string) => ({ metric: { job: 'api', handler }, value: [1, v] as [number, string] });
    const rows = topRows([s('/a', '0.1'), s('/b', 'NaN'), s('/c', '2'), s('/d', '+Inf'), s('/e', '0.5')]);
    expect(rows.map((r) => [r.labels.handler, r.value])).toEqual([
      ['/c', 2],
      ['/e', 0.5],
      ['/a', 0.1],
    ]);
    expect(topRows([s('/a', '1'), s('/b', '3'), s('/c', '2')], 2).map((r) => r.labels.handler)).toEqual(['/b', '/c']);
    expect(topRows([])).toEqual([]);
  });

  it('rowMatchers: one regex matcher per label, values escaped and deduplicated', () => {
    expect(rowMatchers([])).toBe('');
    expect(
      rowMatchers([
        { job: 'web', handler: '/b' },
        { job: 'api', handler: '/a' },
        { job: 'api', handler: '/b' },
      ]),
    ).toBe('job=~"api|web",handler=~"/a|/b"');
    // Regex metacharacters are escaped, then the regex is quoted as a PromQL string.
    expect(rowMatchers([{ job: 'a.b', handler: '/x?(y)|z' }])).toBe(String.raw`job=~"a\\.b",handler=~"/x\\?\\(y\\)\\|z"`);
    expect(rowMatchers([{ job: 'q"uote', handler: 'back\\slash' }])).toBe(String.raw`job=~"q\"uote",handler=~"back\\\\slash"`);
    // A row without the label adds the empty alternative (which matches a missing label).
    expect(rowMatchers([{ job: 'api' }, { job: 'web', handler: '/w' }])).toBe('job=~"api|web",handler=~"|/w"');
    expect(rowMatchers([{ a: '1' }], ['a'])).toBe('a=~"1"');
  });

  it('the escaped regex, unquoted, matches exactly the values it was built from', () => {
    const values = ['/a.b', '/x?(y)|z', 'back\\slash', '[1-2]{3}^$+*'];
    const m = rowMatchers(values.map((handler) => ({ job: 'j', handler })));
    const quoted = /handler=~(".*")$/.exec(m)![1];
    const re = new RegExp(`^(?:${JSON.parse(quoted) as string})$`);
    for (const v of values) expect(re.test(v), v).toBe(true);
    for (const v of ['/aXb', '/x', 'z', 'backslash', '11222']) expect(re.test(v), v).toBe(false);
  });

  it('matchRows: a series per row by job and handler (extra series ignored, missing ones null)', () => {
    const ms = (metric: Record<string, string>, n: number): MatrixSeries => ({ metric, values: Array.from({ length: n }, (_, i) => [i, '1']) });
    const series = [ms({ job: 'api', handler: '/b' }, 2), ms({ job: 'web', handler: '/a' }, 3), ms({ handler: '/a', job: 'api' }, 4), ms({ job: 'api' }, 5)];
    const rows: Labels[] = [{ job: 'api', handler: '/a' }, { job: 'api', handler: '/c' }, { job: 'api', handler: '/b' }, { job: 'api' }];
    expect(matchRows(rows, series).map((s) => s?.values.length ?? null)).toEqual([4, null, 2, 5]);
    expect(matchRows(rows, []).every((s) => s === null)).toBe(true);
    // A missing label and an empty one are the same, as in PromQL.
    expect(rowKey({ job: 'api', handler: '' })).toBe(rowKey({ job: 'api' }));
    expect(rowKey({ job: 'a', handler: 'b', code: '500' })).toBe(rowKey({ handler: 'b', job: 'a' }));
    expect(rowKey({ job: 'a|b' })).not.toBe(rowKey({ job: 'a', handler: 'b' }));
  });
});
