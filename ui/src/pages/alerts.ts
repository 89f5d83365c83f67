// `/alerts`: firing and pending alerts (with silenced state) and the silences, with a form to
// create, edit and expire them.

import * as api from '../api';
import { badge, h, isAbort, labelChips, replace, select, errText } from '../dom';
import { formFromSilence, matcherText, matchersFromLabels, mergeAlerts, silenceBody, sortSilences, type AlertView, type SilenceForm } from '../model';
import { REFRESH_MS, type Page } from '../page';
import { ago, formatTime, parseDuration } from '../time';
import { errorBox, pageHeader } from '../widgets';

const OPS: Array<[string, boolean, boolean]> = [
  ['=', false, true],
  ['!=', false, false],
  ['=~', true, true],
  ['!~', true, false],
];

const USER_KEY = 'vitals.silence.createdBy';

function storedUser(): string {
  try {
    return localStorage.getItem(USER_KEY) ?? '';
  } catch {
    return '';
  }
}

function rememberUser(u: string): void {
  try {
    localStorage.setItem(USER_KEY, u);
  } catch {
    /* private mode */
  }
}

const unix = (t: string) => Date.parse(t) / 1000;

export const alertsPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const alertList = h('div', { class: 'alert-list', 'data-testid': 'alert-list' }, h('p', { class: 'muted' }, 'loading…'));
  const silenceBodyEl = h('tbody');
  const silenceMsg = h('div');
  const formSlot = h('div');
  let showExpired = false;

  const expiredToggle = h('input', {
    type: 'checkbox',
    'data-testid': 'silences-show-expired',
    onchange: () => {
      showExpired = expiredToggle.checked;
      void refresh();
    },
  });

  replace(
    root,
    pageHeader(
      'Alerts',
      h('button', { 'data-testid': 'silence-new', onclick: () => openForm({ matchers: [{ name: '', value: '', isRegex: false, isEqual: true }], startsAt: Date.now(), duration: '2h', createdBy: storedUser(), comment: '' }) }, 'New silence'),
    ),
    formSlot,
    silenceMsg,
    h('section', { class: 'panel' }, h('h2', null, 'Firing and pending'), alertList),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Silences'), h('label', { class: 'small' }, expiredToggle, ' show expired')),
      h(
        'table',
        { class: 'table', 'data-testid': 'silence-table' },
        h(
          'thead',
          null,
          h('tr', null, h('th', null, 'state'), h('th', null, 'matchers'), h('th', null, 'created by'), h('th', null, 'comment'), h('th', null, 'ends'), h('th', null, '')),
        ),
        silenceBodyEl,
      ),
    ),
  );

  function openForm(f: SilenceForm): void {
    const rows = h('div', { class: 'matchers' });
    const matchers = f.matchers.map((m) => ({ ...m }));
    const drawMatchers = () => {
      replace(
        rows,
        matchers.map((m, i) => {
          const op = OPS.find(([, r, e]) => r === m.isRegex && e === (m.isEqual !== false))?.[0] ?? '=';
          return h(
            'div',
            { class: 'matcher-row', 'data-testid': 'silence-matcher' },
            h('input', { type: 'text', value: m.name, placeholder: 'label', 'aria-label': 'label name', 'data-testid': 'matcher-name', oninput: (e: Event) => (m.name = (e.target as HTMLInputElement).value) }),
            select(OPS.map(([o]) => o), op, (v) => {
              const [, r, e] = OPS.find(([o]) => o === v)!;
              m.isRegex = r;
              m.isEqual = e;
            }, { 'aria-label': 'operator', 'data-testid': 'matcher-op' }),
            h('input', { type: 'text', value: m.value, placeholder: 'value', 'aria-label': 'label value', 'data-testid': 'matcher-value', oninput: (e: Event) => (m.value = (e.target as HTMLInputElement).value) }),
            h('button', { class: 'ghost', title: 'remove', 'aria-label': 'remove matcher', onclick: () => { matchers.splice(i, 1); drawMatchers(); } }, '×'),
          );
        }),
        h('button', { class: 'ghost small', 'data-testid': 'matcher-add', onclick: () => { matchers.push({ name: '', value: '', isRegex: false, isEqual: true }); drawMatchers(); } }, '+ matcher'),
      );
    };
    drawMatchers();
    const duration = h('input', { type: 'text', class: 'short', value: f.duration, 'data-testid': 'silence-duration', 'aria-label': 'duration' });
    const endsEl = h('span', { class: 'muted small' });
    const showEnd = () => {
      const d = parseDuration(duration.value);
      replace(endsEl, d === null ? 'invalid duration' : `until ${formatTime(f.startsAt / 1000 + d)}`);
    };
    duration.addEventListener('input', showEnd);
    showEnd();
    const createdBy = h('input', { type: 'text', value: f.createdBy, 'data-testid': 'silence-createdby', 'aria-label': 'created by', placeholder: 'your name' });
    const comment = h('textarea', { rows: 2, 'data-testid': 'silence-comment', 'aria-label': 'comment', placeholder: 'why' });
    comment.value = f.comment;
    const err = h('div');
    const submit = h('button', { class: 'primary', type: 'submit', 'data-testid': 'silence-submit' }, f.id ? 'Update silence' : 'Create silence');
    const form = h(
      'form',
      {
        class: 'panel silence-form',
        'data-testid': 'silence-form',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          replace(err);
          let body: api.SilenceBody;
          try {
            body = silenceBody({ id: f.id, matchers, startsAt: f.id ? f.startsAt : Date.now(), duration: duration.value, createdBy: createdBy.value, comment: comment.value });
          } catch (x) {
            replace(err, errorBox(errText(x), 'silence-error'));
            return;
          }
          submit.disabled = true;
          try {
            const r = await api.postSilence(body);
            rememberUser(body.createdBy);
            replace(formSlot);
            replace(silenceMsg, h('div', { class: 'notice', 'data-testid': 'silence-created' }, `Silence ${r?.silenceID ?? ''} ${f.id ? 'updated' : 'created'}.`));
            void refresh();
          } catch (x) {
            replace(err, errorBox(x, 'silence-error'));
          } finally {
            submit.disabled = false;
          }
        },
      },
      h('h2', null, f.id ? `Edit silence ${f.id}` : 'New silence'),
      h('div', { class: 'field' }, h('div', { class: 'field-label' }, 'Matchers'), rows),
      h('div', { class: 'field' }, h('label', { class: 'field-label' }, 'Duration'), duration, ' ', endsEl),
      h('div', { class: 'field' }, h('label', { class: 'field-label' }, 'Created by'), createdBy),
      h('div', { class: 'field' }, h('label', { class: 'field-label' }, 'Comment'), comment),
      err,
      h('div', { class: 'form-actions' }, submit, h('button', { type: 'button', class: 'ghost', 'data-testid': 'silence-cancel', onclick: () => replace(formSlot) }, 'Cancel')),
    );
    replace(silenceMsg);
    replace(formSlot, form);
    form.scrollIntoView?.({ block: 'nearest' });
    (f.createdBy ? comment : createdBy).focus();
  }

  const alertRow = (a: AlertView) => {
    const silenced = a.silencedBy.length > 0;
    const ann = Object.entries(a.annotations);
    const main = ann.filter(([k]) => k === 'summary' || k === 'description');
    const other = ann.filter(([k]) => k !== 'summary' && k !== 'description');
    return h(
      'div',
      { class: `alert-row state-${a.state}${silenced ? ' silenced' : ''}`, 'data-testid': 'alert-row', 'data-state': a.state, 'data-silenced': silenced ? '1' : '0' },
      h(
        'div',
        { class: 'alert-head' },
        badge(a.state, a.state === 'firing' ? 'bad' : 'warn'),
        silenced ? badge('silenced', 'muted', { title: `by ${a.silencedBy.join(', ')}`, 'data-testid': 'alert-silenced' }) : null,
        a.inhibited ? badge('inhibited', 'muted') : null,
        h('strong', { class: 'alert-name' }, a.labels.alertname ?? '(no alertname)'),
        h('span', { class: 'muted small' }, a.activeAt ? ` since ${ago(unix(a.activeAt))}` : '', a.value ? ` · value ${a.value}` : ''),
        h('span', { class: 'spacer' }),
        h(
          'button',
          {
            class: 'small',
            'data-testid': 'alert-silence',
            onclick: () => openForm({ matchers: matchersFromLabels(a.labels), startsAt: Date.now(), duration: '2h', createdBy: storedUser(), comment: '' }),
          },
          'Silence',
        ),
      ),
      labelChips(a.labels, ['alertname']),
      main.map(([k, v]) => h('p', { class: k === 'summary' ? 'alert-summary' : 'alert-desc' }, v)),
      other.length ? h('dl', { class: 'annotations' }, other.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])) : null,
    );
  };

  async function refresh(): Promise<void> {
    const sig = scope.signal;
    // The rules' alerts with Alertmanager's view when it answers (silences), without it otherwise.
    try {
      const [prom, am] = await Promise.all([
        api.alerts(sig).then((d) => d?.alerts ?? []),
        api.amAlerts(sig).catch((e) => {
          if (isAbort(e)) throw e;
          return [] as api.AmAlert[];
        }),
      ]);
      const list = mergeAlerts(prom, am);
      replace(
        alertList,
        list.length === 0 ? h('p', { class: 'muted', 'data-testid': 'no-alerts' }, 'No alerts are firing or pending.') : list.map(alertRow),
      );
    } catch (e) {
      if (isAbort(e)) return;
      replace(alertList, errorBox(e));
    }
    try {
      const all = sortSilences((await api.silences(sig)) ?? []);
      const list = showExpired ? all : all.filter((s) => s.status?.state !== 'expired');
      replace(
        silenceBodyEl,
        list.length === 0
          ? h('tr', null, h('td', { colspan: 6, class: 'muted' }, showExpired ? 'No silences.' : 'No active or pending silences.'))
          : list.map((s) => {
              const st = s.status?.state ?? '';
              return h(
                'tr',
                { 'data-testid': 'silence-row', 'data-id': s.id, 'data-state': st },
                h('td', null, badge(st, st === 'active' ? 'good' : st === 'pending' ? 'warn' : 'muted')),
                h('td', null, h('span', { class: 'chips' }, (s.matchers ?? []).map((m) => h('span', { class: 'chip' }, matcherText(m))))),
                h('td', null, s.createdBy),
                h('td', null, s.comment),
                h('td', { title: s.endsAt }, st === 'expired' ? `ended ${ago(unix(s.endsAt))}` : `${formatTime(unix(s.endsAt))} (${ago(unix(s.endsAt))})`),
                h(
                  'td',
                  { class: 'actions' },
                  h('button', { class: 'small', 'data-testid': 'silence-edit', onclick: () => openForm(formFromSilence(s)) }, st === 'expired' ? 'Recreate' : 'Edit'),
                  st !== 'expired'
                    ? h(
                        'button',
                        {
                          class: 'small danger',
                          'data-testid': 'silence-expire',
                          onclick: async (e: Event) => {
                            (e.target as HTMLButtonElement).disabled = true;
                            try {
                              await api.expireSilence(s.id);
                              replace(silenceMsg, h('div', { class: 'notice' }, `Silence ${s.id} expired.`));
                            } catch (x) {
                              replace(silenceMsg, errorBox(x, 'silence-error'));
                            }
                            void refresh();
                          },
                        },
                        'Expire',
                      )
                    : null,
                ),
              );
            }),
      );
    } catch (e) {
      if (isAbort(e)) return;
      replace(silenceBodyEl, h('tr', null, h('td', { colspan: 6 }, errorBox(e))));
    }
  }

  void refresh();
  scope.every(REFRESH_MS, () => void refresh());
};
