import { describe, expect, it } from 'vitest';
import {
  ALL,
  builtinSpec,
  DASHBOARDS,
  dashboardSearch,
  editorText,
  jsonSyntaxError,
  labelValuesIn,
  lineCol,
  panelSpan,
  parseDashboardJson,
  pickValue,
  specOf,
  validId,
  variableSource,
  variablesOf,
  varsFromUrl,
} from './dashboards';
import { matchRoute } from './router';

describe('the built-in dashboards in the server schema', () => {
  // The server's built-in JSON (crates/web/src/dashboards/*.json), when the crate is next to the UI.
  const server = import.meta.glob<{ default: unknown }>('../../crates/web/src/dashboards/*.json', { eager: true });
  it('match the JSON the server was generated from', () => {
    for (const d of DASHBOARDS) {
      const spec = specOf(builtinSpec(d));
      expect(spec.variables).toEqual([{ name: 'job', label: 'job', default: d.defaultJob }]);
      const file = server[`../../crates/web/src/dashboards/${d.id}.json`];
      if (file) expect(spec).toEqual(file.default);
    }
    expect(Object.keys(server).length === 0 || Object.keys(server).length === DASHBOARDS.length).toBe(true);
  });
  it('builtinSpec marks them read-only built-ins', () => {
    const d = builtinSpec(DASHBOARDS[0]);
    expect(d).toMatchObject({ id: 'host', source: 'builtin', readonly: true, title: 'Host' });
  });
});

describe('the editor JSON', () => {
  it('leaves out what the server adds', () => {
    const text = editorText({ id: 'x', source: 'file', readonly: false, title: 't', panels: [] });
    expect(JSON.parse(text)).toEqual({ title: 't', panels: [] });
    expect(text).toContain('\n  "title": "t"');
  });
  it('puts the keys in the schema order', () => {
    const text = editorText({
      panels: [{ expr: 'up', type: 'stat', title: 'a', unit: 'percent' }],
      variables: [{ default: 'x', name: 'job' }],
      title: 't',
    } as never);
    expect(text.replace(/\s+/g, '')).toBe('{"title":"t","variables":[{"name":"job","default":"x"}],"panels":[{"title":"a","type":"stat","expr":"up","unit":"percent"}]}');
  });
  it('accepts a dashboard', () => {
    const r = parseDashboardJson('{"title":"t","panels":[{"title":"a","type":"pie","expr":"up"}]}');
    // Panel types, PromQL and the rest are the server's to check.
    expect(r).toEqual({ ok: true, value: { title: 't', panels: [{ title: 'a', type: 'pie', expr: 'up' }] } });
  });
  it('names the line and column of a syntax error', () => {
    const r = parseDashboardJson('{\n  "title": "t",\n  "panels": [}\n}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/^invalid JSON/);
    expect(r.error).toMatch(/line 3 column 14/);
  });
  it('wants an object with a title and a list of panel objects', () => {
    const err = (t: string) => {
      const r = parseDashboardJson(t);
      return r.ok ? null : r.error;
    };
    expect(err('[]')).toBe('a dashboard is a JSON object');
    expect(err('{"panels":[]}')).toBe('title: a non-empty string is required');
    expect(err('{"title":"t"}')).toBe('panels: a list of panels is required');
    expect(err('{"title":"t","panels":[1]}')).toBe('panels[0]: expected an object');
    expect(err('{"title":"t","panels":[],"variables":{}}')).toBe('variables: expected a list');
    expect(err('')).toMatch(/^invalid JSON at line 1 column 1/);
  });
  it('lineCol counts from 1', () => {
    expect(lineCol('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineCol('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
  it('checks ids as the server does', () => {
    expect(validId('my-dash_1')).toBe(true);
    expect(validId('')).toBe(false);
    expect(validId('a b')).toBe(false);
    expect(validId('a/b')).toBe(false);
    expect(validId('x'.repeat(64))).toBe(true);
    expect(validId('x'.repeat(65))).toBe(false);
  });
});

describe('variables and the URL', () => {
  const vars = [{ name: 'job' }, { name: 'env', default: 'prod' }];
  it('reads var-<name>, or the older <name>', () => {
    expect(varsFromUrl(new URLSearchParams('var-job=a&env=b'), vars)).toEqual({ job: 'a', env: 'b' });
    expect(varsFromUrl(new URLSearchParams('job=x&var-job=y'), vars)).toEqual({ job: 'y', env: null });
  });
  it('writes var-<name> and a range other than the default', () => {
    expect(dashboardSearch({ job: 'node', env: ALL }, '1h')).toBe('?var-job=node&var-env=__all__');
    expect(dashboardSearch({ job: 'a b' }, '6h', '1h')).toBe('?var-job=a+b&range=6h');
    expect(dashboardSearch({}, '6h', '6h')).toBe('');
  });
  it('picks the asked value, else the default (All too), else the first', () => {
    expect(pickValue(['a', 'b'], 'b', 'a')).toBe('b');
    expect(pickValue(['a', 'b'], 'zz', 'b')).toBe('b');
    expect(pickValue(['a', 'b'], null, ALL)).toBe(ALL);
    expect(pickValue(['a', 'b'], null, undefined)).toBe('a');
    expect(pickValue([], null, 'x')).toBe(ALL);
  });
  it('reads where a variable gets its choices', () => {
    expect(variableSource({ name: 'job' })).toEqual({ kind: 'label', label: 'job' });
    expect(variableSource({ name: 'job', query: 'label_values(instance)' })).toEqual({ kind: 'label', label: 'instance' });
    expect(variableSource({ name: 'i', query: 'label_values(up{job="$job"}, instance)' })).toEqual({ kind: 'label', label: 'instance', match: 'up{job="$job"}' });
    expect(variableSource({ name: 'handler', query: 'sum by (handler) (rate(x[5m])) > 0' })).toEqual({
      kind: 'query',
      expr: 'sum by (handler) (rate(x[5m])) > 0',
      label: 'handler',
    });
  });
  it('takes the values of the variable label from a query answer', () => {
    expect(
      labelValuesIn(
        {
          resultType: 'vector',
          result: [
            { metric: { h: 'b' }, value: [1, '1'] },
            { metric: { h: 'a' }, value: [1, '1'] },
            { metric: { h: 'b', x: '1' }, value: [1, '1'] },
            { metric: {}, value: [1, '1'] },
          ],
        },
        'h',
      ),
    ).toEqual(['a', 'b']);
    expect(labelValuesIn({ resultType: 'matrix', result: [{ metric: { h: 'z' }, values: [] }] }, 'h')).toEqual(['z']);
    expect(labelValuesIn({ resultType: 'scalar', result: [1, '1'] }, 'h')).toEqual([]);
  });
  it('keeps only variables with usable names', () => {
    expect(variablesOf({ variables: [{ name: 'ok' }, { name: 'a b' }, null as never] }).map((v) => v.name)).toEqual(['ok']);
    expect(variablesOf({})).toEqual([]);
  });
});

describe('layout and routes', () => {
  it('gives stat and gauge one column, the others two; wide doubles', () => {
    expect(panelSpan({ type: 'stat' })).toBe(1);
    expect(panelSpan({ type: 'gauge', wide: true })).toBe(2);
    expect(panelSpan({ type: 'heatmap' })).toBe(2);
    expect(panelSpan({ type: 'table', wide: true })).toBe(4);
  });
  it('routes /dashboards/<id> to the dashboards page', () => {
    expect(matchRoute('/dashboards/host')).toEqual({ page: 'dashboards', nav: true });
    expect(matchRoute('/dashboards/my-dash/')).toEqual({ page: 'dashboards', nav: true });
    expect(matchRoute('/dashboards/a/b')).toEqual({ page: 'notfound', nav: true });
  });
});

describe('jsonSyntaxError', () => {
  it('is null for valid JSON', () => {
    for (const t of ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"]} ', '"s"', '0']) expect(jsonSyntaxError(t)).toBeNull();
  });
  it('finds the first error and says what was expected', () => {
    expect(jsonSyntaxError('{"a": 1,}')).toEqual({ pos: 8, message: 'expected a property name in double quotes, found "}"' });
    expect(jsonSyntaxError('{"a" 1}')).toEqual({ pos: 5, message: "expected ':', found \"1\"" });
    expect(jsonSyntaxError('[1 2]')).toEqual({ pos: 3, message: "expected ',' or ']', found \"2\"" });
    expect(jsonSyntaxError('{"a": tru}')).toEqual({ pos: 6, message: 'expected a value, found "t"' });
    expect(jsonSyntaxError('{"a": "x')?.message).toBe('expected the closing ", found end of input');
    expect(jsonSyntaxError('{} x')).toEqual({ pos: 3, message: 'expected the end of the input, found "x"' });
    expect(jsonSyntaxError("{'a': 1}")?.pos).toBe(1);
  });
});
