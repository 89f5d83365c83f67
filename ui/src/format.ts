// Number and label formatting shared by charts, tables and cards.

import type { Labels } from './api';

export type Unit = '' | 'percent' | 'percentunit' | 'bytes' | 'bytes/s' | 'seconds' | 'reqps' | 'ops' | 'ratio';

/** `name{a="1", b="2"}` with the label names sorted; `{}` for an empty set. */
export function formatLabels(metric: Labels): string {
  const name = metric.__name__ ?? '';
  const rest = Object.keys(metric)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`);
  if (rest.length === 0) return name || '{}';
  return `${name}{${rest.join(', ')}}`;
}

function trim(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Digits after the point for a mantissa: fewer for larger numbers, or `precision` when given. */
function digitsFor(v: number, precision?: number): number {
  if (precision !== undefined) return precision;
  const a = Math.abs(v);
  return a >= 100 ? 0 : a >= 10 ? 1 : 2;
}

/** A compact number: 1234 → "1.23k", 0.000123 → "123µ" (SI prefixes), 12.5 → "12.5". */
export function si(x: number, base = 1000, units = ['', 'k', 'M', 'G', 'T', 'P'], precision?: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return `0${base === 1000 ? '' : units[0]}`;
  const a = Math.abs(x);
  if (a >= 1 || base !== 1000) {
    let i = 0;
    let v = x;
    while (Math.abs(v) >= base && i < units.length - 1) {
      v /= base;
      i++;
    }
    return `${trim(v, digitsFor(v, precision))}${units[i]}`;
  }
  const small = ['m', 'µ', 'n'];
  let v = x;
  let i = -1;
  while (Math.abs(v) < 1 && i < small.length - 1) {
    v *= 1000;
    i++;
  }
  return `${trim(v, digitsFor(v, precision))}${small[i]}`;
}

/**
 * A value with its unit, for axes, legends and cards. Null/NaN → "–". `precision` fixes the digits
 * after the point of the shown number (default: by magnitude).
 */
export function formatValue(v: number | null | undefined, unit: Unit | string = '', precision?: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const p = precision;
  switch (unit) {
    case 'percent':
      return `${trim(v, p ?? (Math.abs(v) >= 10 ? 1 : 2))}%`;
    case 'percentunit':
    case 'ratio':
      return `${trim(v * 100, p ?? (Math.abs(v) >= 0.1 ? 1 : 3))}%`;
    case 'bytes':
      return si(v, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], p);
    case 'bytes/s':
      return si(v, 1024, ['B/s', 'KiB/s', 'MiB/s', 'GiB/s', 'TiB/s', 'PiB/s'], p);
    case 'seconds': {
      const a = Math.abs(v);
      if (a === 0) return '0s';
      if (a < 1) return `${si(v, 1000, undefined, p)}s`;
      if (a < 120) return `${trim(v, p ?? 2)}s`;
      if (a < 7200) return `${trim(v / 60, p ?? 1)}m`;
      if (a < 172800) return `${trim(v / 3600, p ?? 1)}h`;
      return `${trim(v / 86400, p ?? 1)}d`;
    }
    case 'reqps':
      return `${plain(v, p)} req/s`;
    case 'ops':
      return `${plain(v, p)}/s`;
    default:
      return plain(v, p);
  }
}

/** A unitless number: k/M/G above 1000, decimals down to 0.001 (0.449, not 449m), µ/n below. */
function plain(v: number, precision?: number): string {
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.001) return si(v, 1000, undefined, precision);
  if (precision !== undefined || a >= 1) return trim(v, digitsFor(v, precision));
  return String(parseFloat(v.toPrecision(3)));
}

/**
 * Axis tick labels: the default format, with more digits while two different ticks would read
 * the same (e.g. 70.8%, 70.85%, 70.9% instead of 71%, 71%, 71%).
 */
export function axisLabels(splits: number[], unit: Unit | string = ''): string[] {
  let labels = splits.map((v) => formatValue(v, unit));
  for (let p = 1; p <= 6 && new Set(labels).size < new Set(splits).size; p++) {
    labels = splits.map((v) => formatValue(v, unit, p));
  }
  return labels;
}
