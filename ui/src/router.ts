// Route table: which page a path shows, and whether it has the nav bar.

export type PageName =
  | 'overview'
  | 'explore'
  | 'alerts'
  | 'targets'
  | 'probes'
  | 'status'
  | 'slos'
  | 'dashboards'
  | 'load'
  | 'notfound';

export interface NavItem {
  page: PageName;
  path: string;
  title: string;
}

export const NAV: NavItem[] = [
  { page: 'overview', path: '/', title: 'Overview' },
  { page: 'explore', path: '/explore', title: 'Explore' },
  { page: 'alerts', path: '/alerts', title: 'Alerts' },
  { page: 'targets', path: '/targets', title: 'Targets' },
  { page: 'probes', path: '/probes', title: 'Probes' },
  { page: 'slos', path: '/slos', title: 'SLOs' },
  { page: 'dashboards', path: '/dashboards', title: 'Dashboards' },
  { page: 'load', path: '/load', title: 'Load tests' },
];

/** The page for a path ('/explore/' is '/explore', `/dashboards/<id>` the dashboards page); `/status` is shown without the nav. */
export function matchRoute(pathname: string): { page: PageName; nav: boolean } {
  let p = pathname.replace(/\/+$/, '') || '/';
  p = p.replace(/\/{2,}/g, '/');
  if (p === '/index.html') p = '/';
  if (p === '/status') return { page: 'status', nav: false };
  // `/dashboards/<id>`: one dashboard.
  if (/^\/dashboards\/[^/]+$/.test(p)) return { page: 'dashboards', nav: true };
  const item = NAV.find((n) => n.path === p);
  return item ? { page: item.page, nav: true } : { page: 'notfound', nav: true };
}

/** Whether a click on a link to `href` should be handled by the router (same origin, a page). */
export function isAppLink(href: string, origin: string): boolean {
  let u: URL;
  try {
    u = new URL(href, origin);
  } catch {
    return false;
  }
  if (u.origin !== origin) return false;
  return !/^\/(api|-|metrics|probe|federate|host)(\/|$)/.test(u.pathname);
}
