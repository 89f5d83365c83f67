// `/load?run=…&lookback=1d`: load-test runs pushed into vitals (`vitals_load_*` series, one `run`
// label per run), and for a chosen run its latency quantiles and request rate over its span.

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, replace } from '../dom';
import { formatValue } from '../format';
import { deriveRuns, quote, runSpan, type LoadRun } from '../model';
import type { Page } from '../page';
import { formatDuration, formatTime, parseDuration } from '../time';
import { errorBox, exploreHref, pageHeader, rangePicker } from '../widgets';

/** The raw samples of the request counters over the lookback (exact first and last times). */
export const runsExpr = (lookback: string) => `vitals_load_requests_total[${lookback}]`;
export const latencyExpr = (run: string) => `vitals_load_latency_seconds{run=${quote(run)},quantile=~"0.5|0.95|0.99"}`;
export const rateExpr = (run: string) => `rate(vitals_load_requests_total{run=${quote(run)}}[10s])`;

export const loadPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const params = new URLSearchParams(ctx.url.search);
  let selected = params.get('run') ?? '';
  let lookback = parseDuration(params.get('lookback')) !== null ? params.get('lookback')! : '1d';
  let runs: LoadRun[] = [];

  const runsEl = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const latency = new Chart({ unit: 'seconds', height: 240 });
  const rate = new Chart({ unit: 'reqps', height: 240 });
  scope.add(() => latency.destroy());
  scope.add(() => rate.destroy());
  const runTitle = h('h2');
  const runInfo = h('div', { class: 'muted small' });
  const runPanel = h(
    'section',
    { class: 'panel', 'data-testid': 'load-run', hidden: true },
    runTitle,
    runInfo,
    h('div', { class: 'dash-grid two' }, h('div', { class: 'dash-panel' }, h('div', { class: 'panel-title' }, 'Latency (p50, p95, p99)'), latency.el), h('div', { class: 'dash-panel' }, h('div', { class: 'panel-title' }, 'Request rate (10 s)'), rate.el)),
  );

  const syncUrl = () => {
    const q = new URLSearchParams();
    if (selected) q.set('run', selected);
    if (lookback !== '1d') q.set('lookback', lookback);
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
                  syncUrl();
                  renderRuns();
                  void showRun();
                },
              },
              h('td', null, h('strong', null, r.run)),
              h('td', null, formatTime(r.start)),
              h('td', { class: 'num' }, formatDuration(Math.max(1, r.end - r.start))),
              h('td', { class: 'num' }, r.requests === null ? '–' : formatValue(r.requests)),
            ),
          ),
        ),
      ),
    );
  }

  async function showRun(): Promise<void> {
    const r = runs.find((x) => x.run === selected);
    if (!r) {
      runPanel.hidden = true;
      return;
    }
    runPanel.hidden = false;
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
    const draw = async (c: Chart, expr: string) => {
      try {
        const m = await api.queryMatrix(expr, start, end, step, scope.signal);
        m.sort((a, b) => parseFloat(a.metric.quantile ?? '0') - parseFloat(b.metric.quantile ?? '0'));
        c.setMatrix(m, { start, end });
      } catch (e) {
        if (isAbort(e)) return;
        c.message(`no data: ${String(e)}`, 'error');
      }
    };
    await Promise.all([draw(latency, latencyExpr(r.run)), draw(rate, rateExpr(r.run))]);
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
    if (!selected && runs.length > 0) selected = runs[0].run;
    renderRuns();
    void showRun();
  }

  void loadRuns();
};
