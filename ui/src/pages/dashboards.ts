// `/dashboards`: the dashboards the server keeps (`GET /api/v1/dashboards`: the built-in ones and the
// files of its dashboards folder, with a broken file's error), and "New dashboard" (`?new=1`).
// `/dashboards/<id>?var-<name>=…&range=1h`: one dashboard, its variables filled from label values,
// live (or refreshed every 10 s); "Edit" shows its JSON in an editor (Apply previews, Save, Save as…,
// Delete). When the API is not there, the TS-defined built-ins are shown (read-only).

import * as api from '../api';
import { h, isAbort, replace, select, type Child } from '../dom';
import {
  ALL,
  builtinSpec,
  DASHBOARDS,
  dashboardSearch,
  editorText,
  fallbackList,
  labelValuesIn,
  newDashboardSpec,
  PANEL_TYPES,
  parseDashboardJson,
  pickValue,
  specOf,
  substitute,
  validId,
  variableSource,
  variablesOf,
  varsFromUrl,
  type DashboardDoc,
  type DashboardInfo,
  type DashboardSpec,
  type VariableSpec,
} from '../dashboards';
import { LiveFeed, liveAvailable } from '../live';
import { REFRESH_MS, type Page, type PageContext } from '../page';
import { makePanel, type PanelView } from '../panels';
import { parseDuration } from '../time';
import { errorBox, pageHeader, rangePicker } from '../widgets';

/** Whether an error means there is no dashboards API (an older server, no answer), not a refusal. */
export function apiMissing(e: unknown): boolean {
  return e instanceof api.ApiError && (e.errorType === 'network' || e.errorType === 'http');
}

export const dashboardsPage: Page = (root, ctx) => {
  const path = ctx.url.pathname.replace(/\/+$/, '');
  const params = new URLSearchParams(ctx.url.search);
  const m = /^\/dashboards\/([^/]+)$/.exec(path);
  if (m) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      /* keep it as it is */
    }
    dashboardView(root, ctx, id, params);
    return;
  }
  // The older `/dashboards?d=host&job=node` links.
  const legacy = params.get('d');
  if (legacy) {
    const q = new URLSearchParams();
    for (const [k, v] of params) {
      if (k === 'd') continue;
      q.set(k === 'range' || k.startsWith('var-') ? k : `var-${k}`, v);
    }
    const s = q.toString();
    ctx.setUrl(`/dashboards/${encodeURIComponent(legacy)}${s ? `?${s}` : ''}`, true);
    dashboardView(root, ctx, legacy, q);
    return;
  }
  if (params.get('new')) {
    dashboardView(root, ctx, null, params);
    return;
  }
  listView(root, ctx);
};

// --- the list -------------------------------------------------------------------------------

function listView(root: HTMLElement, ctx: PageContext): void {
  const body = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  replace(
    root,
    pageHeader(
      'Dashboards',
      h('button', { class: 'primary', type: 'button', 'data-testid': 'dashboard-new', onclick: () => ctx.navigate('/dashboards?new=1') }, 'New dashboard'),
    ),
    h('section', { class: 'panel' }, body),
  );
  void (async () => {
    let list: DashboardInfo[];
    let note: Child = null;
    try {
      list = await api.dashboards<DashboardInfo[]>(ctx.scope.signal);
      if (!Array.isArray(list)) throw new api.ApiError('http', 'unexpected answer');
    } catch (e) {
      if (isAbort(e)) return;
      list = fallbackList();
      note = h('p', { class: 'muted small', 'data-testid': 'dashboards-fallback' }, `The dashboards API is not available (${String(e)}): the built-in dashboards are shown, read-only.`);
    }
    replace(
      body,
      note,
      h(
        'table',
        { class: 'table', 'data-testid': 'dashboard-list' },
        h('thead', null, h('tr', null, h('th', null, 'dashboard'), h('th', null, 'id'), h('th', null, 'source'), h('th', null, ''))),
        h(
          'tbody',
          null,
          list.map((d) =>
            h(
              'tr',
              { 'data-testid': 'dashboard-row', 'data-id': d.id, 'data-source': d.source, 'data-error': d.error ? '1' : null },
              h(
                'td',
                null,
                d.error
                  ? h('span', { class: 'muted' }, d.title ?? d.id)
                  : h('a', { href: `/dashboards/${encodeURIComponent(d.id)}`, 'data-testid': 'dashboard-link' }, h('strong', null, d.title ?? d.id)),
                d.error ? h('div', { class: 'error-text', 'data-testid': 'dashboard-row-error' }, d.error) : null,
              ),
              h('td', null, h('code', null, d.id)),
              h('td', null, d.source === 'builtin' ? h('span', { class: 'badge badge-muted' }, 'built-in') : h('span', { class: 'badge badge-good' }, 'file'), d.file ? h('div', { class: 'small muted' }, d.file) : null),
              h('td', { class: 'actions' }, d.error ? null : h('a', { href: `/dashboards/${encodeURIComponent(d.id)}?edit=1`, class: 'small' }, d.readonly ? 'view JSON' : 'edit')),
            ),
          ),
        ),
      ),
    );
  })();
}

// --- one dashboard --------------------------------------------------------------------------

/** Loads a dashboard: the API's, or the TS-defined built-in when the API is not there. */
async function loadDashboard(id: string, signal: AbortSignal): Promise<{ doc: DashboardDoc; fallback: string | null }> {
  try {
    const d = await api.dashboard<DashboardDoc>(id, signal);
    if (!d || typeof d !== 'object' || !Array.isArray(d.panels)) throw new api.ApiError('http', 'unexpected answer');
    return { doc: { ...d, id: d.id ?? id }, fallback: null };
  } catch (e) {
    const def = DASHBOARDS.find((x) => x.id === id);
    if (def && apiMissing(e)) return { doc: builtinSpec(def), fallback: String(e) };
    throw e;
  }
}

/**
 * A dashboard (`id`), or a new one (`id` null: the editor with a template and only "Save as…").
 */
function dashboardView(root: HTMLElement, ctx: PageContext, id: string | null, params: URLSearchParams): void {
  const { scope } = ctx;
  const isNew = id === null;
  let doc: DashboardDoc | null = null;
  /** What is drawn: the saved dashboard, or the editor's preview. */
  let spec: DashboardSpec = newDashboardSpec();
  let range = parseDuration(params.get('range')) !== null ? params.get('range')! : '';
  let values: Record<string, string> = {};
  let asked: Record<string, string | null> = {};
  let editing = isNew || params.get('edit') === '1';
  let panels: PanelView[] = [];
  let feed: LiveFeed | null = null;
  let generation = 0;
  let pollTimer: ReturnType<typeof setInterval> | null = null;

  const titleEl = h('h1', null, isNew ? 'New dashboard' : id);
  const varsEl = h('span', { class: 'controls dash-vars' });
  const rangeSlot = h('span');
  const editBtn = h('button', { type: 'button', 'data-testid': 'dashboard-edit', onclick: () => setEditing(!editing) }, 'Edit');
  const metaEl = h('div', { class: 'dash-meta small muted' });
  const noteEl = h('div');
  const grid = h('div', { class: 'dash-grid', 'data-testid': 'dashboard-grid' });

  // The editor.
  const textarea = h('textarea', { class: 'json-editor', 'data-testid': 'dashboard-editor', spellcheck: 'false', rows: 22, 'aria-label': 'dashboard JSON' });
  const errorSlot = h('div', { class: 'dash-error-slot' });
  const quickSlot = h('div');
  const saveBtn = h('button', { class: 'primary', type: 'button', 'data-testid': 'dashboard-save', onclick: () => void save(id) }, 'Save');
  const saveAsId = h('input', { type: 'text', class: 'mid', 'data-testid': 'dashboard-saveas-id', placeholder: 'new id (letters, digits, - _)', 'aria-label': 'new dashboard id' });
  const saveAsBtn = h('button', { type: 'button', 'data-testid': 'dashboard-saveas', onclick: () => void saveAs() }, 'Save as…');
  const deleteBtn = h('button', { class: 'danger', type: 'button', 'data-testid': 'dashboard-delete', onclick: () => void remove() }, 'Delete');
  const applyBtn = h('button', { type: 'button', 'data-testid': 'dashboard-apply', title: 'draw the JSON without saving it', onclick: () => preview() }, 'Apply');
  const editorEl = h(
    'section',
    { class: 'panel dash-editor', 'data-testid': 'dashboard-editor-panel', hidden: !editing },
    h('div', { class: 'panel-head' }, h('h2', null, 'Dashboard JSON'), h('span', { class: 'small muted' }, 'Apply draws it without saving; the server checks it when it is saved.')),
    h(
      'div',
      { class: 'dash-editor-grid' },
      h('div', null, textarea),
      h(
        'div',
        { class: 'dash-editor-side' },
        errorSlot,
        quickSlot,
        h(
          'details',
          { class: 'small muted dash-help' },
          h('summary', null, 'Schema'),
          h(
            'pre',
            null,
            `{title, description?, tags?, refresh?, range?,
 variables?: [{name, label?, default?, query?}],
 panels: [{title, type, expr, unit?, stacked?, wide?,
           min?, max?, thresholds?, decimals?, legend?}]}
type: ${PANEL_TYPES.join(' | ')}
unit: percent | percentunit | bytes | bytes/s | seconds | reqps | ops
$name in expr: a variable's value (a regex; All is .+)
heatmap: histogram buckets, e.g.
  sum by (le) (rate(x_bucket[5m]))`,
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'form-actions' },
      applyBtn,
      saveBtn,
      h('span', { class: 'spacer' }),
      saveAsId,
      saveAsBtn,
      deleteBtn,
      h('button', { type: 'button', class: 'ghost', 'data-testid': 'dashboard-edit-close', onclick: () => close() }, 'Close'),
    ),
  );

  replace(
    root,
    h('div', { class: 'small' }, h('a', { href: '/dashboards', 'data-testid': 'dashboards-back' }, '← Dashboards')),
    pageHeader('', varsEl, rangeSlot, isNew ? null : editBtn),
    metaEl,
    noteEl,
    editorEl,
    grid,
  );
  // The header's title: the page header has an empty h1 to fill.
  root.querySelector('.page-header h1')?.replaceWith(titleEl);

  const showError = (e: unknown, kind: 'json' | 'server') => {
    const box = errorBox(e, 'dashboard-error');
    box.dataset.kind = kind;
    replace(errorSlot, box);
  };
  const showNotice = (text: string) => replace(errorSlot, h('div', { class: 'notice', 'data-testid': 'dashboard-saved' }, text));

  let checkTimer: ReturnType<typeof setTimeout> | null = null;
  textarea.addEventListener('input', () => {
    if (checkTimer) clearTimeout(checkTimer);
    checkTimer = setTimeout(() => {
      const r = parseDashboardJson(textarea.value);
      if (!r.ok) showError(r.error, 'json');
      else if (errorSlot.querySelector('[data-kind="json"]')) replace(errorSlot);
    }, 250);
  });
  scope.add(() => checkTimer && clearTimeout(checkTimer));

  function setEditing(on: boolean): void {
    editing = on;
    editorEl.hidden = !on;
    editBtn.classList.toggle('active', on);
    replace(editBtn, on ? 'Editing' : 'Edit');
    if (on && !textarea.value) textarea.value = editorText(spec);
    replace(quickSlot);
    drawPanels();
    refresh();
  }

  /** Leaves edit mode; unsaved changes (after asking) are dropped and the saved dashboard drawn again. */
  function close(): void {
    if (isNew) {
      ctx.navigate('/dashboards');
      return;
    }
    if (!doc) return setEditing(false);
    const saved = editorText(doc);
    const changed = textarea.value !== saved || editorText(spec) !== saved;
    if (changed && !window.confirm('Discard the changes that are not saved?')) return;
    textarea.value = saved;
    replace(errorSlot);
    editing = false;
    editorEl.hidden = true;
    editBtn.classList.remove('active');
    replace(editBtn, 'Edit');
    replace(quickSlot);
    void show(specOf(doc));
  }

  function updateButtons(): void {
    const readonly = isNew || !doc || doc.readonly;
    saveBtn.disabled = readonly;
    saveBtn.title = isNew ? 'a new dashboard needs an id: use Save as…' : readonly ? 'built-in dashboards are read-only: use Save as… with a new id' : '';
    deleteBtn.hidden = readonly;
  }

  // --- drawing ----------------------------------------------------------------------------

  const rangeSecs = () => parseDuration(range) ?? 3600;
  const defaultRange = () => (parseDuration(spec.range) !== null ? spec.range! : '1h');

  const syncUrl = () => {
    if (isNew) return;
    const q = dashboardSearch(values, range, defaultRange());
    ctx.setUrl(`/dashboards/${encodeURIComponent(id!)}${q}`, true);
  };

  function drawHeader(): void {
    replace(titleEl, spec.title || id || 'Dashboard');
    if (typeof document !== 'undefined' && !isNew) document.title = `${spec.title || id} · vitals`;
    replace(
      metaEl,
      spec.description ? h('span', null, spec.description) : null,
      Array.isArray(spec.tags) && spec.tags.length ? h('span', { class: 'chips' }, spec.tags.map((t) => h('span', { class: 'chip' }, String(t)))) : null,
      doc ? h('span', { 'data-testid': 'dashboard-source' }, doc.source === 'builtin' ? 'built-in (read-only)' : 'file') : null,
    );
    replace(
      rangeSlot,
      h('label', null, 'Range ', rangePicker(range, (v) => {
        range = v;
        syncUrl();
        stopLive();
        refresh();
      }, 'dashboard-range')),
    );
  }

  function drawPanels(): void {
    stopLive();
    for (const p of panels) p.destroy();
    const list = Array.isArray(spec.panels) ? spec.panels : [];
    panels = list.map((p, i) =>
      makePanel(p, { signal: scope.signal, range: () => range, onEdit: editing ? () => quickEdit(i) : undefined }),
    );
    replace(grid, panels.length ? panels.map((p) => p.el) : h('p', { class: 'muted' }, 'This dashboard has no panels yet.'));
  }
  scope.add(() => {
    for (const p of panels) p.destroy();
  });

  // --- variables --------------------------------------------------------------------------

  async function choicesOf(v: VariableSpec): Promise<string[]> {
    const src = variableSource(v);
    if (src.kind === 'label') {
      const match = src.match ? [substitute(src.match, values)] : undefined;
      return ((await api.labelValues(src.label, match, scope.signal)) ?? []).filter((x) => x !== '');
    }
    return labelValuesIn(await api.query(substitute(src.expr, values), undefined, scope.signal), src.label);
  }

  /** Fills the variables from `from` on (in order, so a query can use the ones before it). */
  async function loadVariables(from = 0): Promise<boolean> {
    const vars = variablesOf(spec);
    for (let i = from; i < vars.length; i++) {
      const v = vars[i];
      let choices: string[] = [];
      let failed: string | null = null;
      try {
        choices = await choicesOf(v);
      } catch (e) {
        if (isAbort(e)) return false;
        failed = String(e);
      }
      if (scope.disposed) return false;
      values[v.name] = pickValue(choices, values[v.name] || asked[v.name] || null, v.default);
      const slot = varsEl.querySelector<HTMLElement>(`[data-var="${v.name}"]`);
      if (!slot) continue;
      const opts: Array<[string, string]> = choices.map((c) => [c, c]);
      if (values[v.name] !== ALL && !choices.includes(values[v.name])) opts.unshift([values[v.name], values[v.name]]);
      opts.push([ALL, 'All']);
      replace(
        slot,
        `${v.label || `$${v.name}`} `,
        select(opts, values[v.name], (val) => {
          values[v.name] = val;
          syncUrl();
          stopLive();
          // Variables after this one whose query uses it get new choices.
          const later = vars.findIndex((w, k) => k > i && (w.query ?? '').includes(`$${v.name}`));
          if (later >= 0) void loadVariables(later).then((ok) => ok && refresh());
          else refresh();
        }, { 'data-testid': `dashboard-var-${v.name}`, 'aria-label': v.label || v.name, title: failed ?? '' }),
      );
    }
    return true;
  }

  function drawVariables(): void {
    const vars = variablesOf(spec);
    replace(
      varsEl,
      vars.map((v) =>
        h('label', { 'data-var': v.name }, `${v.label || `$${v.name}`} `, select([values[v.name] || asked[v.name] || '…'], values[v.name] || asked[v.name] || '…', () => {}, { disabled: true })),
      ),
    );
  }

  // --- queries and the live stream --------------------------------------------------------

  const stopLive = () => {
    feed?.close();
    feed = null;
    for (const p of panels) p.setLive(false);
  };
  scope.add(stopLive);

  const startLive = (secs: number) => {
    if (feed || scope.disposed || !liveAvailable()) return;
    const followed = panels.filter((p) => p.live);
    if (followed.length === 0) return;
    const f = new LiveFeed(
      followed.map((p) => substitute(p.spec.expr, values)),
      {
        onResult: (i, d, ev) => {
          if (feed !== f || d instanceof api.ApiError) return;
          followed[i]?.push(d, ev, secs);
        },
        onError: () => {
          if (feed !== f) return;
          feed = null;
          for (const p of panels) p.setLive(false);
        },
      },
    );
    if (f.closed) return;
    feed = f;
    for (const p of followed) p.setLive(true);
  };

  function refresh(only?: PanelView[]): void {
    const secs = rangeSecs();
    const vars = { ...values };
    if (only) {
      for (const p of only) void p.refresh(vars, secs);
      return;
    }
    const my = ++generation;
    void Promise.all(panels.map((p) => p.refresh(vars, secs))).then(() => {
      if (my === generation) startLive(secs);
    });
  }

  function poll(): void {
    if (pollTimer) clearInterval(pollTimer);
    const ms = Math.max(1000, (parseDuration(spec.refresh) ?? REFRESH_MS / 1000) * 1000);
    pollTimer = setInterval(() => {
      if (typeof document !== 'undefined' && document.hidden) return;
      // While live, only the panels the stream does not cover are polled.
      if (feed) {
        const rest = panels.filter((p) => !p.live);
        if (rest.length) refresh(rest);
      } else refresh();
    }, ms);
  }
  scope.add(() => pollTimer && clearInterval(pollTimer));

  /** Draws `spec` (after a load, a preview or a save): header, variables, panels, then queries. */
  async function show(next: DashboardSpec): Promise<void> {
    spec = next;
    if (!range) range = defaultRange();
    drawHeader();
    drawVariables();
    drawPanels();
    updateButtons();
    const ok = await loadVariables();
    if (!ok) return;
    syncUrl();
    refresh();
    poll();
  }

  // --- editing ----------------------------------------------------------------------------

  function parsed(): DashboardSpec | null {
    const r = parseDashboardJson(textarea.value);
    if (!r.ok) {
      showError(r.error, 'json');
      return null;
    }
    return r.value;
  }

  function preview(): void {
    const s = parsed();
    if (!s) return;
    replace(errorSlot);
    void show(s);
  }

  function quickEdit(i: number): void {
    const s = parsed();
    if (!s) return;
    const p = s.panels[i];
    if (!p) return;
    const title = h('input', { type: 'text', class: 'mid', value: p.title ?? '', 'data-testid': 'quick-title', 'aria-label': 'panel title' });
    const type = select([...PANEL_TYPES], p.type, () => {}, { 'data-testid': 'quick-type', 'aria-label': 'panel type' });
    const expr = h('textarea', { class: 'promql-input', rows: 3, 'data-testid': 'quick-expr', 'aria-label': 'panel expression', spellcheck: 'false' });
    expr.value = p.expr ?? '';
    replace(
      quickSlot,
      h(
        'div',
        { class: 'quick-edit', 'data-testid': 'panel-quick-edit' },
        h('strong', null, `Panel ${i + 1}`),
        h('label', null, 'title ', title),
        h('label', null, 'type ', type),
        expr,
        h(
          'div',
          { class: 'form-actions' },
          h('button', {
            type: 'button',
            class: 'primary small',
            'data-testid': 'quick-apply',
            onclick: () => {
              const cur = parsed();
              if (!cur || !cur.panels[i]) return;
              cur.panels[i] = { ...cur.panels[i], title: title.value, type: type.value as typeof p.type, expr: expr.value };
              textarea.value = JSON.stringify(cur, null, 2);
              replace(quickSlot);
              preview();
            },
          }, 'Apply to panel'),
          h('button', { type: 'button', class: 'ghost small', onclick: () => replace(quickSlot) }, 'Cancel'),
        ),
      ),
    );
    title.focus();
  }

  async function save(target: string | null): Promise<void> {
    if (!target) return;
    const s = parsed();
    if (!s) return;
    const as = target !== id;
    const btn = as ? saveAsBtn : saveBtn;
    btn.disabled = true;
    try {
      await api.putDashboard(target, s);
    } catch (e) {
      showError(e, 'server');
      return;
    } finally {
      btn.disabled = false;
      updateButtons();
    }
    if (scope.disposed) return;
    if (as) {
      ctx.navigate(`/dashboards/${encodeURIComponent(target)}`);
      return;
    }
    try {
      doc = (await loadDashboard(target, scope.signal)).doc;
    } catch (e) {
      if (isAbort(e)) return;
      showError(e, 'server');
      return;
    }
    showNotice(`Saved ${target}.`);
    textarea.value = editorText(doc);
    await show(specOf(doc));
  }

  async function saveAs(): Promise<void> {
    const target = saveAsId.value.trim();
    if (!validId(target)) {
      showError('the id must be 1 to 64 letters, digits, "-" or "_"', 'json');
      saveAsId.focus();
      return;
    }
    if (target !== id) {
      try {
        const list = await api.dashboards<DashboardInfo[]>(scope.signal);
        const clash = Array.isArray(list) ? list.find((d) => d.id === target) : undefined;
        if (clash?.readonly) {
          showError(`"${target}" is a built-in dashboard: choose another id`, 'json');
          return;
        }
        if (clash && !window.confirm(`Dashboard "${target}" exists. Replace it?`)) return;
      } catch (e) {
        if (isAbort(e)) return;
        /* the save tells */
      }
    }
    await save(target);
  }

  async function remove(): Promise<void> {
    if (!id || !doc || doc.readonly) return;
    if (!window.confirm(`Delete dashboard "${spec.title || id}" (${id})?`)) return;
    try {
      await api.deleteDashboard(id);
    } catch (e) {
      showError(e, 'server');
      return;
    }
    ctx.navigate('/dashboards');
  }

  // --- start ------------------------------------------------------------------------------

  if (isNew) {
    const s = newDashboardSpec();
    textarea.value = editorText(s);
    asked = varsFromUrl(params, variablesOf(s));
    updateButtons();
    void show(s);
    saveAsId.focus?.();
    return;
  }
  void (async () => {
    let loaded: { doc: DashboardDoc; fallback: string | null };
    try {
      loaded = await loadDashboard(id!, scope.signal);
    } catch (e) {
      if (isAbort(e)) return;
      replace(grid, errorBox(e, 'dashboard-load-error'));
      replace(titleEl, id!);
      editBtn.hidden = true;
      return;
    }
    doc = loaded.doc;
    if (loaded.fallback) {
      replace(noteEl, h('p', { class: 'muted small', 'data-testid': 'dashboards-fallback' }, `The dashboards API is not available (${loaded.fallback}): this is the built-in definition, read-only.`));
      editBtn.hidden = true;
      editing = false;
      editorEl.hidden = true;
    }
    const s = specOf(doc);
    asked = varsFromUrl(params, variablesOf(s));
    textarea.value = editorText(s);
    if (!doc.readonly) saveAsId.value = '';
    else saveAsId.placeholder = `new id, e.g. my-${id}`;
    replace(editBtn, editing ? 'Editing' : 'Edit');
    editBtn.classList.toggle('active', editing);
    await show(s);
  })();
}
