import { describe, expect, it } from 'vitest';
import type { MatrixSeries } from './api';
import { alignMatrix, sampleValue, yRange } from './chart';
import { axisLabels, formatLabels, formatValue } from './format';

const s = (metric: Record<string, string>, values: Array<[number, string]>): MatrixSeries => ({ metric, values });

describe('alignMatrix', () => {
  it('gives an empty result for no series', () => {
    expect(alignMatrix([])).toEqual({ x: [], ys: [], raw: [], labels: [] });
  });

  it('aligns one series as is', () => {
    const a = alignMatrix([s({ job: 'a' }, [[10, '1'], [20, '2'], [30, '3']])]);
    expect(a.x).toEqual([10, 20, 30]);
    expect(a.ys).toEqual([[1, 2, 3]]);
    expect(a.labels).toEqual([{ job: 'a' }]);
  });

  it('puts nulls in gaps of a series', () => {
    const a = alignMatrix([
      s({ i: '1' }, [[10, '1'], [20, '2'], [30, '3'], [40, '4']]),
      s({ i: '2' }, [[10, '5'], [40, '8']]),
    ]);
    expect(a.x).toEqual([10, 20, 30, 40]);
    expect(a.ys[1]).toEqual([5, null, null, 8]);
  });

  it('aligns series with different timestamps on their union, sorted', () => {
    const a = alignMatrix([
      s({ i: '1' }, [[30, '3'], [50, '5']]),
      s({ i: '2' }, [[10, '1'], [30, '30'], [40, '4']]),
    ]);
    expect(a.x).toEqual([10, 30, 40, 50]);
    expect(a.ys).toEqual([
      [null, 3, null, 5],
      [1, 30, 4, null],
    ]);
    // Every series has one value per timestamp.
    for (const y of a.ys) expect(y.length).toBe(a.x.length);
  });

  it('turns NaN and infinities into gaps', () => {
    const a = alignMatrix([s({}, [[1, 'NaN'], [2, '+Inf'], [3, '-Inf'], [4, '1e3']])]);
    expect(a.ys[0]).toEqual([null, null, null, 1000]);
    expect(sampleValue('0.25')).toBe(0.25);
    expect(sampleValue('x')).toBeNull();
  });

  it('stacks: each series is the sum of itself and the ones before', () => {
    const m = [
      s({ i: '1' }, [[10, '1'], [20, '2'], [30, '3']]),
      s({ i: '2' }, [[10, '10'], [30, '30']]),
      s({ i: '3' }, [[10, '100'], [20, '200'], [30, '300']]),
    ];
    const a = alignMatrix(m, { stacked: true });
    expect(a.ys).toEqual([
      [1, 2, 3],
      [11, null, 33],
      [111, 202, 333],
    ]);
    // The unstacked values are kept for the legend.
    expect(a.raw).toEqual([
      [1, 2, 3],
      [10, null, 30],
      [100, 200, 300],
    ]);
    // Without stacking the values are the raw ones.
    expect(alignMatrix(m).ys).toEqual(a.raw);
  });

  it('does not change its input', () => {
    const m = [s({ i: '1' }, [[10, '1']]), s({ i: '2' }, [[10, '2']])];
    const copy = JSON.parse(JSON.stringify(m));
    alignMatrix(m, { stacked: true });
    expect(m).toEqual(copy);
  });
});

describe('formatLabels', () => {
  it('prints name and sorted labels', () => {
    expect(formatLabels({ job: 'node', __name__: 'up', instance: 'a:1' })).toBe('up{instance="a:1", job="node"}');
    expect(formatLabels({ job: 'x' })).toBe('{job="x"}');
    expect(formatLabels({})).toBe('{}');
    expect(formatLabels({ __name__: 'up' })).toBe('up');
    expect(formatLabels({ a: 'q"uote' })).toBe('{a="q\\"uote"}');
  });
});

describe('formatValue', () => {
  it('formats per unit', () => {
    expect(formatValue(12.345, 'percent')).toBe('12.3%');
    expect(formatValue(0.5, 'percentunit')).toBe('50%');
    expect(formatValue(1536, 'bytes')).toBe('1.5KiB');
    expect(formatValue(0.25, 'seconds')).toBe('250ms');
    expect(formatValue(90, 'seconds')).toBe('90s');
    expect(formatValue(1500)).toBe('1.5k');
    expect(formatValue(0.00012)).toBe('120µ');
    expect(formatValue(0.449, 'reqps')).toBe('0.449 req/s');
    expect(formatValue(0.5)).toBe('0.5');
    expect(formatValue(2500, 'reqps')).toBe('2.5k req/s');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(null)).toBe('–');
    expect(formatValue(NaN)).toBe('–');
    expect(formatValue(Infinity)).toBe('+Inf');
  });
});

describe('axisLabels', () => {
  it('adds digits until ticks differ', () => {
    expect(axisLabels([70.8, 70.85, 70.9, 70.95, 71], 'percent')).toEqual(['70.8%', '70.85%', '70.9%', '70.95%', '71%']);
    expect(axisLabels([0, 25, 50], 'percent')).toEqual(['0%', '25%', '50%']);
    expect(axisLabels([1000, 1001, 1002])).toEqual(['1k', '1.001k', '1.002k']);
  });
});

describe('yRange', () => {
  it('gives flat series a range from zero', () => {
    expect(yRange(null, 0, 0)).toEqual([0, 1]);
    expect(yRange(null, 4, 4)).toEqual([0, 5]);
    expect(yRange(null, -4, -4)).toEqual([-5, 0]);
    expect(yRange(null, null, null)).toEqual([0, 1]);
  });
  it('pads other ranges without going below zero for positive data', () => {
    const [lo, hi] = yRange(null, 1, 9);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(lo).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThanOrEqual(9);
    const [nlo] = yRange(null, -5, 5);
    expect(nlo).toBeLessThanOrEqual(-5);
  });
});
