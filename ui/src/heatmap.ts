// Heatmaps of histogram buckets: a range query giving one series per `le` (cumulative counts or
// rates, as `sum by (le) (rate(x_bucket[5m]))` gives) becomes, per step, a count per bucket
// (cumulative minus the bucket below), drawn on a canvas: time on x, buckets on y, colour by count.

import type { MatrixSeries, QueryData } from './api';
import { sampleValue } from './chart';
import { appendLive, instantSamples } from './live';
import { h, replace } from './dom';
import { formatValue } from './format';
import { formatTime } from './time';

export interface HeatmapData {
  /** Step timestamps (unix seconds), sorted. */
  x: number[];
  /** Upper bounds of the buckets, ascending (`+Inf` is Infinity). */
  les: number[];
  /** Per bucket (as `les`), per step: the count in that bucket alone, or null where there is no sample. */
  counts: Array<Array<number | null>>;
  /** The largest count (0 when there is none). */
  max: number;
}

/** An `le` label value as a number (`+Inf` → Infinity), or null when it is not one. */
export function parseLe(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.trim();
  if (/^\+?inf$/i.test(t)) return Infinity;
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
  const x = parseFloat(t);
  return Number.isNaN(x) ? null : x;
}

/**
 * Cumulative histogram buckets → counts per bucket and step. Series are grouped by `le` (series
 * with the same `le` and other labels different are added up; series without a usable `le` are left
 * out); at each step a bucket's count is its cumulative value minus the largest cumulative value of
 * the buckets below (never negative, as counters read at slightly different times can dip); a bucket
 * without a sample at a step has null there and does not change what the next bucket subtracts.
 */
export function bucketsToHeatmap(matrix: MatrixSeries[]): HeatmapData {
  const byLe = new Map<number, Map<number, number>>();
  const ts = new Set<number>();
  for (const s of matrix ?? []) {
    const le = parseLe(s?.metric?.le);
    if (le === null) continue;
    let row = byLe.get(le);
    if (!row) byLe.set(le, (row = new Map()));
    for (const [t, v] of s.values ?? []) {
      const x = sampleValue(v);
      const tt = Number(t);
      ts.add(tt);
      if (x === null) continue;
      row.set(tt, (row.get(tt) ?? 0) + x);
    }
  }
  const les = [...byLe.keys()].sort((a, b) => a - b);
  const x = [...ts].sort((a, b) => a - b);
  const counts = les.map(() => new Array<number | null>(x.length).fill(null));
  let max = 0;
  x.forEach((t, j) => {
    let below = 0;
    les.forEach((le, i) => {
      const c = byLe.get(le)!.get(t);
      if (c === undefined) return;
      const n = Math.max(0, c - below);
      counts[i][j] = n;
      below = Math.max(below, c);
      if (n > max) max = n;
    });
  });
  return { x, les, counts, max };
}

/** The columns of a heatmap drawn from a range query: its first timestamp and the step between them. */
export interface HeatmapGrid {
  start: number;
  step: number;
}

/**
 * A heatmap's matrix with a pushed instant answer (evaluated at `t`, unix seconds) as its newest
 * column: the samples are moved to the grid time nearest `t`, so pushes within one step update the
 * last column instead of crowding it, and a push a step later opens a new one; columns older than
 * `rangeSeconds` before it are dropped. Returns the new matrix and the range to draw it over.
 */
export function appendHeatmapLive(
  matrix: MatrixSeries[],
  response: QueryData,
  grid: HeatmapGrid,
  rangeSeconds: number,
  t: number,
): { matrix: MatrixSeries[]; range: { start: number; end: number; step: number } } {
  const at = grid.start + Math.round((t - grid.start) / grid.step) * grid.step;
  const moved: QueryData = { resultType: 'vector', result: instantSamples(response).map((s) => ({ metric: s.metric, value: [at, s.value[1]] })) };
  const next = appendLive(matrix, moved, rangeSeconds, { t: at });
  return { matrix: next, range: { start: at - rangeSeconds, end: at, step: grid.step } };
}

/** The text of a bucket's bounds: `≤ 0.1` for the first, `0.1 – 0.25`, `> 1` for `+Inf`. */
export function bucketLabel(les: number[], i: number, unit = ''): string {
  const le = les[i];
  const lo = i > 0 ? les[i - 1] : null;
  if (le === Infinity) return lo === null ? 'all' : `> ${formatValue(lo, unit)}`;
  return lo === null ? `≤ ${formatValue(le, unit)}` : `${formatValue(lo, unit)} – ${formatValue(le, unit)}`;
}

const STOPS: Array<[number, number, number]> = [
  [237, 248, 251],
  [158, 202, 225],
  [66, 146, 198],
  [8, 81, 156],
  [8, 48, 107],
];

/** The colour of a cell: `f` in 0..1 (count over the largest) on a light-to-dark blue scale. */
export function heatColor(f: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(f) ? f : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const k = x - i;
  const c = STOPS[i].map((a, j) => Math.round(a + (STOPS[i + 1][j] - a) * k));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function cssVar(name: string, fallback: string): string {
  if (typeof getComputedStyle === 'undefined') return fallback;
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

const PAD = { left: 64, right: 8, top: 6, bottom: 22 };

/**
 * A heatmap in `<div data-testid="heatmap" data-buckets=B data-steps=S>` (a canvas, a tooltip on
 * hover and a colour scale).
 */
export class Heatmap {
  readonly el: HTMLElement;
  private canvas: HTMLCanvasElement;
  private tip: HTMLElement;
  private msg: HTMLElement;
  private scale: HTMLElement;
  private data: HeatmapData | null = null;
  /** The time range drawn (unix seconds) and the width of a column (the step). */
  private span: { start: number; end: number; step: number } | null = null;
  private ro: ResizeObserver | null = null;
  private width = 0;

  constructor(private opts: { unit?: string; height?: number } = {}) {
    this.canvas = h('canvas', { class: 'heatmap-canvas' });
    this.tip = h('div', { class: 'heatmap-tip', 'data-testid': 'heatmap-tip', hidden: true });
    this.msg = h('div', { class: 'chart-msg' });
    this.scale = h('div', { class: 'heatmap-scale small muted' });
    this.el = h('div', { class: 'heatmap', 'data-testid': 'heatmap', 'data-buckets': '0', 'data-steps': '0' }, this.canvas, this.tip, this.msg, this.scale);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
    if (typeof ResizeObserver !== 'undefined') {
      this.ro = new ResizeObserver(() => {
        if (Math.abs(this.el.clientWidth - this.width) > 1) this.draw();
      });
      this.ro.observe(this.el);
    }
  }

  message(text: string, kind: 'info' | 'error' = 'info'): void {
    this.data = null;
    this.el.dataset.buckets = '0';
    this.el.dataset.steps = '0';
    this.canvas.hidden = true;
    replace(this.scale);
    this.msg.className = `chart-msg ${kind}`;
    this.msg.setAttribute('data-testid', kind === 'error' ? 'chart-error' : 'chart-message');
    replace(this.msg, text);
  }

  /**
   * Draws a range query's buckets. With `range` the time axis spans it (columns a `step` wide at
   * their timestamps); without, the columns are the timestamps side by side.
   */
  setMatrix(matrix: MatrixSeries[], range?: { start: number; end: number; step: number }): void {
    const d = bucketsToHeatmap(matrix);
    this.span = range && range.end > range.start && range.step > 0 ? range : null;
    if (d.les.length === 0 || d.x.length === 0) {
      this.message(matrix.length > 0 ? 'no data: the series have no `le` label (a heatmap needs histogram buckets)' : 'no data');
      return;
    }
    this.data = d;
    this.el.dataset.buckets = String(d.les.length);
    this.el.dataset.steps = String(d.x.length);
    this.canvas.hidden = false;
    replace(this.msg);
    this.msg.className = 'chart-msg';
    this.msg.removeAttribute('data-testid');
    replace(
      this.scale,
      '0 ',
      h('span', { class: 'heatmap-ramp', style: { background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(heatColor).join(', ')})` } }),
      ` ${formatValue(d.max)} per bucket`,
    );
    this.draw();
  }

  private draw(): void {
    const d = this.data;
    if (!d) return;
    const w = Math.max(200, this.el.clientWidth || this.el.parentElement?.clientWidth || 600);
    const hgt = this.opts.height ?? 220;
    this.width = w;
    const dpr = (typeof window !== 'undefined' && window.devicePixelRatio) || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${hgt}px`;
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      ctx = this.canvas.getContext('2d');
    } catch {
      ctx = null;
    }
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const pw = w - PAD.left - PAD.right;
    const ph = hgt - PAD.top - PAD.bottom;
    const nx = d.x.length;
    const nb = d.les.length;
    const col = this.columns(pw);
    const ch = ph / nb;
    for (let i = 0; i < nb; i++) {
      const row = d.counts[i];
      // Bucket 0 at the bottom.
      const y = PAD.top + ph - (i + 1) * ch;
      for (let j = 0; j < nx; j++) {
        const c = row[j];
        if (c === null || c <= 0 || d.max <= 0) continue;
        const [x0, cw] = col(j);
        ctx.fillStyle = heatColor(0.1 + 0.9 * Math.sqrt(c / d.max));
        const left = Math.floor(PAD.left + x0);
        ctx.fillRect(left, Math.floor(y), Math.ceil(PAD.left + x0 + cw) - left + 1, Math.ceil(ch) + 1);
      }
    }
    const fg = cssVar('--muted', '#667');
    const grid = cssVar('--grid', 'rgba(128,128,128,0.2)');
    ctx.strokeStyle = grid;
    ctx.strokeRect(PAD.left + 0.5, PAD.top + 0.5, pw - 1, ph - 1);
    ctx.fillStyle = fg;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(nb / Math.max(1, Math.floor(ph / 14))));
    for (let i = 0; i < nb; i += every) {
      const le = d.les[i];
      ctx.fillText(le === Infinity ? '+Inf' : formatValue(le, this.opts.unit ?? ''), PAD.left - 6, PAD.top + ph - (i + 0.5) * ch);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const ticks = Math.max(2, Math.floor(pw / 110));
    const t0 = this.span?.start ?? d.x[0];
    const t1 = this.span ? this.span.end : d.x[nx - 1];
    for (let k = 0; k < ticks; k++) {
      const f = ticks > 1 ? k / (ticks - 1) : 0;
      const t = t0 + f * (t1 - t0);
      // HH:MM, with the date for ranges over a day.
      const label = formatTime(t).slice(t1 - t0 > 86400 ? 5 : 11, 16);
      ctx.fillText(label, Math.min(w - 20, Math.max(PAD.left + 14, PAD.left + f * pw)), PAD.top + ph + 5);
    }
  }

  /** Column j's left edge and width (px in the plot area of width `pw`). */
  private columns(pw: number): (j: number) => [number, number] {
    const d = this.data!;
    const sp = this.span;
    if (sp) {
      const k = pw / (sp.end - sp.start);
      const cw = Math.max(1, sp.step * k);
      return (j) => [Math.min(pw - cw, Math.max(0, (d.x[j] - sp.start) * k - cw / 2)), cw];
    }
    const cw = pw / d.x.length;
    return (j) => [j * cw, cw];
  }

  /** The column under x (px in the plot area), or -1. */
  private columnAt(px: number, pw: number): number {
    const d = this.data!;
    const sp = this.span;
    if (!sp) return Math.min(d.x.length - 1, Math.floor((px / pw) * d.x.length));
    const t = sp.start + (px / pw) * (sp.end - sp.start);
    let best = -1;
    let dist = Infinity;
    d.x.forEach((x, j) => {
      const dd = Math.abs(x - t);
      if (dd < dist) {
        dist = dd;
        best = j;
      }
    });
    return dist <= sp.step ? best : -1;
  }

  private hover(e: MouseEvent): void {
    const d = this.data;
    if (!d) return;
    const r = this.canvas.getBoundingClientRect();
    const px = e.clientX - r.left - PAD.left;
    const py = e.clientY - r.top - PAD.top;
    const pw = r.width - PAD.left - PAD.right;
    const ph = r.height - PAD.top - PAD.bottom;
    if (px < 0 || py < 0 || px >= pw || py >= ph) {
      this.tip.hidden = true;
      return;
    }
    const j = this.columnAt(px, pw);
    const i = d.les.length - 1 - Math.floor((py / ph) * d.les.length);
    if (j < 0) {
      this.tip.hidden = true;
      return;
    }
    const c = d.counts[i]?.[j];
    replace(this.tip, h('div', null, formatTime(d.x[j])), h('div', null, bucketLabel(d.les, i, this.opts.unit ?? '')), h('strong', null, formatValue(c ?? null)));
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(r.width - 150, e.clientX - r.left + 12)}px`;
    this.tip.style.top = `${e.clientY - r.top + 12}px`;
  }

  destroy(): void {
    this.ro?.disconnect();
  }
}
