// `/targets`: scrape targets grouped by scrape pool.

import * as api from '../api';
import { badge, h, isAbort, labelChips, replace } from '../dom';
import { formatValue } from '../format';
import { groupTargets } from '../model';
import { REFRESH_MS, type Page } from '../page';
import { ago } from '../time';
import { errorBox, pageHeader } from '../widgets';

const healthKind = (h: string) => (h === 'up' ? 'good' : h === 'down' ? 'bad' : 'muted');

export const targetsPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const body = h('div', { 'data-testid': 'target-groups' }, h('p', { class: 'muted' }, 'loading…'));
  let onlyUnhealthy = new URLSearchParams(ctx.url.search).get('unhealthy') === '1';
  const toggle = h('input', {
    type: 'checkbox',
    checked: onlyUnhealthy,
    'data-testid': 'targets-unhealthy',
    onchange: () => {
      onlyUnhealthy = toggle.checked;
      ctx.setUrl(onlyUnhealthy ? '/targets?unhealthy=1' : '/targets', true);
      void refresh();
    },
  });
  const collapsed = new Set<string>();
  replace(root, pageHeader('Targets', h('label', null, toggle, ' only unhealthy')), body);

  async function refresh(): Promise<void> {
    try {
      const d = await api.targets(scope.signal);
      const groups = groupTargets(d?.activeTargets ?? []);
      if (groups.length === 0) {
        replace(body, h('p', { class: 'muted' }, 'No scrape targets are configured.'));
        return;
      }
      const now = Date.now() / 1000;
      replace(
        body,
        groups.map((g) => {
          const shown = onlyUnhealthy ? g.targets.filter((t) => t.health !== 'up') : g.targets;
          if (onlyUnhealthy && shown.length === 0) return null;
          const isCollapsed = collapsed.has(g.pool);
          return h(
            'section',
            { class: 'panel', 'data-testid': 'target-pool', 'data-pool': g.pool },
            h(
              'h2',
              {
                class: 'clickable',
                onclick: () => {
                  if (isCollapsed) collapsed.delete(g.pool);
                  else collapsed.add(g.pool);
                  void refresh();
                },
              },
              `${isCollapsed ? '▸' : '▾'} ${g.pool} `,
              h('span', { class: g.up === g.targets.length ? 'good small' : 'bad small' }, `(${g.up}/${g.targets.length} up)`),
            ),
            isCollapsed
              ? null
              : h(
                  'table',
                  { class: 'table' },
                  h(
                    'thead',
                    null,
                    h('tr', null, h('th', null, 'endpoint'), h('th', null, 'state'), h('th', null, 'labels'), h('th', null, 'last scrape'), h('th', { class: 'num' }, 'duration'), h('th', null, 'error')),
                  ),
                  h(
                    'tbody',
                    null,
                    shown.map((t) => {
                      const last = Date.parse(t.lastScrape);
                      const never = !Number.isFinite(last) || last <= 0;
                      return h(
                        'tr',
                        { 'data-testid': 'target-row', 'data-health': t.health },
                        h('td', null, h('a', { href: t.scrapeUrl, target: '_blank', rel: 'noopener' }, t.scrapeUrl)),
                        h('td', null, badge(t.health, healthKind(t.health), { 'data-testid': 'target-health' })),
                        h('td', null, labelChips(t.labels)),
                        h('td', { title: t.lastScrape }, never ? 'never' : ago(last / 1000, now)),
                        h('td', { class: 'num' }, never ? '' : formatValue(t.lastScrapeDuration, 'seconds')),
                        h('td', { class: 'error-text', 'data-testid': 'target-error' }, t.lastError ?? ''),
                      );
                    }),
                  ),
                ),
          );
        }),
      );
    } catch (e) {
      if (isAbort(e)) return;
      replace(body, errorBox(e));
    }
  }

  void refresh();
  scope.every(REFRESH_MS, () => void refresh());
};
