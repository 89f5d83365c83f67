import { describe, expect, it } from 'vitest';
import { LEVEL_COLORS } from './gauge';
import { barRows, tableModel } from './panels';

describe('table and bar panels', () => {
  const samples: Array<{ metric: Record<string, string>; value: [number, string] }> = [
    { metric: { __name__: 'up', job: 'a', instance: 'x' }, value: [1, '1'] },
    { metric: { __name__: 'up', job: 'b' }, value: [1, 'NaN'] },
  ];
  it('table: name first, then the label names sorted; a row per series', () => {
    const m = tableModel(samples);
    expect(m.columns).toEqual(['__name__', 'instance', 'job']);
    expect(m.rows.map((r) => r.value)).toEqual([1, null]);
    expect(tableModel([{ metric: {}, value: [1, '2'] }]).columns).toEqual([]);
  });
  it('bars: scaled to a round maximum, coloured by thresholds', () => {
    const r = barRows(
      [
        { metric: { a: '1' }, value: [1, '30'] },
        { metric: { a: '2' }, value: [1, '80'] },
      ],
      { thresholds: [50] },
    );
    expect(r.max).toBe(100);
    expect(r.rows.map((x) => [x.name, x.fraction, x.color])).toEqual([
      ['{a="1"}', 0.3, LEVEL_COLORS[0]],
      ['{a="2"}', 0.8, LEVEL_COLORS[3]],
    ]);
  });
});
