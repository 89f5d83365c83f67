import { describe, expect, it } from 'vitest';
import { bucketLabel, bucketsToHeatmap, heatColor, parseLe } from './heatmap';

const s = (le: string | undefined, values: Array<[number, string]>, extra: Record<string, string> = {}) => ({
  metric: le === undefined ? extra : { ...extra, le },
  values,
});

describe('parseLe', () => {
  it('reads bucket bounds', () => {
    expect(parseLe('0.25')).toBe(0.25);
    expect(parseLe('+Inf')).toBe(Infinity);
    expect(parseLe('inf')).toBe(Infinity);
    expect(parseLe('1e-3')).toBe(0.001);
    expect(parseLe('')).toBeNull();
    expect(parseLe('abc')).toBeNull();
    expect(parseLe(undefined)).toBeNull();
  });
});

describe('bucketsToHeatmap', () => {
  it('turns cumulative buckets into counts per bucket and step, sorted by le', () => {
    const d = bucketsToHeatmap([
      s('+Inf', [[10, '10'], [20, '12']]),
      s('0.1', [[10, '2'], [20, '2']]),
      s('0.5', [[10, '7'], [20, '9']]),
    ]);
    expect(d.x).toEqual([10, 20]);
    expect(d.les).toEqual([0.1, 0.5, Infinity]);
    expect(d.counts).toEqual([
      [2, 2],
      [5, 7],
      [3, 3],
    ]);
    expect(d.max).toBe(7);
  });
  it('adds up series with the same le (other labels differ) and ignores series without le', () => {
    const d = bucketsToHeatmap([
      s('1', [[10, '1']], { handler: 'a' }),
      s('1', [[10, '2']], { handler: 'b' }),
      s('+Inf', [[10, '4']], { handler: 'a' }),
      s('+Inf', [[10, '4']], { handler: 'b' }),
      s(undefined, [[10, '100']]),
    ]);
    expect(d.les).toEqual([1, Infinity]);
    expect(d.counts).toEqual([[3], [5]]);
  });
  it('never gives negative counts; gaps stay null and do not change the next bucket', () => {
    const d = bucketsToHeatmap([
      s('0.1', [[10, '5'], [20, '1']]),
      s('0.5', [[10, '4'], [30, '3']]),
      s('+Inf', [[10, '6'], [20, '2'], [30, '3']]),
    ]);
    expect(d.x).toEqual([10, 20, 30]);
    // At 10: 0.5 has 4 < 5 below it → 0; +Inf subtracts the largest below (5).
    expect(d.counts[0]).toEqual([5, 1, null]);
    expect(d.counts[1]).toEqual([0, null, 3]);
    expect(d.counts[2]).toEqual([1, 1, 0]);
  });
  it('treats NaN as no sample and gives an empty heatmap for nothing', () => {
    expect(bucketsToHeatmap([s('1', [[10, 'NaN']])]).counts).toEqual([[null]]);
    expect(bucketsToHeatmap([])).toEqual({ x: [], les: [], counts: [], max: 0 });
  });
});

describe('heatmap labels and colours', () => {
  it('names a bucket by its bounds', () => {
    const les = [0.1, 0.5, Infinity];
    expect(bucketLabel(les, 0, 'seconds')).toBe('≤ 100ms');
    expect(bucketLabel(les, 1, 'seconds')).toBe('100ms – 500ms');
    expect(bucketLabel(les, 2, 'seconds')).toBe('> 500ms');
  });
  it('goes from light to dark', () => {
    expect(heatColor(0)).toBe('rgb(237,248,251)');
    expect(heatColor(1)).toBe('rgb(8,48,107)');
    expect(heatColor(2)).toBe('rgb(8,48,107)');
    expect(heatColor(NaN)).toBe('rgb(237,248,251)');
  });
});
