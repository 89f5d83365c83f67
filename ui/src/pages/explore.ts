// `/explore?expr=…&range=1h[&step=][&end=][&stacked=1][&tab=table]`: run PromQL, graph or table.

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, replace, select } from '../dom';
import { NameSource, promqlEditor } from '../editor';
import { formatLabels } from '../format';
import { LiveFeed, liveAvailable, liveResolution } from '../live';
import { REFRESH_MS, type Page } from '../page';
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
  const liveEl = h('span', { class: 'live-state small', 'data-testid': 'explore-live' });
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
      liveEl,
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

  // A graph whose range ends now follows the live stream, or polls every 10 s when live fails.
  let feed: LiveFeed | null = null;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  const stopFollowing = () => {
    feed?.close();
    feed = null;
    chart.setLive(false);
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
    showLive();
  };
  const showLive = () => {
    liveEl.className = `live-state small${feed ? ' on' : ''}`;
    replace(
      liveEl,
      feed
        ? h('span', { title: 'new points are pushed by the server as data arrives' }, '● live')
        : pollTimer !== null
          ? h('span', { class: 'muted', title: 'the live stream failed; it is tried again after a minute' }, 'refresh 10 s')
          : null,
    );
  };
  scope.add(stopFollowing);

  const follow = (st: ExploreState, step: number) => {
    const rangeSecs = parseDuration(st.range) ?? 3600;
    if (!liveAvailable()) {
      poll(st);
      return;
    }
    const f = new LiveFeed([st.expr], {
      onResult: (_i, d, ev) => {
        if (feed !== f || d instanceof api.ApiError) return;
        chart.pushLive(d, ev, rangeSecs, liveResolution(step));
      },
      onError: () => {
        if (feed !== f) return;
        feed = null;
        chart.setLive(false);
        poll(st);
      },
    });
    if (f.closed) {
      poll(st);
      return;
    }
    feed = f;
    chart.setLive(true);
    showLive();
  };

  // Polling: redraws the graph of the state that was run (not what the inputs hold now) and goes
  // back to live once that may be tried again.
  const poll = (st: ExploreState) => {
    if (pollTimer !== null || scope.disposed) return;
    pollTimer = setInterval(() => {
      if (typeof document !== 'undefined' && document.hidden) return;
      ctl?.abort();
      const my = new AbortController();
      ctl = my;
      void graph(st, my.signal, performance.now())
        .then((step) => {
          if (ctl !== my || !liveAvailable()) return;
          if (pollTimer !== null) clearInterval(pollTimer);
          pollTimer = null;
          follow(st, step);
        })
        .catch(() => {
          /* the next tick tries again */
        });
    }, REFRESH_MS);
    showLive();
  };

  /** Runs the graph's range query and draws it; gives the step. */
  async function graph(st: ExploreState, signal: AbortSignal, t0: number): Promise<number> {
    const { start, end, step } = resolveRange(st);
    const d = await api.queryRange(st.expr, start, end, step, signal);
    const m = d?.resultType === 'matrix' ? d.result : [];
    chart.setMatrix(m, { start, end });
    const points = m.reduce((n, s) => n + (s.values?.length ?? 0), 0);
    replace(statsEl, `${m.length} series · ${points} points · step ${formatDuration(step)} · ${Math.round(performance.now() - t0)} ms`);
    return step;
  }

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
    stopFollowing();
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
        if (resultEl.firstChild !== chart.el) replace(resultEl, chart.el);
        const st = state;
        const step = await graph(st, my.signal, t0);
        if (ctl === my && st.end === null && !scope.disposed) follow(st, step);
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
