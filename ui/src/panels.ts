// Dashboard panels: one view per panel type. `timeseries` and `heatmap` draw a range query;
// `stat`, `gauge`, `bar` and `table` an instant query (and redraw from the live stream's pushes).
// Every panel is a `<section data-testid="panel" data-panel-type=… data-type=… data-title=…>`.

import * as api from './api';
import { Chart, color } from './chart';
import { h, isAbort, noData, replace } from './dom';
import { PANEL_TYPES, panelSpan, substitute, type PanelSpec } from './dashboards';
import { formatLabels, formatValue } from './format';
import { gaugeFraction, gaugeScale, gaugeSvg, thresholdColor } from './gauge';
import { appendHeatmapLive, Heatmap, type HeatmapGrid } from './heatmap';
import { instantSamples, liveResolution, type LiveEvent } from './live';
import { autoStep } from './time';
import { exploreHref } from './widgets';

export interface PanelView {
  spec: PanelSpec;
  el: HTMLElement;
  /** Whether the live stream keeps the panel current. */
  live: boolean;
  /** Queries again with the variables' values over the last `rangeSecs`. */
  refresh(vars: Record<string, string>, rangeSecs: number): Promise<void>;
  /** A pushed instant answer of the panel's expression. */
  push(d: api.QueryData, ev: LiveEvent, rangeSecs: number): void;
  setLive(on: boolean): void;
  destroy(): void;
}

export interface PanelContext {
  signal: AbortSignal;
  /** The range picker's text, for the link to Explore. */
  range: () => string;
  /** Given in edit mode: the panel gets a quick-edit button that calls it. */
  onEdit?: () => void;
}

type Sample = { metric: api.Labels; value: api.SamplePair };

const num = (s: Sample): number | null => {
  const x = parseFloat(s.value?.[1]);
  return Number.isFinite(x) ? x : null;
};

/** A table panel's model: the label columns (`__name__` first, as "name"), a row per series. */
export function tableModel(samples: Sample[]): { columns: string[]; rows: Array<{ labels: api.Labels; value: number | null }> } {
  const names = new Set<string>();
  for (const s of samples) for (const k of Object.keys(s.metric ?? {})) names.add(k);
  const hasName = names.delete('__name__');
  const columns = [...(hasName ? ['__name__'] : []), ...[...names].sort()];
  return { columns, rows: samples.map((s) => ({ labels: s.metric ?? {}, value: num(s) })) };
}

export interface BarRow {
  name: string;
  value: number | null;
  /** Length of the bar, 0..1 of the scale. */
  fraction: number;
  color: string;
}

/** A bar panel's bars: one per series, scaled to the panel's (or a round) maximum, coloured by thresholds. */
export function barRows(samples: Sample[], p: Pick<PanelSpec, 'unit' | 'min' | 'max' | 'thresholds'>): { rows: BarRow[]; min: number; max: number } {
  const values = samples.map(num);
  const { min, max } = gaugeScale(values, { unit: p.unit, min: p.min, max: p.max, thresholds: p.thresholds });
  const rows = samples.map((s, i) => ({
    name: formatLabels(s.metric ?? {}),
    value: values[i],
    fraction: gaugeFraction(values[i], min, max),
    color: thresholdColor(values[i], p.thresholds, color(i)),
  }));
  return { rows, min, max };
}

/** Draws an instant answer in a stat, gauge, bar or table panel (each says "no data" for none). */
function renderInstant(spec: PanelSpec, body: HTMLElement, samples: Sample[]): void {
  const unit = spec.unit ?? '';
  if (spec.type !== 'stat') body.dataset.series = String(samples.length);
  if (spec.type === 'bar') body.dataset.points = String(samples.length ? 1 : 0);
  if (samples.length === 0) {
    replace(body, noData());
    return;
  }
  switch (spec.type) {
    case 'stat': {
      const v = num(samples[0]);
      if (v === null) {
        replace(body, noData());
        return;
      }
      body.style.color = spec.thresholds?.length ? thresholdColor(v, spec.thresholds) : '';
      replace(body, formatValue(v, unit, spec.decimals));
      return;
    }
    case 'gauge': {
      const values = samples.map(num);
      const { min, max } = gaugeScale(values, { unit, min: spec.min, max: spec.max, thresholds: spec.thresholds });
      const shown = samples.slice(0, 12);
      replace(
        body,
        shown.map((s, i) =>
          h(
            'figure',
            { class: 'gauge-item' },
            gaugeSvg(values[i], { unit, min, max, thresholds: spec.thresholds, decimals: spec.decimals, name: formatLabels(s.metric ?? {}) }),
            samples.length > 1 ? h('figcaption', { class: 'small muted' }, formatLabels(s.metric ?? {})) : null,
          ),
        ),
        samples.length > shown.length ? h('div', { class: 'small muted' }, `and ${samples.length - shown.length} more`) : null,
      );
      return;
    }
    case 'bar': {
      const { rows } = barRows(samples, spec);
      replace(
        body,
        rows.map((r) =>
          h(
            'div',
            { class: 'bar-row', 'data-testid': 'bar-row', title: r.name },
            h('span', { class: 'bar-name' }, r.name),
            h('span', { class: 'bar-track' }, h('span', { class: 'bar-value-fill', style: { width: `${(r.fraction * 100).toFixed(1)}%`, background: r.color } })),
            h('span', { class: 'bar-num' }, formatValue(r.value, unit, spec.decimals)),
          ),
        ),
      );
      return;
    }
    case 'table': {
      const m = tableModel(samples);
      replace(
        body,
        h(
          'table',
          { class: 'table compact' },
          h('thead', null, h('tr', null, m.columns.map((c) => h('th', null, c === '__name__' ? 'name' : c)), h('th', { class: 'num' }, 'value'))),
          h(
            'tbody',
            null,
            m.rows.map((r) =>
              h(
                'tr',
                { 'data-testid': 'table-row' },
                m.columns.map((c) => h('td', null, r.labels[c] ?? '')),
                h('td', { class: 'num', style: spec.thresholds?.length ? { color: thresholdColor(r.value, spec.thresholds) } : undefined }, formatValue(r.value, unit, spec.decimals)),
              ),
            ),
          ),
        ),
      );
      return;
    }
    default:
      return;
  }
}

/** What a range query is drawn in: a `Chart` or a `Heatmap`. */
interface RangeView {
  setMatrix(matrix: api.MatrixSeries[], range: { start: number; end: number; step: number }): void;
  message(text: string, kind: 'error'): void;
}

/** A panel of any type (an unknown type shows an error in the panel). */
export function makePanel(spec: PanelSpec, ctx: PanelContext): PanelView {
  const type = (PANEL_TYPES as readonly string[]).includes(spec.type) ? spec.type : null;
  const link = h('a', { class: 'panel-link small', title: 'open in Explore' }, '↗');
  const edit = ctx.onEdit
    ? h('button', { class: 'ghost small', type: 'button', 'data-testid': 'panel-edit', title: 'edit title, type and expression', onclick: ctx.onEdit }, '✎')
    : null;
  const title = h('div', { class: 'panel-title' }, h('span', { class: 'panel-name' }, String(spec.title ?? '')), h('span', { class: 'panel-actions' }, edit, link));
  const el = h('section', {
    class: `dash-panel panel-${type ?? 'unknown'} span-${panelSpan({ type: type ?? 'timeseries', wide: spec.wide })}`,
    'data-testid': 'panel',
    'data-title': spec.title,
    'data-type': spec.type,
    'data-panel-type': spec.type,
  });
  const setLink = (expr: string) => link.setAttribute('href', exploreHref(expr, ctx.range()));
  /** A timeseries' or heatmap's refresh: the range query over the last `rangeSecs`, or its error. */
  const refreshRange =
    (view: RangeView) =>
    async (vars: Record<string, string>, rangeSecs: number): Promise<void> => {
      const expr = substitute(spec.expr, vars);
      setLink(expr);
      const end = Math.floor(Date.now() / 1000);
      const step = autoStep(rangeSecs);
      try {
        view.setMatrix(await api.queryMatrix(expr, end - rangeSecs, end, step, ctx.signal), { start: end - rangeSecs, end, step });
      } catch (e) {
        if (isAbort(e)) return;
        view.message(`no data: ${String(e)}`, 'error');
      }
    };
  const liveAttr = (on: boolean) => {
    if (on) el.dataset.live = '1';
    else delete el.dataset.live;
  };

  if (type === null) {
    replace(el, title, h('div', { class: 'error', 'data-testid': 'panel-error' }, `unknown panel type ${JSON.stringify(spec.type)} (one of ${PANEL_TYPES.join(', ')})`));
    return { spec, el, live: false, refresh: async () => {}, push: () => {}, setLive: () => {}, destroy: () => {} };
  }

  if (type === 'timeseries') {
    const chart = new Chart({ unit: spec.unit, stacked: spec.stacked, height: 220, legend: spec.legend, min: spec.min, max: spec.max, decimals: spec.decimals });
    replace(el, title, chart.el);
    return {
      spec,
      el,
      live: true,
      refresh: refreshRange(chart),
      push(d, ev, rangeSecs) {
        chart.pushLive(d, ev, rangeSecs, liveResolution(autoStep(rangeSecs)));
      },
      setLive: (on) => chart.setLive(on),
      destroy: () => chart.destroy(),
    };
  }

  if (type === 'heatmap') {
    const hm = new Heatmap({ unit: spec.unit, height: 220 });
    // What the last range query drew, so pushes can add columns to it.
    let matrix: api.MatrixSeries[] = [];
    let grid: HeatmapGrid | null = null;
    const view: RangeView = {
      setMatrix(m, range) {
        matrix = m;
        grid = { start: range.start, step: range.step };
        hm.setMatrix(m, range);
      },
      message(text, kind) {
        matrix = [];
        grid = null;
        hm.message(text, kind);
      },
    };
    replace(el, title, hm.el);
    return {
      spec,
      el,
      live: true,
      refresh: refreshRange(view),
      push(d, ev, rangeSecs) {
        // After a failed range query, the pushes start a new grid ending now.
        grid ??= { start: ev.t / 1000 - rangeSecs, step: autoStep(rangeSecs) };
        const next = appendHeatmapLive(matrix, d, grid, rangeSecs, ev.t / 1000);
        matrix = next.matrix;
        hm.setMatrix(matrix, next.range);
        el.dataset.lastPushMs = String(ev.commitMs);
      },
      setLive: liveAttr,
      destroy: () => hm.destroy(),
    };
  }

  // stat, gauge, bar, table: an instant query.
  const bodyClass = { stat: 'stat-value', gauge: 'gauges', bar: 'bars', table: 'panel-table' }[type];
  const bodyId = { stat: 'stat-value', gauge: 'gauges', bar: 'bars', table: 'panel-table' }[type];
  const body = h('div', { class: bodyClass, 'data-testid': bodyId }, '…');
  replace(el, title, body);
  return {
    spec,
    el,
    live: true,
    async refresh(vars) {
      const expr = substitute(spec.expr, vars);
      setLink(expr);
      try {
        renderInstant(spec, body, instantSamples(await api.query(expr, undefined, ctx.signal)));
      } catch (e) {
        if (isAbort(e)) return;
        body.dataset.series = '0';
        replace(body, type === 'stat' ? noData(String(e)) : h('div', { class: 'error-text', 'data-testid': 'panel-error' }, `no data: ${String(e)}`));
      }
    },
    push(d) {
      renderInstant(spec, body, instantSamples(d));
    },
    setLive: liveAttr,
    destroy: () => {},
  };
}
