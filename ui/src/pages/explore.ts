// `/explore?expr=…&range=1h[&step=][&end=][&stacked=1][&tab=table]`: run PromQL, graph or table.

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, replace, select } from '../dom';
import { NameSource, promqlEditor } from '../editor';
import { formatLabels } from '../format';
import type { Page } from '../page';
import {
  autoStep,
  exploreSearch,
  formatDuration,
  formatTime,
  parseDuration,
  parseExploreState,
  parseTime,
  resolveRange,
  type ExploreState,
} from '../time';
import { errorBox, pageHeader, rangePicker } from '../widgets';

const MAX_ROWS = 1000;

/** Rows of the table view for an instant query's result. */
export function tableRows(d: api.QueryData): Array<{ labels: string; value: string }> {
  switch (d?.resultType) {
    case 'vector':
      return d.result.map((s) => ({ labels: formatLabels(s.metric ?? {}), value: s.value?.[1] ?? '' }));
    case 'matrix':
      return d.result.map((s) => ({
        labels: formatLabels(s.metric ?? {}),
        value: (s.values ?? []).map(([t, v]) => `${v} @${t}`).join('\n'),
      }));
    case 'scalar':
      return [{ labels: 'scalar', value: d.result?.[1] ?? '' }];
    case 'string':
      return [{ labels: 'string', value: d.result?.[1] ?? '' }];
    default:
      return [];
  }
}

export const explorePage: Page = (root, ctx) => {
  const { scope } = ctx;
  let state: ExploreState = parseExploreState(ctx.url.search);
  const names = new NameSource(scope.signal);
  const editor = promqlEditor({ value: state.expr, onRun: () => run(true), names });

  const chart = new Chart({ stacked: state.stacked });
  scope.add(() => chart.destroy());

  const errorEl = h('div', { class: 'explore-error-slot' });
  const statsEl = h('div', { class: 'muted small', 'data-testid': 'explore-stats' });
  const resultEl = h('div', { class: 'explore-result' });

  const stepInput = h('input', {
    type: 'text',
    class: 'short',
    'data-testid': 'explore-step',
    'aria-label': 'step',
    value: state.step,
    placeholder: 'auto',
    onchange: () => run(true),
  });
  const endInput = h('input', {
    type: 'text',
    class: 'mid',
    'data-testid': 'explore-end',
    'aria-label': 'end time',
    title: 'end of the range: empty for now, unix seconds or RFC 3339',
    value: state.end === null ? '' : new Date(state.end * 1000).toISOString(),
    placeholder: 'end: now',
    onchange: () => run(true),
  });
  const range = rangePicker(state.range, () => run(true), 'explore-range');
  const stacked = h('input', {
    type: 'checkbox',
    'data-testid': 'explore-stacked',
    checked: state.stacked,
    onchange: () => {
      chart.setOptions({ stacked: stacked.checked });
      run(false);
    },
  });
  const tabGraph = h('button', { class: 'tab', 'data-testid': 'explore-tab-graph', onclick: () => setTab('graph') }, 'Graph');
  const tabTable = h('button', { class: 'tab', 'data-testid': 'explore-tab-table', onclick: () => setTab('table') }, 'Table');
  const runBtn = h('button', { class: 'primary', 'data-testid': 'explore-run', onclick: () => run(true) }, 'Run');

  const metricPicker = h('button', {
    class: 'ghost',
    title: 'insert a metric name',
    onclick: async () => {
      const open = metricPicker.nextElementSibling;
      if (open instanceof HTMLSelectElement) {
        open.remove();
        return;
      }
      const all = await names.get({ type: 'metrics' });
      const sel = select(['', ...all], '', (v) => {
        if (v) {
          editor.setValue(editor.value() + v);
          editor.input.focus();
        }
        sel.remove();
      }, { class: 'metric-select', 'data-testid': 'metric-select' });
      metricPicker.after(sel);
      sel.focus();
    },
  }, 'Metrics ▾');

  replace(
    root,
    pageHeader('Explore'),
    h('div', { class: 'explore-editor' }, editor.el, h('div', { class: 'editor-actions' }, runBtn, metricPicker)),
    errorEl,
    h(
      'div',
      { class: 'toolbar' },
      h('div', { class: 'tabs' }, tabGraph, tabTable),
      h('label', null, 'Range ', range),
      h('label', null, 'Step ', stepInput),
      h('label', null, 'End ', endInput),
      h('label', null, stacked, ' stacked'),
      statsEl,
    ),
    resultEl,
  );

  const setTab = (t: 'graph' | 'table') => {
    if (state.tab === t) return;
    state = { ...state, tab: t };
    run(false);
  };

  let ctl: AbortController | null = null;
  scope.add(() => ctl?.abort());

  const readState = (): ExploreState => {
    const step = stepInput.value.trim();
    const endText = endInput.value.trim();
    const end = endText === '' ? null : parseTime(endText);
    return {
      expr: editor.value().trim(),
      range: range.value,
      step: parseDuration(step) !== null ? step : '',
      end,
      stacked: stacked.checked,
      tab: state.tab,
    };
  };

  const showTabs = () => {
    tabGraph.classList.toggle('active', state.tab === 'graph');
    tabTable.classList.toggle('active', state.tab === 'table');
    const r = parseDuration(state.range) ?? 3600;
    stepInput.placeholder = `auto (${formatDuration(autoStep(r))})`;
  };

  async function run(push: boolean): Promise<void> {
    state = readState();
    showTabs();
    ctx.setUrl(`/explore${exploreSearch(state)}`, !push);
    replace(errorEl);
    ctl?.abort();
    if (!state.expr) {
      replace(resultEl, h('p', { class: 'muted' }, 'Enter a PromQL expression and press Shift+Enter or Run.'));
      replace(statsEl);
      return;
    }
    const my = new AbortController();
    ctl = my;
    const t0 = performance.now();
    runBtn.disabled = true;
    try {
      if (state.tab === 'graph') {
        const { start, end, step } = resolveRange(state);
        if (resultEl.firstChild !== chart.el) replace(resultEl, chart.el);
        const d = await api.queryRange(state.expr, start, end, step, my.signal);
        const m = d?.resultType === 'matrix' ? d.result : [];
        chart.setMatrix(m, { start, end });
        const points = m.reduce((n, s) => n + (s.values?.length ?? 0), 0);
        replace(statsEl, `${m.length} series · ${points} points · step ${formatDuration(step)} · ${Math.round(performance.now() - t0)} ms`);
      } else {
        const { end } = resolveRange(state);
        const d = await api.query(state.expr, state.end === null ? undefined : end, my.signal);
        const rows = tableRows(d);
        replace(
          resultEl,
          h(
            'table',
            { class: 'table result-table', 'data-testid': 'explore-table' },
            h('thead', null, h('tr', null, h('th', null, 'series'), h('th', { class: 'num' }, 'value'))),
            h(
              'tbody',
              null,
              rows.length === 0
                ? h('tr', null, h('td', { colspan: 2, class: 'muted' }, 'empty result'))
                : rows.slice(0, MAX_ROWS).map((r) =>
                    h('tr', { 'data-testid': 'table-row' }, h('td', null, h('code', null, r.labels)), h('td', { class: 'num pre' }, r.value)),
                  ),
            ),
          ),
          rows.length > MAX_ROWS ? h('p', { class: 'muted' }, `showing ${MAX_ROWS} of ${rows.length} rows`) : null,
        );
        replace(statsEl, `${rows.length} result${rows.length === 1 ? '' : 's'} · ${d?.resultType ?? ''} · ${Math.round(performance.now() - t0)} ms`);
      }
    } catch (e) {
      if (isAbort(e)) return;
      replace(errorEl, errorBox(e, 'explore-error'));
      replace(statsEl);
      if (state.tab === 'graph') chart.message('no data', 'error');
    } finally {
      if (ctl === my) runBtn.disabled = false;
    }
  }

  showTabs();
  if (state.expr) void run(false);
  else {
    replace(resultEl, h('p', { class: 'muted' }, 'Enter a PromQL expression and press Shift+Enter or Run.'));
    editor.input.focus();
  }
  // Keep a shown end time readable.
  if (state.end !== null) endInput.title = `${endInput.title} (${formatTime(state.end)})`;
};
