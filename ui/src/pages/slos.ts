// `/slos`: service level objectives with their error budget, and a burn-rate chart.

import * as api from '../api';
import { Chart } from '../chart';
import { badge, h, isAbort, labelChips, noData, replace } from '../dom';
import { formatValue } from '../format';
import { burnRateQuery, normalizeSlos, type Slo } from '../model';
import { REFRESH_MS, type Page } from '../page';
import { parseDuration, autoStep } from '../time';
import { bar, errorBox, exploreHref, pageHeader, rangePicker } from '../widgets';

function burnKind(v: number | null): string {
  if (v === null) return 'muted';
  return v >= 14.4 ? 'bad' : v >= 1 ? 'warn' : 'good';
}

export const slosPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const params = new URLSearchParams(ctx.url.search);
  let selected = params.get('slo') ?? '';
  let range = parseDuration(params.get('range')) !== null ? params.get('range')! : '1d';
  let slos: Slo[] = [];

  const tableEl = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const chart = new Chart({ unit: '' });
  scope.add(() => chart.destroy());
  const chartTitle = h('h2');
  const chartNote = h('div', { class: 'muted small' });
  const chartPanel = h(
    'section',
    { class: 'panel', 'data-testid': 'slo-burn', hidden: true },
    h('div', { class: 'panel-head' }, chartTitle, rangePicker(range, (v) => {
      range = v;
      syncUrl();
      void drawChart();
    }, 'slo-range')),
    chart.el,
    chartNote,
  );
  replace(root, pageHeader('SLOs'), tableEl, chartPanel);

  const syncUrl = () => {
    const q = new URLSearchParams();
    if (selected) q.set('slo', selected);
    if (range !== '1d') q.set('range', range);
    const s = q.toString();
    ctx.setUrl(`/slos${s ? `?${s}` : ''}`, true);
  };

  function renderTable(): void {
    if (slos.length === 0) {
      replace(tableEl, h('p', { class: 'muted', 'data-testid': 'no-slos' }, 'No SLOs are configured (see `slos:` in the configuration).'));
      return;
    }
    const windows = [...new Set(slos.flatMap((s) => Object.keys(s.burnRate)))].sort(
      (a, b) => (parseDuration(a) ?? 0) - (parseDuration(b) ?? 0),
    );
    replace(
      tableEl,
      h(
        'table',
        { class: 'table', 'data-testid': 'slo-table' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', null, 'SLO'),
            h('th', { class: 'num' }, 'objective'),
            h('th', null, 'window'),
            h('th', null, 'error budget left'),
            windows.map((w) => h('th', { class: 'num', title: `burn rate over ${w}` }, `burn ${w}`)),
          ),
        ),
        h(
          'tbody',
          null,
          slos.map((s) => {
            const rem = s.budgetRemaining;
            return h(
              'tr',
              {
                class: `clickable${s.name === selected ? ' selected' : ''}`,
                'data-testid': 'slo-row',
                onclick: () => {
                  selected = s.name;
                  syncUrl();
                  renderTable();
                  void drawChart();
                },
              },
              h('td', null, h('strong', null, s.name), ' ', labelChips(s.labels)),
              h('td', { class: 'num' }, s.objective === null ? noData() : formatValue(s.objective, 'percentunit')),
              h('td', null, s.window),
              h(
                'td',
                { 'data-testid': 'slo-budget' },
                rem === null ? noData() : [bar(rem), ' ', h('span', { class: rem > 0.2 ? 'good' : rem > 0 ? 'warn' : 'bad' }, formatValue(rem, 'percentunit'))],
                rem !== null && rem <= 0 ? [' ', badge('exhausted', 'bad')] : null,
              ),
              windows.map((w) => {
                const v = s.burnRate[w] ?? null;
                return h('td', { class: `num ${burnKind(v)}` }, v === null ? '–' : `${v.toFixed(2)}×`);
              }),
            );
          }),
        ),
      ),
      h('p', { class: 'muted small' }, 'Burn rate: how fast the error budget is used (1× uses it up exactly over the window). Click an SLO for its chart.'),
    );
  }

  async function drawChart(): Promise<void> {
    const s = slos.find((x) => x.name === selected);
    if (!s) {
      chartPanel.hidden = true;
      return;
    }
    chartPanel.hidden = false;
    replace(chartTitle, `Burn rate — ${s.name}`);
    const expr = burnRateQuery(s);
    if (!expr) {
      chart.message('no data: this SLO has no error budget');
      replace(chartNote);
      return;
    }
    replace(chartNote, h('a', { href: exploreHref(expr, range) }, 'open in Explore'));
    const secs = parseDuration(range) ?? 86400;
    const end = Math.floor(Date.now() / 1000);
    try {
      const m = await api.queryMatrix(expr, end - secs, end, autoStep(secs), scope.signal);
      // Order the windows short to long, for a stable legend.
      m.sort((a, b) => (parseDuration(a.metric.window ?? '') ?? 0) - (parseDuration(b.metric.window ?? '') ?? 0));
      chart.setMatrix(m, { start: end - secs, end });
      if (m.length === 0) chart.message('no data: the SLO recording rules have not produced series yet');
    } catch (e) {
      if (isAbort(e)) return;
      chart.message(`no data: ${String(e)}`, 'error');
    }
  }

  async function refresh(): Promise<void> {
    try {
      slos = normalizeSlos(await api.slos(scope.signal));
      if (!selected && slos.length > 0) selected = slos[0].name;
      renderTable();
      void drawChart();
    } catch (e) {
      if (isAbort(e)) return;
      replace(tableEl, errorBox(e));
    }
  }
  void refresh();
  scope.every(REFRESH_MS * 3, () => void refresh());
};
