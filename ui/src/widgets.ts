// Building blocks shared by pages: cards, range pickers, error boxes.

import { h, isAbort, noData, replace, select, errText, type Child } from './dom';
import { RANGES } from './time';

export interface Card {
  el: HTMLElement;
  value: HTMLElement;
  sub: HTMLElement;
  extra: HTMLElement;
}

/** A card with a title, a big value, a line under it and room for a sparkline or list. */
export function card(title: string, testid: string, href?: string): Card {
  const value = h('div', { class: 'card-value', 'data-testid': `${testid}-value` }, '…');
  const sub = h('div', { class: 'card-sub' });
  const extra = h('div', { class: 'card-extra' });
  const head = href ? h('a', { href, class: 'card-title' }, title) : h('div', { class: 'card-title' }, title);
  const el = h('section', { class: 'card', 'data-testid': testid }, head, value, sub, extra);
  return { el, value, sub, extra };
}

/** Shows "no data" in a card (with the reason as tooltip), keeping the page going. */
export function cardNoData(c: Card, reason?: unknown): void {
  replace(c.value, noData(reason === undefined ? undefined : errText(reason)));
  replace(c.sub);
}

/** A box with an API error, `errorType: message`. */
export function errorBox(e: unknown, testid = 'error'): HTMLElement {
  const text = e && typeof e === 'object' && 'errorType' in e ? String(e) : errText(e);
  return h('div', { class: 'error', 'data-testid': testid, role: 'alert' }, text);
}

/**
 * Runs `load` and shows what `show` makes of it in `el`, or an error box; aborted loads (the page
 * was left) show nothing.
 */
export async function fill<T>(el: HTMLElement, load: () => Promise<T>, show: (v: T) => Child): Promise<void> {
  try {
    const v = await load();
    replace(el, show(v));
  } catch (e) {
    if (isAbort(e)) return;
    replace(el, errorBox(e));
  }
}

/** The range picker (5m … 7d). */
export function rangePicker(value: string, onchange: (v: string) => void, testid = 'range'): HTMLSelectElement {
  const opts = RANGES.includes(value as (typeof RANGES)[number]) ? [...RANGES] : [value, ...RANGES];
  return select(opts, value, onchange, { 'data-testid': testid, 'aria-label': 'time range' });
}

/** A page header: title and controls on the right. */
export function pageHeader(title: string, ...controls: Child[]): HTMLElement {
  return h('header', { class: 'page-header' }, h('h1', null, title), h('div', { class: 'controls' }, controls));
}

/** A small horizontal bar for ratios (uptime, budget): `ratio` 0..1. */
export function bar(ratio: number | null, kind: 'good' | 'warn' | 'bad' | 'auto' = 'auto'): HTMLElement {
  const r = ratio === null || !Number.isFinite(ratio) ? 0 : Math.max(0, Math.min(1, ratio));
  const k = kind === 'auto' ? (r > 0.5 ? 'good' : r > 0.2 ? 'warn' : 'bad') : kind;
  return h('span', { class: 'bar' }, h('span', { class: `bar-fill ${k}`, style: { width: `${(r * 100).toFixed(1)}%` } }));
}

/** Link to Explore for an expression. */
export function exploreHref(expr: string, range = '1h'): string {
  const q = new URLSearchParams({ expr, range });
  return `/explore?${q.toString()}`;
}
