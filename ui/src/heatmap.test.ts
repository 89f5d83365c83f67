import { describe, expect, it } from 'vitest';
import { appendHeatmapLive, bucketLabel, bucketsToHeatmap, heatColor, parseLe } from './heatmap';

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

describe('live heatmap columns', () => {
  const grid = { start: 100, step: 10 };
  const push = (t: number, low: string, all: string) => ({
    resultType: 'vector' as const,
    result: [
      { metric: { le: '0.1' }, value: [t, low] as [number, string] },
      { metric: { le: '+Inf' }, value: [t, all] as [number, string] },
    ],
  });
  const base = [s('0.1', [[100, '1'], [110, '2'], [120, '3']]), s('+Inf', [[100, '2'], [110, '4'], [120, '6']])];

  it('moves a push to the nearest column: the same step updates it, the next step opens one', () => {
    let r = appendHeatmapLive(base, push(124, '5', '9'), grid, 30, 124);
    let d = bucketsToHeatmap(r.matrix);
    expect(d.x).toEqual([100, 110, 120]);
    expect(d.counts.map((row) => row[2])).toEqual([5, 4]);
    expect(r.range).toEqual({ start: 90, end: 120, step: 10 });
    r = appendHeatmapLive(r.matrix, push(126, '6', '10'), grid, 30, 126);
    d = bucketsToHeatmap(r.matrix);
    expect(d.x).toEqual([100, 110, 120, 130]);
    expect(d.counts.map((row) => row[3])).toEqual([6, 4]);
    r = appendHeatmapLive(r.matrix, push(131, '7', '12'), grid, 30, 131);
    expect(bucketsToHeatmap(r.matrix).x).toEqual([100, 110, 120, 130]);
    expect(bucketsToHeatmap(r.matrix).counts.map((row) => row[3])).toEqual([7, 5]);
  });

  it('drops columns older than the range and leaves the given matrix alone', () => {
    const r = appendHeatmapLive(base, push(146, '1', '1'), grid, 30, 146);
    expect(bucketsToHeatmap(r.matrix).x).toEqual([120, 150]);
    expect(r.range).toEqual({ start: 120, end: 150, step: 10 });
    expect(base[0].values.length).toBe(3);
  });
});
