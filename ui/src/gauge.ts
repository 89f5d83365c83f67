// Gauges (an SVG arc of 240° from min to max, coloured by thresholds) and the pure helpers shared
// with bar panels: the default scale of a unit, threshold levels and colours.

import { formatValue } from './format';

const SVG = 'http://www.w3.org/2000/svg';

/** Threshold colours from good to bad. */
export const LEVEL_COLORS = ['#16a34a', '#eab308', '#f97316', '#dc2626'];

/** How many thresholds `v` has reached (0 below the first; thresholds are sorted first). */
export function thresholdLevel(v: number | null, thresholds: number[] | undefined): number {
  if (v === null || !Number.isFinite(v) || !thresholds?.length) return 0;
  return [...thresholds].sort((a, b) => a - b).filter((t) => v >= t).length;
}

/**
 * The colour of a value: with no thresholds `fallback`; else green below the first threshold, red
 * at or above the last, amber/orange in between.
 */
export function thresholdColor(v: number | null, thresholds: number[] | undefined, fallback = '#3b82f6'): string {
  const n = thresholds?.length ?? 0;
  if (n === 0) return fallback;
  const level = thresholdLevel(v, thresholds);
  return LEVEL_COLORS[Math.min(3, Math.floor((level * 3) / n))];
}

/** A round number at or above `x` (1, 2, 2.5, 5 × 10^k); 1 for x ≤ 0. */
export function niceCeil(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

/**
 * The scale of a gauge or bar: `min` (default 0, or the smallest value when below 0) and `max` (given,
 * else 100 for percent, 1 for ratios, else a round number above the values and thresholds).
 */
export function gaugeScale(values: Array<number | null>, opts: { unit?: string; min?: number; max?: number; thresholds?: number[] }): { min: number; max: number } {
  const vs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  let min = opts.min ?? Math.min(0, ...vs);
  let max = opts.max;
  if (max === undefined) {
    if (opts.unit === 'percent') max = 100;
    else if (opts.unit === 'percentunit' || opts.unit === 'ratio') max = 1;
    else max = niceCeil(Math.max(...vs, ...(opts.thresholds ?? []).map((t) => t * 1.1), 0));
    if (vs.some((v) => v > max!)) max = niceCeil(Math.max(...vs));
  }
  if (!(max > min)) max = min + 1;
  return { min, max };
}

/** Where `v` is between `min` and `max`, 0..1 (clamped; 0 for no value). */
export function gaugeFraction(v: number | null, min: number, max: number): number {
  if (v === null || !Number.isFinite(v) || !(max > min)) return 0;
  return Math.max(0, Math.min(1, (v - min) / (max - min)));
}

/** The gauge's arc: from 150° to 390° (clockwise in SVG coordinates, y down). */
export const ARC_START = 150;
export const ARC_SWEEP = 240;

function polar(cx: number, cy: number, r: number, deg: number): [number, number] {
  const a = (deg * Math.PI) / 180;
  return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** An SVG path of the arc of radius `r` around (cx, cy) from angle `a0` to `a1` (degrees, clockwise). */
export function arcPath(cx: number, cy: number, r: number, a0: number, a1: number): string {
  const sweep = Math.max(0, Math.min(359.99, a1 - a0));
  const [x0, y0] = polar(cx, cy, r, a0);
  const [x1, y1] = polar(cx, cy, r, a0 + sweep);
  return `M ${r2(x0)} ${r2(y0)} A ${r} ${r} 0 ${sweep > 180 ? 1 : 0} 1 ${r2(x1)} ${r2(y1)}`;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: Array<SVGElement | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface GaugeOptions {
  unit?: string;
  min: number;
  max: number;
  thresholds?: number[];
  decimals?: number;
  /** The name under the value (a series' labels). */
  name?: string;
}

/**
 * A gauge: `<svg data-testid="gauge" data-value=… data-level=…>` with a track, the threshold bands
 * on the outside, the value's arc in its threshold colour and the value in the middle.
 */
export function gaugeSvg(v: number | null, o: GaugeOptions): SVGSVGElement {
  const cx = 100;
  const cy = 96;
  const r = 78;
  const f = gaugeFraction(v, o.min, o.max);
  const col = thresholdColor(v, o.thresholds);
  const parts: SVGElement[] = [
    svg('path', { d: arcPath(cx, cy, r, ARC_START, ARC_START + ARC_SWEEP), class: 'gauge-track', fill: 'none', 'stroke-width': 14, 'stroke-linecap': 'round' }),
  ];
  // Threshold bands: a thin ring outside the track.
  const ts = [...(o.thresholds ?? [])].sort((a, b) => a - b);
  if (ts.length) {
    const bounds = [o.min, ...ts.map((t) => Math.max(o.min, Math.min(o.max, t))), o.max];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a0 = ARC_START + gaugeFraction(bounds[i], o.min, o.max) * ARC_SWEEP;
      const a1 = ARC_START + gaugeFraction(bounds[i + 1], o.min, o.max) * ARC_SWEEP;
      if (a1 - a0 < 0.5) continue;
      parts.push(svg('path', { d: arcPath(cx, cy, r + 11, a0, a1), fill: 'none', stroke: LEVEL_COLORS[Math.min(3, Math.floor((i * 3) / ts.length))], 'stroke-width': 3, class: 'gauge-band' }));
    }
  }
  if (f > 0) {
    parts.push(svg('path', { d: arcPath(cx, cy, r, ARC_START, ARC_START + f * ARC_SWEEP), fill: 'none', stroke: col, 'stroke-width': 14, 'stroke-linecap': 'round', class: 'gauge-value-arc' }));
  }
  const [lx, ly] = polar(cx, cy, r, ARC_START);
  const [hx, hy] = polar(cx, cy, r, ARC_START + ARC_SWEEP);
  parts.push(
    svg('text', { x: cx, y: cy + 6, 'text-anchor': 'middle', class: 'gauge-value' }, formatValue(v, o.unit ?? '', o.decimals)),
    svg('text', { x: r2(lx), y: r2(ly + 22), 'text-anchor': 'middle', class: 'gauge-bound' }, formatValue(o.min, o.unit ?? '')),
    svg('text', { x: r2(hx), y: r2(hy + 22), 'text-anchor': 'middle', class: 'gauge-bound' }, formatValue(o.max, o.unit ?? '')),
  );
  if (o.name) parts.push(svg('title', {}, o.name));
  return svg(
    'svg',
    {
      viewBox: '0 0 200 170',
      class: 'gauge',
      role: 'img',
      'aria-label': `${o.name ? `${o.name}: ` : ''}${formatValue(v, o.unit ?? '', o.decimals)}`,
      'data-testid': 'gauge',
      'data-value': v === null ? '' : String(v),
      'data-level': String(thresholdLevel(v, o.thresholds)),
      'data-color': col,
    },
    ...parts,
  );
}
