// The PromQL editor: a textarea with autocomplete of metric names, functions, label names and
// values. Shift+Enter (or Ctrl+Enter) runs the query.

import * as api from './api';
import { h, replace } from './dom';
import { applyCompletion, candidates, classify, lookupFor, type Candidate, type CompletionContext, type Lookup } from './promql';

/** Caches the name look-ups of the autocomplete for a page's life. */
export class NameSource {
  private cache = new Map<string, Promise<string[]>>();
  constructor(private signal?: AbortSignal) {}

  get(l: NonNullable<Lookup>): Promise<string[]> {
    const key = JSON.stringify(l);
    let p = this.cache.get(key);
    if (!p) {
      p = this.fetch(l).catch(() => {
        this.cache.delete(key);
        return [] as string[];
      });
      this.cache.set(key, p);
    }
    return p;
  }

  private async fetch(l: NonNullable<Lookup>): Promise<string[]> {
    switch (l.type) {
      case 'metrics':
        return (await api.labelValues('__name__', undefined, this.signal)) ?? [];
      case 'labelNames':
        return (await api.labelNames(l.metric ? [l.metric] : undefined, this.signal)) ?? [];
      case 'labelValues': {
        if (!l.label) return [];
        const match = l.metric ? [l.metric] : undefined;
        return (await api.labelValues(l.label, match, this.signal)) ?? [];
      }
    }
  }
}

export interface Editor {
  el: HTMLElement;
  input: HTMLTextAreaElement;
  value(): string;
  setValue(v: string): void;
}

export function promqlEditor(opts: { value: string; onRun: () => void; names: NameSource; placeholder?: string; testid?: string; rows?: number }): Editor {
  const input = h('textarea', {
    class: 'promql-input',
    'data-testid': opts.testid ?? 'explore-input',
    rows: opts.rows ?? 3,
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    placeholder: opts.placeholder ?? 'PromQL expression, e.g. rate(vitals_http_requests_total[5m])  (Shift+Enter runs)',
    'aria-label': 'PromQL expression',
  });
  input.value = opts.value;
  const list = h('ul', { class: 'completions', 'data-testid': opts.testid ? `${opts.testid}-completions` : 'explore-completions', role: 'listbox', hidden: true });
  const el = h('div', { class: 'editor' }, input, list);

  let items: Candidate[] = [];
  let ctx: CompletionContext | null = null;
  let active = 0;
  let seq = 0;

  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(400, Math.max(60, input.scrollHeight + 2))}px`;
  };

  const hide = () => {
    list.hidden = true;
    items = [];
    ctx = null;
  };

  const render = () => {
    replace(
      list,
      items.map((c, i) =>
        h(
          'li',
          {
            class: i === active ? 'active' : '',
            role: 'option',
            'data-testid': 'completion-item',
            'data-kind': c.kind,
            onmousedown: (e: Event) => {
              e.preventDefault();
              accept(i);
            },
          },
          h('span', { class: `kind kind-${c.kind}` }, c.kind === 'function' ? 'fn' : c.kind.slice(0, 1)),
          c.text,
        ),
      ),
    );
    list.hidden = items.length === 0;
    (list.children[active] as HTMLElement | undefined)?.scrollIntoView?.({ block: 'nearest' });
  };

  const update = async () => {
    const my = ++seq;
    const c = classify(input.value, input.selectionStart ?? input.value.length);
    const lookup = lookupFor(c);
    if (c.kind === 'none') return hide();
    const names = lookup ? await opts.names.get(lookup) : [];
    if (my !== seq) return;
    ctx = c;
    items = candidates(c, names, 100);
    active = 0;
    render();
  };

  const accept = (i: number) => {
    if (!ctx || !items[i]) return;
    const r = applyCompletion(input.value, ctx, items[i]);
    input.value = r.text;
    input.setSelectionRange(r.cursor, r.cursor);
    input.focus();
    autosize();
    hide();
    // A completed label name continues into its value, a function into its argument.
    void update();
  };

  input.addEventListener('input', () => {
    autosize();
    void update();
  });
  input.addEventListener('click', () => {
    if (!list.hidden) void update();
  });
  input.addEventListener('blur', () => setTimeout(hide, 100));
  input.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' && (e.shiftKey || e.ctrlKey || e.metaKey))) {
      e.preventDefault();
      hide();
      opts.onRun();
      return;
    }
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      void update();
      return;
    }
    if (list.hidden || items.length === 0) return;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        active = (active + 1) % items.length;
        render();
        break;
      case 'ArrowUp':
        e.preventDefault();
        active = (active - 1 + items.length) % items.length;
        render();
        break;
      case 'Enter':
      case 'Tab':
        e.preventDefault();
        accept(active);
        break;
      case 'Escape':
        e.preventDefault();
        hide();
        break;
    }
  });
  queueMicrotask(autosize);

  return {
    el,
    input,
    value: () => input.value,
    setValue: (v) => {
      input.value = v;
      autosize();
    },
  };
}
