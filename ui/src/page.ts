// What a page gets from the router.

import type { Scope } from './dom';

export interface PageContext {
  url: URL;
  scope: Scope;
  /** Goes to a path (pushing history); `replace` replaces the current entry instead. */
  navigate(path: string, replace?: boolean): void;
  /** Changes the URL without showing the page again (for state kept in the query string). */
  setUrl(pathAndQuery: string, replace?: boolean): void;
}

export type Page = (root: HTMLElement, ctx: PageContext) => void;

/** The refresh interval of the auto-refreshing pages, in ms. */
export const REFRESH_MS = 10_000;
