// Small DOM helpers: `h` builds an element from a tag, attributes and children.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, unknown>;

/**
 * `h('div', {class: 'x', 'data-testid': 'y', onclick: fn}, 'text', otherNode)`.
 * Attributes starting with `on` and given a function become event listeners; `false`/`null`/`undefined`
 * attributes are left out; `true` sets an empty attribute; `value`/`checked` set the property.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v as EventListener);
      } else if (k === 'value' || k === 'checked' || k === 'selected') {
        (el as unknown as Record<string, unknown>)[k] = v;
      } else if (k === 'style' && typeof v === 'object') {
        Object.assign(el.style, v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces all children of `el`. */
export function replace(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/** A muted "no data" marker with an optional reason as tooltip. */
export function noData(reason?: string): HTMLElement {
  return h('span', { class: 'nodata', 'data-testid': 'no-data', title: reason }, 'no data');
}

/** A `<select>` from options. */
export function select(
  options: Array<string | [string, string]>,
  value: string,
  onchange: (v: string) => void,
  attrs: Attrs = {},
): HTMLSelectElement {
  const s = h(
    'select',
    { ...attrs, onchange: (e: Event) => onchange((e.target as HTMLSelectElement).value) },
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, label);
    }),
  );
  s.value = value;
  return s;
}

/** A coloured badge such as up/down/firing. */
export function badge(text: string, kind: string, attrs: Attrs = {}): HTMLElement {
  return h('span', { class: `badge badge-${kind}`, ...attrs }, text);
}

/** Labels as a row of `name="value"` chips (without `__name__` unless asked). */
export function labelChips(labels: Record<string, string> | undefined, skip: string[] = []): HTMLElement {
  const names = Object.keys(labels ?? {})
    .filter((k) => !skip.includes(k))
    .sort();
  return h(
    'span',
    { class: 'chips' },
    names.map((k) => h('span', { class: 'chip' }, `${k}="${(labels ?? {})[k]}"`)),
  );
}

/**
 * Everything a page starts that must be stopped when the page is left: timers, charts, aborts.
 */
export class Scope {
  private fns: Array<() => void> = [];
  private ctl = new AbortController();
  disposed = false;

  /** An abort signal that fires when the page is left. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  add(fn: () => void): void {
    if (this.disposed) fn();
    else this.fns.push(fn);
  }

  /** Runs `fn` every `ms` while the page is shown (skipped while the tab is hidden). */
  every(ms: number, fn: () => void): void {
    const id = setInterval(() => {
      if (typeof document !== 'undefined' && document.hidden) return;
      fn();
    }, ms);
    this.add(() => clearInterval(id));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctl.abort();
    for (const f of this.fns.splice(0)) {
      try {
        f();
      } catch {
        /* a failing cleanup must not stop the others */
      }
    }
  }
}

/** Error text for display. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** True for errors caused by leaving the page (fetch aborted). */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException ? e.name === 'AbortError' : (e as { name?: string })?.name === 'AbortError';
}
