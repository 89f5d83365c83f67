// uPlot wrapper: a Prometheus matrix → uPlot's aligned data (one x array of timestamps, one
// y array per series with nulls where a series has no sample), optionally stacked.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Labels, MatrixSeries, QueryData } from './api';
import { h, replace } from './dom';
import { axisLabels, formatLabels, formatValue } from './format';
import { appendLive } from './live';
import { formatTime } from './time';

export interface Aligned {
  /** Sorted unique timestamps (unix seconds) of all series. */
  x: number[];
  /** Per series, a value per timestamp (stacked sums when stacking) or null for a gap. */
  ys: Array<Array<number | null>>;
  /** Per series, its own values (not stacked), for legends. */
  raw: Array<Array<number | null>>;
  labels: Labels[];
}

/** A sample's text value as a number; NaN and ±Inf (which cannot be drawn) become null. */
export function sampleValue(v: string | number): number | null {
  const x = typeof v === 'number' ? v : parseFloat(v);
  return Number.isFinite(x) ? x : null;
}

/**
 * Aligns series on the union of their timestamps. With `stacked`, each series holds its value plus
 * the values of the series before it (a missing value counts as 0 in the sum, and the series itself
 * keeps a gap there).
 */
export function alignMatrix(matrix: MatrixSeries[], opts: { stacked?: boolean } = {}): Aligned {
  const ts = new Set<number>();
  for (const s of matrix) for (const [t] of s.values ?? []) ts.add(Number(t));
  const x = [...ts].sort((a, b) => a - b);
  const index = new Map<number, number>();
  x.forEach((t, i) => index.set(t, i));
  const raw = matrix.map((s) => {
    const row: Array<number | null> = new Array(x.length).fill(null);
    for (const [t, v] of s.values ?? []) row[index.get(Number(t))!] = sampleValue(v);
    return row;
  });
  let ys = raw;
  if (opts.stacked) {
    const acc: number[] = new Array(x.length).fill(0);
    ys = raw.map((row) =>
      row.map((v, i) => {
        if (v === null) return null;
        acc[i] += v;
        return acc[i];
      }),
    );
  }
  return { x, ys, raw, labels: matrix.map((s) => s.metric ?? {}) };
}

/** The text a legend shows for a series: its label set, or the whole set when one label differs. */
export function seriesName(metric: Labels): string {
  return formatLabels(metric);
}

const PALETTE = [
  '#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316',
  '#6366f1', '#84cc16', '#06b6d4', '#a855f7', '#e11d48', '#22c55e', '#eab308', '#0ea5e9',
];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

function cssVar(name: string, fallback: string): string {
  if (typeof getComputedStyle === 'undefined') return fallback;
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * The y range: uPlot's padded range, but a flat series gets a range from 0 (0..1 for all zeros)
 * instead of uPlot's ±100 that reads as "10000%" for ratios.
 */
export function yRange(_u: unknown, min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    if (min === 0) return [0, 1];
    return min > 0 ? [0, min * 1.25] : [min * 1.25, 0];
  }
  const [lo, hi] = uPlot.rangeNum(min, max, 0.1, true);
  // Keep non-negative data from dipping below zero.
  return [min >= 0 ? Math.max(0, lo ?? 0) : (lo ?? min), hi ?? max];
}

export interface ChartOptions {
  unit?: string;
  stacked?: boolean;
  height?: number;
  /** A small chart without axes, legend or cursor. */
  sparkline?: boolean;
  legend?: boolean;
  /** Fixed ends of the y axis (else from the data). */
  min?: number;
  max?: number;
  /** Digits after the point in the legend (else by magnitude). */
  decimals?: number;
  /** Per series: a dash pattern, a colour or a width instead of the defaults. */
  seriesStyle?: (labels: Labels, index: number) => SeriesStyle | undefined;
  /** The container's `data-testid` (default `chart`). */
  testid?: string;
}

export interface SeriesStyle {
  dash?: number[];
  stroke?: string;
  width?: number;
}

/** The y range with the panel's fixed `min`/`max` (either may be left to the data). */
export function fixedRange(min: number | undefined, max: number | undefined): (u: unknown, lo: number | null, hi: number | null) => [number, number] {
  return (u, lo, hi) => {
    const [a, b] = yRange(u, lo, hi);
    const r0 = min ?? a;
    let r1 = max ?? b;
    if (!(r1 > r0)) r1 = r0 + 1;
    return [r0, r1];
  };
}

/** Runs `fn` at the next animation frame (a timer where there are no frames). */
function nextFrame(fn: () => void): void {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
}

/**
 * A chart in a container `<div data-testid="chart" data-series=N data-points=M>` (points: the
 * number of aligned timestamps) with a legend of `data-testid="legend-item"` entries. While it
 * follows a live stream the container has `data-live="1"` and `data-last-push-ms` (the commit time
 * of the last pushed answer that was drawn).
 */
export class Chart {
  readonly el: HTMLElement;
  private plotEl: HTMLElement;
  private legendEl: HTMLElement;
  private msgEl: HTMLElement;
  private u: uPlot | null = null;
  private signature = '';
  private data: Aligned | null = null;
  private ro: ResizeObserver | null = null;
  private hidden = new Set<string>();
  /** The matrix drawn (with the points pushed live). */
  private matrix: MatrixSeries[] = [];
  /** The user zoomed in (drag): live redraws keep the zoom until a double-click or a new query. */
  private zoomed = false;
  private pending = false;
  private pendingPushMs: number | null = null;
  private pendingRange: { start: number; end: number } | null = null;

  constructor(private opts: ChartOptions = {}) {
    this.plotEl = h('div', { class: 'chart-plot' });
    this.msgEl = h('div', { class: 'chart-msg' });
    this.legendEl = h('div', { class: 'legend', 'data-testid': 'legend' });
    this.el = h(
      'div',
      { class: opts.sparkline ? 'chart sparkline' : 'chart', 'data-testid': opts.testid ?? 'chart', 'data-series': '0', 'data-points': '0' },
      this.plotEl,
      this.msgEl,
      opts.sparkline || opts.legend === false ? null : this.legendEl,
    );
    if (typeof ResizeObserver !== 'undefined') {
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(this.el);
    }
  }

  setOptions(o: Partial<ChartOptions>): void {
    this.opts = { ...this.opts, ...o };
    this.signature = '';
  }

  /** Shows a message instead of the plot (and clears it). */
  message(text: string, kind: 'info' | 'error' = 'info'): void {
    this.matrix = [];
    this.destroyPlot();
    this.el.dataset.series = '0';
    this.el.dataset.points = '0';
    replace(this.legendEl);
    this.msgEl.className = `chart-msg ${kind}`;
    this.msgEl.setAttribute('data-testid', kind === 'error' ? 'chart-error' : 'chart-message');
    replace(this.msgEl, text);
  }

  /**
   * Draws a matrix. With `range` (unix seconds) the time axis spans it even where there is no data,
   * so that a chart shows the range that was asked for.
   */
  setMatrix(matrix: MatrixSeries[], range?: { start: number; end: number }): void {
    this.zoomed = false;
    this.pending = false;
    this.pendingRange = null;
    this.draw(matrix, range);
  }

  /** Marks the chart as following a live stream (`data-live="1"`) or not. */
  setLive(on: boolean): void {
    if (on) this.el.dataset.live = '1';
    else {
      delete this.el.dataset.live;
      this.pending = false;
    }
  }

  /** The matrix drawn now, including the points pushed live. */
  currentMatrix(): MatrixSeries[] {
    return this.matrix;
  }

  /**
   * Appends a pushed instant answer (see `appendLive`) and redraws at the next frame (pushes that
   * come faster are drawn together), the time axis ending at the answer's time.
   */
  pushLive(d: QueryData, ev: { t: number; commitMs: number }, rangeSeconds: number, resolution: number): void {
    const t = ev.t / 1000;
    this.matrix = appendLive(this.matrix, d, rangeSeconds, { t, resolution });
    this.pendingPushMs = ev.commitMs;
    this.pendingRange = { start: t - rangeSeconds, end: t };
    if (this.pending) return;
    this.pending = true;
    nextFrame(() => {
      if (!this.pending) return;
      this.pending = false;
      this.draw(this.matrix, this.pendingRange ?? undefined, true);
      if (this.pendingPushMs !== null) this.el.dataset.lastPushMs = String(this.pendingPushMs);
    });
  }

  private draw(matrix: MatrixSeries[], range?: { start: number; end: number }, live = false): void {
    this.matrix = matrix;
    const data = alignMatrix(matrix, { stacked: this.opts.stacked });
    this.data = data;
    this.el.dataset.series = String(data.ys.length);
    this.el.dataset.points = String(data.x.length);
    if (data.x.length === 0) {
      this.message('no data');
      this.el.dataset.series = String(data.ys.length);
      return;
    }
    replace(this.msgEl);
    this.msgEl.className = 'chart-msg';
    this.msgEl.removeAttribute('data-testid');
    const sig = `${this.opts.stacked ? 's' : ''}|${data.labels.map(formatLabels).join('\n')}`;
    const aligned = [data.x, ...data.ys] as unknown as uPlot.AlignedData;
    const keepZoom = live && this.zoomed;
    if (this.u && sig === this.signature) {
      this.u.setData(aligned, !keepZoom);
      this.updateLegendValues(live ? (this.u.cursor.idx ?? null) : null);
    } else {
      // (destroyPlot clears the signature, so it is set after.)
      this.destroyPlot();
      this.signature = sig;
      this.u = new uPlot(this.makeOptions(data), aligned, this.plotEl);
      this.buildLegend();
      if (keepZoom) this.zoomed = false;
    }
    if (range && range.end > range.start && !(keepZoom && this.zoomed)) {
      this.u.setScale('x', { min: Math.min(range.start, data.x[0]), max: Math.max(range.end, data.x[data.x.length - 1]) });
    }
  }

  private width(): number {
    const w = this.el.clientWidth || this.el.parentElement?.clientWidth || 0;
    return Math.max(w > 0 ? w : 600, 100);
  }

  private resize(): void {
    if (!this.u) return;
    const w = this.width();
    if (Math.abs(w - this.u.width) > 1) this.u.setSize({ width: w, height: this.u.height });
  }

  private makeOptions(data: Aligned): uPlot.Options {
    const spark = !!this.opts.sparkline;
    const unit = this.opts.unit ?? '';
    const fg = cssVar('--muted', '#667');
    const grid = cssVar('--grid', 'rgba(128,128,128,0.15)');
    const n = data.ys.length;
    const series: uPlot.Series[] = [{}];
    data.labels.forEach((l, i) => {
      const st = this.opts.seriesStyle?.(l, i);
      const c = st?.stroke ?? color(i);
      series.push({
        label: formatLabels(l),
        stroke: c,
        width: st?.width ?? (spark ? 1.5 : 1.25),
        dash: st?.dash,
        fill: this.opts.stacked || spark ? alpha(c, spark ? 0.15 : 0.35) : undefined,
        show: !this.hidden.has(formatLabels(l)),
        points: { show: false },
        spanGaps: false,
        value: (_u, v) => formatValue(v, unit, this.opts.decimals),
      });
    });
    const bands: uPlot.Band[] = [];
    if (this.opts.stacked) {
      for (let i = 2; i <= n; i++) bands.push({ series: [i, i - 1] });
    }
    const axis = (o: uPlot.Axis): uPlot.Axis => ({ stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, ...o });
    return {
      width: this.width(),
      height: this.opts.height ?? (spark ? 48 : 260),
      series,
      bands,
      legend: { show: false },
      cursor: spark ? { show: false } : { drag: { x: true, y: false }, points: { size: 6 } },
      select: spark ? { show: false, left: 0, top: 0, width: 0, height: 0 } : undefined,
      scales: {
        x: { time: true },
        y: {
          range: spark
            ? (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1]
            : this.opts.min !== undefined || this.opts.max !== undefined
              ? fixedRange(this.opts.min, this.opts.max)
              : yRange,
        },
      },
      axes: spark
        ? [{ show: false }, { show: false }]
        : [
            axis({}),
            axis({
              values: (_u, splits) => axisLabels(splits, unit),
              // Wide enough for the longest tick label (about 7 px a character at 12 px).
              size: (_u, values) => Math.max(40, Math.ceil(Math.max(0, ...(values ?? []).map((v) => String(v).length)) * 8 + 22)),
            }),
          ],
      hooks: spark
        ? {}
        : {
            setCursor: [(u) => this.updateLegendValues(u.cursor.idx ?? null)],
            // A drag selection zooms (uPlot's default); live redraws must not undo it.
            setSelect: [(u) => {
              if (u.select.width > 0) this.zoomed = true;
            }],
            ready: [(u) => u.over.addEventListener('dblclick', () => (this.zoomed = false))],
          },
    };
  }

  private buildLegend(): void {
    if (this.opts.sparkline || !this.data) return;
    const d = this.data;
    const items = d.labels.map((l, i) => {
      const name = formatLabels(l);
      const item = h(
        'div',
        {
          class: this.hidden.has(name) ? 'legend-item off' : 'legend-item',
          'data-testid': 'legend-item',
          title: 'click: show/hide',
          onclick: () => {
            const show = this.hidden.has(name);
            if (show) this.hidden.delete(name);
            else this.hidden.add(name);
            item.classList.toggle('off', !show);
            this.u?.setSeries(i + 1, { show });
          },
        },
        h('span', { class: `swatch${this.opts.seriesStyle?.(l, i)?.dash ? ' dashed' : ''}`, style: { background: this.opts.seriesStyle?.(l, i)?.stroke ?? color(i) } }),
        h('span', { class: 'legend-name' }, name),
        h('span', { class: 'legend-value' }),
      );
      return item;
    });
    replace(this.legendEl, h('div', { class: 'legend-time' }), items);
    this.updateLegendValues(null);
  }

  /** Shows each series' value at the cursor (its raw value, not the stacked sum), or the last one. */
  private updateLegendValues(idx: number | null): void {
    if (!this.data || this.opts.sparkline) return;
    const d = this.data;
    const unit = this.opts.unit ?? '';
    const values = this.legendEl.querySelectorAll<HTMLElement>('.legend-value');
    const timeEl = this.legendEl.querySelector<HTMLElement>('.legend-time');
    if (timeEl) replace(timeEl, idx !== null && d.x[idx] !== undefined ? formatTime(d.x[idx]) : '');
    values.forEach((el, i) => {
      const row = d.raw[i];
      let v: number | null = null;
      if (idx !== null) v = row[idx] ?? null;
      else for (let k = row.length - 1; k >= 0 && v === null; k--) v = row[k];
      replace(el, formatValue(v, unit, this.opts.decimals));
    });
  }

  private destroyPlot(): void {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
    this.signature = '';
  }

  destroy(): void {
    this.pending = false;
    this.ro?.disconnect();
    this.destroyPlot();
  }
}
