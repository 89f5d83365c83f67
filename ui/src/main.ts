// Entry: the nav bar and the client-side router (History API, real paths).

import './style.css';
import { h, replace, Scope } from './dom';
import type { Page, PageContext } from './page';
import { alertsPage } from './pages/alerts';
import { dashboardsPage } from './pages/dashboards';
import { explorePage } from './pages/explore';
import { loadPage } from './pages/load';
import { overviewPage } from './pages/overview';
import { probesPage, statusPage } from './pages/probes';
import { slosPage } from './pages/slos';
import { targetsPage } from './pages/targets';
import { isAppLink, matchRoute, NAV, type PageName } from './router';

const PAGES: Record<PageName, Page> = {
  overview: overviewPage,
  explore: explorePage,
  alerts: alertsPage,
  targets: targetsPage,
  probes: probesPage,
  status: statusPage,
  slos: slosPage,
  dashboards: dashboardsPage,
  load: loadPage,
  notfound: (root) => {
    replace(
      root,
      h('h1', null, 'Not found'),
      h('p', null, 'There is no page at ', h('code', null, location.pathname), '. ', h('a', { href: '/' }, 'Go to the overview'), '.'),
    );
  },
};

let scope: Scope | null = null;

function navBar(active: PageName): HTMLElement {
  return h(
    'nav',
    { class: 'nav', 'data-testid': 'nav' },
    h('a', { class: 'brand', href: '/' }, h('span', { class: 'brand-dot' }), 'vitals'),
    h(
      'div',
      { class: 'nav-links' },
      NAV.map((n) =>
        h('a', { href: n.path, class: n.page === active ? 'active' : '', 'data-testid': `nav-${n.page}` }, n.title),
      ),
    ),
  );
}

function render(): void {
  scope?.dispose();
  const app = document.getElementById('app')!;
  const url = new URL(location.href);
  const route = matchRoute(url.pathname);
  const s = new Scope();
  scope = s;
  const main = h('main', { class: `page page-${route.page}`, 'data-testid': `page-${route.page}` });
  replace(app, route.nav ? navBar(route.page) : null, main);
  const title = NAV.find((n) => n.page === route.page)?.title ?? (route.page === 'status' ? 'Status' : 'Not found');
  document.title = `${title} · vitals`;
  const ctx: PageContext = {
    url,
    scope: s,
    navigate,
    setUrl: (p, rep) => {
      if (p === location.pathname + location.search) return;
      if (rep) history.replaceState(null, '', p);
      else history.pushState(null, '', p);
    },
  };
  try {
    PAGES[route.page](main, ctx);
  } catch (e) {
    replace(main, h('div', { class: 'error' }, `This page failed: ${(e as Error)?.message ?? e}`));
  }
}

export function navigate(path: string, rep = false): void {
  if (rep) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  render();
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target === '_blank' || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || href.startsWith('#') || !isAppLink(a.href, location.origin)) return;
  e.preventDefault();
  const u = new URL(a.href);
  if (u.pathname + u.search === location.pathname + location.search) return;
  navigate(u.pathname + u.search + u.hash);
});

window.addEventListener('popstate', render);
render();
