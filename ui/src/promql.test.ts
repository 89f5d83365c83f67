import { describe, expect, it } from 'vitest';
import { applyCompletion, candidates, classify, filterNames, lookupFor } from './promql';

describe('classify', () => {
  it('offers metrics and functions at the start', () => {
    const c = classify('');
    expect(c.kind).toBe('metric');
    expect(c.prefix).toBe('');
  });

  it('offers metric names and functions after rate(', () => {
    const c = classify('rate(');
    expect(c.kind).toBe('metric');
    expect(c.prefix).toBe('');
    expect(c.from).toBe(5);
    const cands = candidates(c, ['node_cpu_seconds_total', 'up']);
    expect(cands.map((x) => x.text)).toContain('up');
    expect(cands.find((x) => x.text === 'rate')?.kind).toBe('function');
    expect(cands.find((x) => x.text === 'up')?.kind).toBe('metric');
    expect(lookupFor(c)).toEqual({ type: 'metrics' });
    // With nothing typed, metrics come before functions.
    expect(cands[0]).toEqual({ text: 'node_cpu_seconds_total', kind: 'metric' });
  });

  it('ranks prefix matches first among metrics and functions', () => {
    const cands = candidates(classify('rat'), ['ratio_metric', 'my_rate_total']);
    expect(cands.map((c) => c.text)).toEqual(['rate', 'ratio_metric', 'irate', 'limit_ratio', 'my_rate_total']);
  });

  it('takes the typed word as prefix', () => {
    const c = classify('sum(rate(node_cp');
    expect(c).toMatchObject({ kind: 'metric', prefix: 'node_cp', from: 9, to: 16 });
    expect(candidates(c, ['node_cpu_seconds_total', 'up']).map((x) => x.text)).toEqual(['node_cpu_seconds_total']);
  });

  it('offers label names after up{', () => {
    const c = classify('up{');
    expect(c).toMatchObject({ kind: 'labelName', prefix: '', metric: 'up' });
    expect(lookupFor(c)).toEqual({ type: 'labelNames', metric: 'up' });
  });

  it('offers label names after a comma and with a prefix', () => {
    expect(classify('up{job="a", ins')).toMatchObject({ kind: 'labelName', prefix: 'ins', metric: 'up' });
    expect(classify('up {job="a",')).toMatchObject({ kind: 'labelName', prefix: '', metric: 'up' });
  });

  it('offers the values of job after up{job="', () => {
    const c = classify('up{job="');
    expect(c).toMatchObject({ kind: 'labelValue', label: 'job', metric: 'up', prefix: '', quoted: true, quote: '"' });
    expect(lookupFor(c)).toEqual({ type: 'labelValues', label: 'job', metric: 'up' });
  });

  it('keeps the typed part of an unclosed string as prefix', () => {
    const c = classify('rate(http_requests_total{code!="5', 33);
    expect(c).toMatchObject({ kind: 'labelValue', label: 'code', prefix: '5', quoted: true, from: 32 });
    expect(classify('up{job=~"no')).toMatchObject({ kind: 'labelValue', label: 'job', prefix: 'no' });
  });

  it('offers values without a quote yet after the operator', () => {
    expect(classify('up{job=')).toMatchObject({ kind: 'labelValue', label: 'job', quoted: false });
    expect(classify('up{job!~')).toMatchObject({ kind: 'labelValue', label: 'job', quoted: false });
  });

  it('offers nothing inside a string outside a selector', () => {
    expect(classify('label_replace(up, "ds').kind).toBe('none');
  });

  it('offers nothing after a complete selector', () => {
    expect(classify('up{job="a"}').kind).toBe('none');
    expect(classify('up{job="a"} ').kind).toBe('none');
    expect(classify('up{job="a"').kind).toBe('none');
    expect(classify('up ').kind).toBe('none');
  });

  it('offers keywords for a word after a complete expression', () => {
    expect(classify('sum(up) b')).toMatchObject({ kind: 'keyword', prefix: 'b' });
    expect(candidates(classify('sum(up) b')).map((c) => c.text)).toEqual(['bool', 'by']);
  });

  it('offers metrics after a binary operator keyword', () => {
    expect(classify('up and ').kind).toBe('metric');
    expect(classify('up / rat')).toMatchObject({ kind: 'metric', prefix: 'rat' });
  });

  it('offers label names inside by (…)', () => {
    expect(classify('sum by (')).toMatchObject({ kind: 'labelName', grouping: true, prefix: '' });
    expect(classify('sum(rate(x[5m])) by (job, ins')).toMatchObject({ kind: 'labelName', grouping: true, prefix: 'ins' });
    // After the grouping closes, an expression follows.
    expect(classify('sum by (job) (').kind).toBe('metric');
  });

  it('offers durations inside brackets', () => {
    expect(classify('rate(up[')).toMatchObject({ kind: 'duration', prefix: '' });
    expect(classify('rate(up[5')).toMatchObject({ kind: 'duration', prefix: '5' });
    expect(candidates(classify('rate(up[5')).map((c) => c.text)).toEqual(['5m']);
  });

  it('offers nothing in a comment or a number', () => {
    expect(classify('up # rate(').kind).toBe('none');
    expect(classify('histogram_quantile(0.9').kind).toBe('none');
  });

  it('uses the cursor, not the end of the text', () => {
    const text = 'rate(up{job=""}[5m])';
    const c = classify(text, 13);
    expect(c).toMatchObject({ kind: 'labelValue', label: 'job', prefix: '', quoted: true });
    expect(classify(text, 8)).toMatchObject({ kind: 'labelName', metric: 'up' });
  });

  it('handles escaped quotes in strings', () => {
    expect(classify('up{a="x\\"y", b="').kind).toBe('labelValue');
    expect(classify('up{a="x\\"y", b="')).toMatchObject({ label: 'b' });
  });

  it('gives a selector without metric an empty metric', () => {
    expect(classify('{')).toMatchObject({ kind: 'labelName', metric: '' });
    expect(classify('rate({__name__=~"')).toMatchObject({ kind: 'labelValue', label: '__name__', metric: '' });
  });
});

describe('filterNames', () => {
  it('puts prefix matches before substring matches', () => {
    expect(filterNames(['b_up', 'up_b', 'up_a', 'x'], 'up')).toEqual(['up_a', 'up_b', 'b_up']);
    expect(filterNames(['b', 'a'], '')).toEqual(['a', 'b']);
    expect(filterNames(['a1', 'a2', 'a3'], 'a', 2)).toEqual(['a1', 'a2']);
  });
});

describe('applyCompletion', () => {
  it('inserts a function with its parenthesis', () => {
    const text = 'sum(ra';
    const r = applyCompletion(text, classify(text), { text: 'rate', kind: 'function' });
    expect(r).toEqual({ text: 'sum(rate(', cursor: 9 });
  });

  it('replaces the whole word under the cursor', () => {
    const text = 'node_cp + 1';
    const r = applyCompletion(text, classify(text, 4), { text: 'node_cpu_seconds_total', kind: 'metric' });
    expect(r.text).toBe('node_cpu_seconds_total + 1');
    expect(r.cursor).toBe(22);
  });

  it('inserts a label name with an empty matcher and puts the cursor in the quotes', () => {
    const r = applyCompletion('up{jo', classify('up{jo'), { text: 'job', kind: 'label' });
    expect(r).toEqual({ text: 'up{job=""', cursor: 8 });
    const g = applyCompletion('sum by (jo', classify('sum by (jo'), { text: 'job', kind: 'label' });
    expect(g.text).toBe('sum by (job');
  });

  it('completes and closes a quoted value, escaping quotes', () => {
    const r = applyCompletion('up{job="no', classify('up{job="no'), { text: 'no"de', kind: 'value' });
    expect(r.text).toBe('up{job="no\\"de"');
    expect(r.cursor).toBe(r.text.length);
    const closed = applyCompletion('up{job="no"}', classify('up{job="no"}', 10), { text: 'node', kind: 'value' });
    expect(closed.text).toBe('up{job="node"}');
    expect(closed.cursor).toBe(13);
  });

  it('quotes a value typed without quotes', () => {
    const r = applyCompletion('up{job=', classify('up{job='), { text: 'node', kind: 'value' });
    expect(r.text).toBe('up{job="node"');
  });
});
