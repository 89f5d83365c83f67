import { describe, expect, it } from 'vitest';
import type { AmAlert, PromAlert, Silence, Target } from './api';
import {
  burnRateQuery,
  deriveRuns,
  formFromSilence,
  groupTargets,
  mainUptime,
  matcherText,
  matchersFromLabels,
  mergeAlerts,
  normalizeProbes,
  normalizeSlos,
  runSpan,
  silenceBody,
  sortSilences,
} from './model';
import { ALL, DASHBOARDS, pickJob, substitute } from './dashboards';
import { isAppLink, matchRoute } from './router';
import { overall } from './pages/probes';
import { tableRows } from './pages/explore';
import { runsExpr } from './pages/load';

describe('normalizeProbes', () => {
  it('reads vitals /api/v1/probes', () => {
    const data = {
      probes: [
        {
          check: 'web',
          target: 'https://example.org',
          module: 'http_2xx',
          last: { success: false, durationSeconds: 0.12, time: '2024-01-01T00:00:00Z', failure: 'status 503' },
          uptime: { '1h': 50, '24h': 99, '7d': 99.9, '30d': null },
          incidents: [{ start: '2024-01-01T00:00:00Z', end: null, cause: 'status 503' }],
        },
        { check: 'db', target: 'db:5432', module: 'tcp_connect', last: null, uptime: null, incidents: [] },
      ],
    };
    const [a, b] = normalizeProbes(data);
    expect(a).toMatchObject({ name: 'web', target: 'https://example.org', module: 'http_2xx', up: false, lastDuration: 0.12, failure: 'status 503' });
    // vitals gives percentages; they become ratios.
    expect(a.uptime['1h']).toBeCloseTo(0.5);
    expect(a.uptime['24h']).toBeCloseTo(0.99);
    expect(a.uptime['7d']).toBeCloseTo(0.999);
    expect(a.uptime['30d']).toBeNull();
    expect(a.incidents).toEqual([{ start: '2024-01-01T00:00:00Z', end: null, cause: 'status 503' }]);
    expect(mainUptime(a)![0]).toBe('24h');
    expect(b).toMatchObject({ name: 'db', up: null, uptime: {}, incidents: [] });
    expect(mainUptime(b)).toBeNull();
  });

  it('accepts other shapes: a plain list, name/up/uptimeRatio', () => {
    const [p] = normalizeProbes([{ name: 'x', up: 1, uptimeRatio: 0.95 }]);
    expect(p).toMatchObject({ name: 'x', up: true, uptime: { '': 0.95 } });
    expect(normalizeProbes(null)).toEqual([]);
    expect(normalizeProbes({ probes: 'nope' })).toEqual([]);
  });

  it('summarises a status page', () => {
    expect(overall([]).kind).toBe('warn');
    const up = normalizeProbes([{ name: 'a', up: true }, { name: 'b', up: true }]);
    expect(overall(up)).toEqual({ text: 'All systems operational', kind: 'good' });
    const down = normalizeProbes([{ name: 'a', up: true }, { name: 'b', up: false }]);
    expect(overall(down)).toEqual({ text: '1 of 2 checks down', kind: 'bad' });
  });
});

describe('normalizeSlos', () => {
  const data = {
    slos: [
      {
        name: 'api-availability',
        objective: 0.999,
        window: '30d',
        labels: { team: 'x' },
        errorBudget: 0.001,
        errorRatio: { '5m': 0.0002, '1h': null },
        burnRate: { '5m': 0.2, '1h': null },
        errorBudgetRemaining: 0.75,
      },
    ],
  };
  it('reads vitals /api/v1/slos', () => {
    const [s] = normalizeSlos(data);
    expect(s).toMatchObject({ name: 'api-availability', objective: 0.999, window: '30d', errorBudget: 0.001, budgetRemaining: 0.75 });
    expect(s.burnRate).toEqual({ '5m': 0.2, '1h': null });
  });
  it('takes a percentage objective and derives the budget', () => {
    const [s] = normalizeSlos([{ name: 'p', objective: 99 }]);
    expect(s.objective).toBeCloseTo(0.99);
    expect(s.errorBudget).toBeCloseTo(0.01);
    expect(s.budgetRemaining).toBeNull();
  });
  it('builds a burn-rate query from the convention or listed rules', () => {
    const [s] = normalizeSlos(data);
    expect(burnRateQuery(s)).toBe(
      'label_replace({__name__=~"slo:sli_error:ratio_rate.+", slo="api-availability"}, "window", "$1", "__name__", ".*ratio_rate(.+)") / 0.001',
    );
    const [r] = normalizeSlos([{ name: 'q', objective: 0.99, recordingRules: ['a:ratio_rate5m', { record: 'a:ratio_rate1h' }, 'other'] }]);
    expect(burnRateQuery(r)).toContain('{__name__=~"a:ratio_rate5m|a:ratio_rate1h", slo="q"}');
    expect(burnRateQuery(normalizeSlos([{ name: 'n' }])[0])).toBeNull();
  });
});

describe('groupTargets', () => {
  const t = (pool: string, url: string, health: string): Target => ({
    labels: { job: pool },
    scrapePool: pool,
    scrapeUrl: url,
    health,
    lastError: '',
    lastScrape: '',
    lastScrapeDuration: 0,
  });
  it('groups by pool, sorted, counting up targets', () => {
    const g = groupTargets([t('node', 'http://b', 'up'), t('api', 'http://z', 'down'), t('node', 'http://a', 'down'), t('api', 'http://y', 'up')]);
    expect(g.map((x) => x.pool)).toEqual(['api', 'node']);
    expect(g[1].targets.map((x) => x.scrapeUrl)).toEqual(['http://a', 'http://b']);
    expect(g.map((x) => x.up)).toEqual([1, 1]);
  });
});

describe('alerts and silences', () => {
  const prom: PromAlert[] = [
    { labels: { alertname: 'B', job: 'x' }, annotations: { summary: 's' }, state: 'pending', activeAt: '2024-01-01T00:00:00Z', value: '1' },
    { labels: { alertname: 'A', job: 'x' }, annotations: {}, state: 'firing', activeAt: '2024-01-01T00:00:00Z', value: '2' },
    { labels: { alertname: 'C' }, annotations: {}, state: 'inactive' },
  ];
  const am: AmAlert[] = [
    { labels: { alertname: 'A', job: 'x', extra: 'e' }, annotations: {}, startsAt: '', fingerprint: 'f1', status: { state: 'suppressed', silencedBy: ['s1'] } },
    { labels: { alertname: 'External' }, annotations: {}, startsAt: '2024-01-02T00:00:00Z', fingerprint: 'f2', status: { state: 'active', silencedBy: [] } },
  ];
  it('merges silenced state, adds Alertmanager-only alerts, orders firing first', () => {
    const m = mergeAlerts(prom, am);
    expect(m.map((a) => [a.labels.alertname, a.state, a.silencedBy])).toEqual([
      ['A', 'firing', ['s1']],
      ['External', 'firing', []],
      ['B', 'pending', []],
    ]);
    expect(m[0].fingerprint).toBe('f1');
  });
  it('works without Alertmanager alerts', () => {
    expect(mergeAlerts(prom, []).map((a) => a.silencedBy.length)).toEqual([0, 0]);
  });

  it('makes matchers from labels, alertname first', () => {
    expect(matchersFromLabels({ job: 'x', alertname: 'A', instance: 'i' })).toEqual([
      { name: 'alertname', value: 'A', isRegex: false, isEqual: true },
      { name: 'instance', value: 'i', isRegex: false, isEqual: true },
      { name: 'job', value: 'x', isRegex: false, isEqual: true },
    ]);
  });

  it('prints matchers', () => {
    expect(matcherText({ name: 'a', value: 'b', isRegex: false, isEqual: true })).toBe('a="b"');
    expect(matcherText({ name: 'a', value: 'b', isRegex: false })).toBe('a="b"');
    expect(matcherText({ name: 'a', value: 'b.*', isRegex: true, isEqual: true })).toBe('a=~"b.*"');
    expect(matcherText({ name: 'a', value: 'b', isRegex: false, isEqual: false })).toBe('a!="b"');
    expect(matcherText({ name: 'a', value: 'b', isRegex: true, isEqual: false })).toBe('a!~"b"');
  });

  it('builds a silence body: 2h from the start', () => {
    const start = Date.UTC(2024, 0, 1, 10, 0, 0);
    const b = silenceBody({ matchers: matchersFromLabels({ alertname: 'A' }), startsAt: start, duration: '2h', createdBy: ' me ', comment: 'deploy' });
    expect(b).toEqual({
      matchers: [{ name: 'alertname', value: 'A', isRegex: false, isEqual: true }],
      startsAt: '2024-01-01T10:00:00.000Z',
      endsAt: '2024-01-01T12:00:00.000Z',
      createdBy: 'me',
      comment: 'deploy',
    });
    expect(silenceBody({ id: 'x', matchers: [{ name: 'a', value: '', isRegex: false }], startsAt: start, duration: '30m', createdBy: 'me', comment: 'c' })).toMatchObject({
      id: 'x',
      endsAt: '2024-01-01T10:30:00.000Z',
    });
  });

  it('rejects incomplete silences', () => {
    const ok = { matchers: [{ name: 'a', value: 'b', isRegex: false }], startsAt: 0, duration: '2h', createdBy: 'me', comment: 'c' };
    expect(() => silenceBody({ ...ok, matchers: [{ name: ' ', value: 'b', isRegex: false }] })).toThrow(/matcher/);
    expect(() => silenceBody({ ...ok, duration: 'soon' })).toThrow(/duration/);
    expect(() => silenceBody({ ...ok, createdBy: '' })).toThrow(/created by/);
    expect(() => silenceBody({ ...ok, comment: ' ' })).toThrow(/comment/);
    expect(() => silenceBody({ ...ok, matchers: [{ name: 'a', value: '(', isRegex: true }] })).toThrow(/regular expression/);
  });

  const sil = (id: string, state: string, startsAt: string, endsAt: string): Silence => ({
    id,
    matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }],
    startsAt,
    endsAt,
    createdBy: 'me',
    comment: 'c',
    status: { state },
  });

  it('edits an active silence in place, recreates an expired one', () => {
    const now = Date.UTC(2024, 0, 1, 11, 0, 0);
    const f = formFromSilence(sil('s1', 'active', '2024-01-01T10:00:00Z', '2024-01-01T12:00:00Z'), now);
    expect(f).toMatchObject({ id: 's1', startsAt: Date.UTC(2024, 0, 1, 10), duration: '2h', createdBy: 'me', comment: 'c' });
    const body = silenceBody(f);
    expect(body.endsAt).toBe('2024-01-01T12:00:00.000Z');
    const e = formFromSilence(sil('s2', 'expired', '2024-01-01T09:00:00Z', '2024-01-01T09:45:00Z'), now);
    expect(e.id).toBeUndefined();
    expect(e).toMatchObject({ startsAt: now, duration: '45m' });
  });

  it('sorts silences active, pending, expired', () => {
    const list = sortSilences([
      sil('e', 'expired', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z'),
      sil('p', 'pending', '2024-01-03T00:00:00Z', '2024-01-03T01:00:00Z'),
      sil('a1', 'active', '2024-01-01T00:00:00Z', '2024-01-02T01:00:00Z'),
      sil('a2', 'active', '2024-01-01T00:00:00Z', '2024-01-02T05:00:00Z'),
    ]);
    expect(list.map((s) => s.id)).toEqual(['a2', 'a1', 'p', 'e']);
  });
});

describe('load-test runs', () => {
  it('derives runs from raw samples, latest first, adding up series of one run', () => {
    const runs = deriveRuns([
      { metric: { __name__: 'vitals_load_requests_total', run: 'r1' }, values: [[100, '10'], [110, '50']] },
      { metric: { __name__: 'vitals_load_requests_total', run: 'r2', status: '200' }, values: [[200, '5'], [230, '900']] },
      { metric: { __name__: 'vitals_load_requests_total', run: 'r2', status: '500' }, values: [[205, '1'], [235, '10']] },
      { metric: {}, values: [[1, '1']] },
      { metric: { run: 'empty' }, values: [] },
    ]);
    expect(runs).toEqual([
      { run: 'r2', start: 200, end: 235, requests: 910 },
      { run: 'r1', start: 100, end: 110, requests: 50 },
    ]);
  });
  it('pads a run span by 5 %, at least 10 s', () => {
    expect(runSpan({ run: 'a', start: 1000, end: 2000, requests: 1 })).toEqual({ start: 950, end: 2050 });
    expect(runSpan({ run: 'a', start: 1000, end: 1010, requests: 1 })).toEqual({ start: 990, end: 1020 });
  });
});

describe('dashboards', () => {
  it('substitutes $job as an escaped regex, All as .+', () => {
    expect(substitute('up{job=~"$job"}', { job: 'node' })).toBe('up{job=~"node"}');
    expect(substitute('up{job=~"${job}"}', { job: ALL })).toBe('up{job=~".+"}');
    expect(substitute('up{job=~"$job"}', { job: 'a.b' })).toBe('up{job=~"a\\\\.b"}');
    expect(substitute('label_replace(x, "d", "$1", "s", "(.*)")', { job: 'n' })).toBe('label_replace(x, "d", "$1", "s", "(.*)")');
  });
  it('picks the asked job, else the default, else the first', () => {
    expect(pickJob(['a', 'node'], 'a', 'node')).toBe('a');
    expect(pickJob(['a', 'node'], 'zzz', 'node')).toBe('node');
    expect(pickJob(['a', 'b'], null, 'node')).toBe('a');
    expect(pickJob([], null, 'node')).toBe(ALL);
    expect(pickJob(['a'], ALL, 'node')).toBe(ALL);
  });
  it('defines Host and API dashboards whose panels all use $job', () => {
    expect(DASHBOARDS.map((d) => d.id)).toEqual(['host', 'api']);
    for (const d of DASHBOARDS) {
      expect(d.panels.some((p) => p.type === 'stat')).toBe(true);
      expect(d.panels.some((p) => p.type === 'timeseries')).toBe(true);
      for (const p of d.panels) {
        expect(p.expr).toContain('$job');
        expect(substitute(p.expr, { job: 'x' })).not.toContain('$job');
        // Balanced parentheses and braces.
        for (const [o, c] of [['(', ')'], ['{', '}'], ['[', ']']]) {
          expect(p.expr.split(o).length, `${p.title} ${o}`).toBe(p.expr.split(c).length);
        }
      }
    }
  });
});

describe('router', () => {
  it('maps paths to pages', () => {
    expect(matchRoute('/')).toEqual({ page: 'overview', nav: true });
    expect(matchRoute('/explore')).toEqual({ page: 'explore', nav: true });
    expect(matchRoute('/explore/')).toEqual({ page: 'explore', nav: true });
    expect(matchRoute('/status')).toEqual({ page: 'status', nav: false });
    expect(matchRoute('/load')).toEqual({ page: 'load', nav: true });
    expect(matchRoute('/nope')).toEqual({ page: 'notfound', nav: true });
  });
  it('handles only app links', () => {
    const o = 'http://h:9797';
    expect(isAppLink('/explore?expr=up', o)).toBe(true);
    expect(isAppLink('http://h:9797/alerts', o)).toBe(true);
    expect(isAppLink('http://other/alerts', o)).toBe(false);
    expect(isAppLink('/api/v1/query', o)).toBe(false);
    expect(isAppLink('/metrics', o)).toBe(false);
    expect(isAppLink('/-/healthy', o)).toBe(false);
  });
});

describe('load page queries', () => {
  it('lists runs from raw samples over the lookback', () => {
    expect(runsExpr('1d')).toBe('vitals_load_requests_total[1d]');
  });
});

describe('explore table rows', () => {
  it('renders every result type', () => {
    expect(tableRows({ resultType: 'vector', result: [{ metric: { __name__: 'up', job: 'a' }, value: [1, '1'] }] })).toEqual([{ labels: 'up{job="a"}', value: '1' }]);
    expect(tableRows({ resultType: 'scalar', result: [1, '3'] })).toEqual([{ labels: 'scalar', value: '3' }]);
    expect(tableRows({ resultType: 'string', result: [1, 'hi'] })).toEqual([{ labels: 'string', value: 'hi' }]);
    expect(tableRows({ resultType: 'matrix', result: [{ metric: {}, values: [[1, '2'], [2, '3']] }] })).toEqual([{ labels: '{}', value: '2 @1\n3 @2' }]);
  });
});
