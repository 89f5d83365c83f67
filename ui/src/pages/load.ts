// `/load?run=…&lookback=1d&baseline=…&server=…`: load-test runs pushed into vitals (`vitals_load_*`
// series, one `run` label per run). For a chosen run: its latency quantiles, beside them a
// server-side metric (any PromQL) over the same time range, its request rate, and a comparison with a
// baseline run (p50 … max and throughput, the baseline's p95 drawn dashed, aligned by time since
// each run's start).

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, replace, select } from '../dom';
import { NameSource, promqlEditor } from '../editor';
import { formatValue } from '../format';
import { alignToRun, compareRuns, formatChange, runStats, type RunStats } from '../loadcompare';
import { deriveRuns, quote, runSpan, type LoadRun } from '../model';
import type { Page } from '../page';
import { formatDuration, formatTime, parseDuration } from '../time';
import { errorBox, exploreHref, pageHeader, rangePicker } from '../widgets';

/** The raw samples of the request counters over the lookback (exact first and last times). */
export const runsExpr = (lookback: string) => `vitals_load_requests_total[${lookback}]`;
export const latencyExpr = (run: string) => `vitals_load_latency_seconds{run=${quote(run)},quantile=~"0.5|0.9|0.95|0.99"}`;
export const rateExpr = (run: string) => `rate(vitals_load_requests_total{run=${quote(run)}}[10s])`;
export const DEFAULT_SERVER_EXPR = 'sum(rate({__name__=~".+_request_duration_seconds_count"}[1m]))';

/** A range selector covering a run's samples (an instant query at its end gives them all, raw). */
export function runWindow(r: LoadRun): string {
  return `${Math.max(1, Math.ceil(r.end - r.start) + 1)}s`;
}

export const loadPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const params = new URLSearchParams(ctx.url.search);
  let selected = params.get('run') ?? '';
  let baseline = params.get('baseline') ?? '';
  let serverExpr = params.get('server') ?? DEFAULT_SERVER_EXPR;
  let lookback = parseDuration(params.get('lookback')) !== null ? params.get('lookback')! : '1d';
  let runs: LoadRun[] = [];
  const stats = new Map<string, Promise<RunStats>>();

  const runsEl = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const latency = new Chart({
    unit: 'seconds',
    height: 240,
    seriesStyle: (l) => (l.baseline !== undefined ? { dash: [6, 4], stroke: '#6b7280', width: 1.5 } : undefined),
  });
  const rate = new Chart({ unit: 'reqps', height: 240 });
  const server = new Chart({ height: 240 });
  for (const c of [latency, rate, server]) scope.add(() => c.destroy());
  const runTitle = h('h2');
  const runInfo = h('div', { class: 'muted small' });
  const baselineSlot = h('label');
  const compareEl = h('div', { 'data-testid': 'load-compare-slot' });
  const latencyTitle = h('div', { class: 'panel-title' }, 'Latency (p50, p90, p95, p99)');
  const serverEditor = promqlEditor({ value: serverExpr, onRun: () => void drawServer(true), names: new NameSource(scope.signal), testid: 'load-server-expr', rows: 2, placeholder: 'a server-side metric (PromQL), drawn over the run’s time range' });
  const serverError = h('div');
  const runPanel = h(
    'section',
    { class: 'panel', 'data-testid': 'load-run', hidden: true },
    h('div', { class: 'panel-head' }, runTitle, h('div', { class: 'controls' }, baselineSlot)),
    runInfo,
    h(
      'div',
      { class: 'dash-grid two load-grid' },
      h('div', { class: 'dash-panel', 'data-testid': 'load-latency' }, latencyTitle, latency.el),
      h(
        'div',
        { class: 'dash-panel', 'data-testid': 'load-server' },
        h('div', { class: 'panel-title' }, 'Server-side metric (same time range)'),
        h('div', { class: 'load-server-editor' }, serverEditor.el, h('button', { type: 'button', class: 'primary small', 'data-testid': 'load-server-run', onclick: () => void drawServer(true) }, 'Run')),
        serverError,
        server.el,
      ),
      h('div', { class: 'dash-panel' }, h('div', { class: 'panel-title' }, 'Request rate (10 s)'), rate.el),
      h('div', { class: 'dash-panel' }, h('div', { class: 'panel-title' }, 'Comparison (median over the run’s seconds; throughput: mean)'), compareEl),
    ),
  );

  const syncUrl = () => {
    const q = new URLSearchParams();
    if (selected) q.set('run', selected);
    if (lookback !== '1d') q.set('lookback', lookback);
    if (baseline) q.set('baseline', baseline);
    if (serverExpr !== DEFAULT_SERVER_EXPR) q.set('server', serverExpr);
    const s = q.toString();
    ctx.setUrl(`/load${s ? `?${s}` : ''}`, true);
  };

  replace(
    root,
    pageHeader('Load tests', h('label', null, 'Runs in the last ', rangePicker(lookback, (v) => {
      lookback = v;
      syncUrl();
      void loadRuns();
    }, 'load-lookback'))),
    h('section', { class: 'panel' }, h('h2', null, 'Runs'), runsEl),
    runPanel,
  );

  function renderRuns(): void {
    if (runs.length === 0) {
      replace(
        runsEl,
        h(
          'p',
          { class: 'muted', 'data-testid': 'no-runs' },
          `No load-test runs in the last ${lookback}. Runs pushed into vitals appear here (series `,
          h('code', null, 'vitals_load_requests_total'),
          ' with a ',
          h('code', null, 'run'),
          ' label).',
        ),
      );
      return;
    }
    replace(
      runsEl,
      h(
        'table',
        { class: 'table', 'data-testid': 'load-runs' },
        h('thead', null, h('tr', null, h('th', null, 'run'), h('th', null, 'started'), h('th', { class: 'num' }, 'duration'), h('th', { class: 'num' }, 'requests'))),
        h(
          'tbody',
          null,
          runs.map((r) =>
            h(
              'tr',
              {
                class: `clickable${r.run === selected ? ' selected' : ''}`,
                'data-testid': 'load-run-row',
                'data-run': r.run,
                onclick: () => {
                  selected = r.run;
                  if (baseline === selected) baseline = '';
                  syncUrl();
                  renderRuns();
                  void showRun();
                },
              },
              h('td', null, h('strong', null, r.run), r.run === baseline ? h('span', { class: 'badge badge-muted', style: { marginLeft: '6px' } }, 'baseline') : null),
              h('td', null, formatTime(r.start)),
              h('td', { class: 'num' }, formatDuration(Math.max(1, r.end - r.start))),
              h('td', { class: 'num' }, r.requests === null ? '–' : formatValue(r.requests)),
            ),
          ),
        ),
      ),
    );
  }

  /** A run's stats from its raw samples (cached for the page's life). */
  function statsOf(r: LoadRun): Promise<RunStats> {
    let p = stats.get(r.run);
    if (!p) {
      const w = runWindow(r);
      const raw = async (expr: string) => {
        const d = await api.query(`${expr}[${w}]`, r.end, scope.signal);
        return d?.resultType === 'matrix' ? d.result : [];
      };
      const sel = (name: string) => `${name}{run=${quote(r.run)}}`;
      p = Promise.all([raw(sel('vitals_load_latency_seconds')), raw(sel('vitals_load_requests_per_second')), raw(sel('vitals_load_requests_total'))]).then(
        ([lat, rps, req]) => runStats(r.run, lat, rps, req),
      );
      p.catch(() => stats.delete(r.run));
      stats.set(r.run, p);
    }
    return p;
  }

  function renderBaselineSelect(): void {
    const others = runs.filter((r) => r.run !== selected);
    replace(
      baselineSlot,
      'Compare with baseline run ',
      select(
        [['', others.length ? 'none' : 'no other run'], ...others.map((r): [string, string] => [r.run, `${r.run} (${formatTime(r.start)})`])],
        baseline,
        (v) => {
          baseline = v;
          syncUrl();
          renderRuns();
          void showRun();
        },
        { 'data-testid': 'load-baseline', 'aria-label': 'baseline run', disabled: others.length === 0 },
      ),
    );
  }

  async function renderCompare(r: LoadRun, b: LoadRun | undefined): Promise<void> {
    replace(compareEl, h('p', { class: 'muted small' }, 'loading…'));
    let cur: RunStats;
    let base: RunStats | null = null;
    try {
      [cur, base] = await Promise.all([statsOf(r), b ? statsOf(b) : Promise.resolve(null)]);
    } catch (e) {
      if (isAbort(e)) return;
      replace(compareEl, errorBox(e, 'load-compare-error'));
      return;
    }
    if (r.run !== selected || (b?.run ?? '') !== baseline) return;
    const rows = compareRuns(cur, base ?? cur);
    replace(
      compareEl,
      h(
        'table',
        { class: 'table compact', 'data-testid': 'load-compare', 'data-run': r.run, 'data-baseline': b?.run ?? '' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', null, ''),
            h('th', { class: 'num', 'data-testid': 'load-compare-run' }, r.run),
            base ? h('th', { class: 'num', 'data-testid': 'load-compare-baseline' }, `${base.run} (baseline)`) : null,
            base ? h('th', { class: 'num' }, 'change') : null,
          ),
        ),
        h(
          'tbody',
          null,
          rows.map((row) =>
            h(
              'tr',
              { 'data-testid': 'load-compare-row', 'data-key': row.key, 'data-verdict': base ? (row.verdict ?? '') : '' },
              h('td', null, row.label),
              h('td', { class: 'num' }, formatValue(row.current, row.unit)),
              base ? h('td', { class: 'num' }, formatValue(row.baseline, row.unit)) : null,
              base
                ? h(
                    'td',
                    { class: `num change ${row.verdict === 'worse' ? 'bad' : row.verdict === 'better' ? 'good' : 'muted'}`, 'data-testid': 'load-compare-change' },
                    formatChange(row.change),
                  )
                : null,
            ),
          ),
        ),
      ),
      base
        ? h('p', { class: 'small muted' }, 'Red: latency more than 5 % higher or throughput more than 5 % lower than the baseline; green: the opposite.')
        : h('p', { class: 'small muted' }, 'Choose a baseline run to compare with.'),
    );
  }

  async function drawServer(fromUser = false): Promise<void> {
    const r = runs.find((x) => x.run === selected);
    if (fromUser) {
      serverExpr = serverEditor.value().trim() || DEFAULT_SERVER_EXPR;
      syncUrl();
    }
    if (!r) return;
    const { start, end } = runSpan(r);
    const step = Math.max(1, Math.round((end - start) / 300));
    replace(serverError);
    try {
      server.setMatrix(await api.queryMatrix(serverExpr, start, end, step, scope.signal), { start, end });
    } catch (e) {
      if (isAbort(e)) return;
      replace(serverError, errorBox(e, 'load-server-error'));
      server.message('no data', 'error');
    }
  }

  async function showRun(): Promise<void> {
    const r = runs.find((x) => x.run === selected);
    if (!r) {
      runPanel.hidden = true;
      return;
    }
    runPanel.hidden = false;
    const b = runs.find((x) => x.run === baseline && x.run !== r.run);
    const { start, end } = runSpan(r);
    const step = Math.max(1, Math.round((end - start) / 300));
    replace(runTitle, `Run ${r.run}`);
    replace(
      runInfo,
      `${formatTime(start)} – ${formatTime(end)} · `,
      h('a', { href: `/explore?${new URLSearchParams({ expr: latencyExpr(r.run), range: formatDuration(end - start), end: String(Math.round(end)) })}` }, 'latency in Explore'),
      ' · ',
      h('a', { href: exploreHref(rateExpr(r.run)) }, 'rate in Explore'),
    );
    replace(latencyTitle, b ? `Latency (p50, p90, p95, p99; ${b.run}'s p95 dashed, aligned by time since start)` : 'Latency (p50, p90, p95, p99)');
    renderBaselineSelect();
    const drawLatency = async () => {
      try {
        const [m, bm] = await Promise.all([
          api.queryMatrix(latencyExpr(r.run), start, end, step, scope.signal),
          b ? api.queryMatrix(`vitals_load_latency_seconds{run=${quote(b.run)},quantile="0.95"}`, b.start - step, b.end + step, step, scope.signal) : Promise.resolve([]),
        ]);
        m.sort((x, y) => parseFloat(x.metric.quantile ?? '0') - parseFloat(y.metric.quantile ?? '0'));
        const overlay = b ? bm.map((s) => alignToRun(s, b.start, r.start, { clip: { start, end }, labels: { baseline: b.run, quantile: '0.95' } })) : [];
        latency.setMatrix([...m, ...overlay.filter((s) => s.values.length > 0)], { start, end });
      } catch (e) {
        if (isAbort(e)) return;
        latency.message(`no data: ${String(e)}`, 'error');
      }
    };
    const drawRate = async () => {
      try {
        rate.setMatrix(await api.queryMatrix(rateExpr(r.run), start, end, step, scope.signal), { start, end });
      } catch (e) {
        if (isAbort(e)) return;
        rate.message(`no data: ${String(e)}`, 'error');
      }
    };
    await Promise.all([drawLatency(), drawRate(), drawServer(), renderCompare(r, b)]);
  }

  async function loadRuns(): Promise<void> {
    try {
      const d = await api.query(runsExpr(lookback), undefined, scope.signal);
      runs = deriveRuns(d?.resultType === 'matrix' ? d.result : []);
    } catch (e) {
      if (isAbort(e)) return;
      replace(runsEl, errorBox(e));
      runs = [];
      runPanel.hidden = true;
      return;
    }
    stats.clear();
    if (!selected && runs.length > 0) selected = runs[0].run;
    renderRuns();
    void showRun();
  }

  void loadRuns();
};
