// `/probes`: the probe checks as a status page; `/status`: the same, read-only, without the nav,
// to share publicly.

import * as api from '../api';
import { badge, h, isAbort, replace } from '../dom';
import { formatValue } from '../format';
import { mainUptime, normalizeProbes, type Probe } from '../model';
import { REFRESH_MS, type Page, type PageContext } from '../page';
import { ago } from '../time';
import { bar, errorBox, exploreHref, pageHeader } from '../widgets';

const unix = (t: string) => Date.parse(t) / 1000;

function uptimeClass(r: number | null): 'good' | 'warn' | 'bad' {
  if (r === null) return 'warn';
  return r >= 0.999 ? 'good' : r >= 0.99 ? 'warn' : 'bad';
}

/** The overall line of a status page. */
export function overall(list: Probe[]): { text: string; kind: 'good' | 'warn' | 'bad' } {
  const down = list.filter((p) => p.up === false).length;
  if (list.length === 0) return { text: 'No checks configured', kind: 'warn' };
  if (down === 0) {
    const unknown = list.filter((p) => p.up === null).length;
    return unknown ? { text: `${list.length - unknown} of ${list.length} checks up, ${unknown} not run yet`, kind: 'warn' } : { text: 'All systems operational', kind: 'good' };
  }
  return { text: `${down} of ${list.length} check${list.length === 1 ? '' : 's'} down`, kind: 'bad' };
}

function probeRow(p: Probe, publicView: boolean): HTMLElement {
  const main = mainUptime(p);
  const state = p.up === null ? 'unknown' : p.up ? 'up' : 'down';
  const windows = Object.entries(p.uptime).filter(([k]) => k !== '');
  const open = p.incidents.filter((i) => !i.end);
  const recent = p.incidents.slice(-5).reverse();
  const now = Date.now() / 1000;
  return h(
    'section',
    { class: `probe-row state-${state}`, 'data-testid': 'probe-row', 'data-state': state },
    h(
      'div',
      { class: 'probe-head' },
      h('span', { class: `dot ${state === 'up' ? 'good' : state === 'down' ? 'bad' : 'muted'}` }),
      h('strong', { class: 'probe-name' }, p.name),
      h('span', { class: 'muted small' }, publicView ? '' : ` ${p.target}${p.module ? ` · ${p.module}` : ''}`),
      h('span', { class: 'spacer' }),
      badge(state, state === 'up' ? 'good' : state === 'down' ? 'bad' : 'muted', { 'data-testid': 'probe-state' }),
    ),
    h(
      'div',
      { class: 'probe-body' },
      main
        ? h(
            'div',
            { class: 'uptime', 'data-testid': 'probe-uptime' },
            h('span', { class: `uptime-main ${uptimeClass(main[1])}` }, formatValue(main[1], 'percentunit')),
            h('span', { class: 'muted small' }, ` uptime${main[0] ? ` (${main[0]})` : ''}`),
            bar(main[1], uptimeClass(main[1])),
          )
        : null,
      windows.length > 1
        ? h('div', { class: 'uptime-windows small' }, windows.map(([k, v]) => h('span', { class: uptimeClass(v) }, `${k}: ${formatValue(v, 'percentunit')}`)))
        : null,
      publicView
        ? null
        : h(
            'div',
            { class: 'small muted' },
            p.lastTime ? `checked ${ago(unix(p.lastTime), now)}` : 'not checked yet',
            p.lastDuration !== null ? ` in ${formatValue(p.lastDuration, 'seconds')}` : '',
            p.failure ? h('span', { class: 'error-text' }, ` · ${p.failure}`) : null,
            ' · ',
            h('a', { href: exploreHref(`probe_success{job=${JSON.stringify(p.name)}, instance=${JSON.stringify(p.target)}}`, '1d') }, 'history'),
          ),
      recent.length
        ? h(
            'details',
            { class: 'incidents', open: open.length > 0 },
            h('summary', null, `${p.incidents.length} incident${p.incidents.length === 1 ? '' : 's'}${open.length ? ' (ongoing)' : ''}`),
            h(
              'ul',
              null,
              recent.map((i) =>
                h(
                  'li',
                  { 'data-testid': 'probe-incident' },
                  i.end ? '' : badge('ongoing', 'bad'),
                  ` ${i.start ? ago(unix(i.start), now) : '?'}`,
                  i.end ? ` for ${formatValue(Math.max(0, unix(i.end) - unix(i.start)), 'seconds')}` : '',
                  i.cause && !publicView ? h('span', { class: 'muted' }, ` — ${i.cause}`) : '',
                ),
              ),
            ),
          )
        : h('div', { class: 'small muted' }, 'no incidents'),
    ),
  );
}

function mount(root: HTMLElement, ctx: PageContext, publicView: boolean): void {
  const { scope } = ctx;
  const banner = h('div', { class: 'status-banner', 'data-testid': 'status-banner' }, 'loading…');
  const list = h('div', { class: 'probe-list' });
  const header = publicView
    ? h('header', { class: 'status-header' }, h('h1', null, 'Status'), h('span', { class: 'muted small' }, 'updated every 10 s'))
    : pageHeader('Probes', h('a', { href: '/status', 'data-testid': 'status-link' }, 'public status page ↗'));
  replace(root, header, banner, list);

  async function refresh(): Promise<void> {
    try {
      const probes = normalizeProbes(await api.probes(scope.signal));
      const o = overall(probes);
      banner.className = `status-banner ${o.kind}`;
      replace(banner, o.text);
      replace(list, probes.map((p) => probeRow(p, publicView)));
    } catch (e) {
      if (isAbort(e)) return;
      banner.className = 'status-banner warn';
      replace(banner, 'Status unavailable');
      replace(list, publicView ? null : errorBox(e));
    }
  }
  void refresh();
  scope.every(REFRESH_MS, () => void refresh());
}

export const probesPage: Page = (root, ctx) => mount(root, ctx, false);
export const statusPage: Page = (root, ctx) => mount(root, ctx, true);
