// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { arcPath, gaugeFraction, gaugeScale, gaugeSvg, LEVEL_COLORS, niceCeil, thresholdColor, thresholdLevel } from './gauge';

describe('thresholds', () => {
  it('count the thresholds reached (sorted)', () => {
    expect(thresholdLevel(10, [50, 80])).toBe(0);
    expect(thresholdLevel(50, [80, 50])).toBe(1);
    expect(thresholdLevel(99, [50, 80])).toBe(2);
    expect(thresholdLevel(null, [50])).toBe(0);
    expect(thresholdLevel(5, undefined)).toBe(0);
  });
  it('colour green, amber … red', () => {
    const [green, amber, orange, red] = LEVEL_COLORS;
    expect(thresholdColor(1, [50])).toBe(green);
    expect(thresholdColor(60, [50])).toBe(red);
    expect([10, 60, 90].map((v) => thresholdColor(v, [50, 80]))).toEqual([green, amber, red]);
    expect([0, 1, 2, 3].map((v) => thresholdColor(v, [1, 2, 3]))).toEqual([green, amber, orange, red]);
    expect(thresholdColor(5, [], '#abc')).toBe('#abc');
  });
});

describe('gauge scale', () => {
  it('rounds up', () => {
    expect(niceCeil(0.7)).toBe(1);
    expect(niceCeil(1.2)).toBe(2);
    expect(niceCeil(2.2)).toBe(2.5);
    expect(niceCeil(420)).toBe(500);
    expect(niceCeil(1000)).toBe(1000);
    expect(niceCeil(0)).toBe(1);
  });
  it('uses the panel min/max, else the unit, else the values and thresholds', () => {
    expect(gaugeScale([5], { min: 1, max: 9 })).toEqual({ min: 1, max: 9 });
    expect(gaugeScale([55], { unit: 'percent' })).toEqual({ min: 0, max: 100 });
    expect(gaugeScale([0.3], { unit: 'percentunit' })).toEqual({ min: 0, max: 1 });
    expect(gaugeScale([420], {})).toEqual({ min: 0, max: 500 });
    expect(gaugeScale([1], { thresholds: [10] })).toEqual({ min: 0, max: 20 });
    expect(gaugeScale([-3, 4], {})).toEqual({ min: -3, max: 5 });
    expect(gaugeScale([], {})).toEqual({ min: 0, max: 1 });
    expect(gaugeScale([5], { min: 5, max: 5 })).toEqual({ min: 5, max: 6 });
  });
  it('places a value on the arc', () => {
    expect(gaugeFraction(50, 0, 100)).toBe(0.5);
    expect(gaugeFraction(150, 0, 100)).toBe(1);
    expect(gaugeFraction(-1, 0, 100)).toBe(0);
    expect(gaugeFraction(null, 0, 100)).toBe(0);
  });
  it('draws arcs clockwise, with the large-arc flag past 180°', () => {
    expect(arcPath(100, 100, 50, 0, 90)).toBe('M 150 100 A 50 50 0 0 1 100 150');
    expect(arcPath(100, 100, 50, 150, 390)).toMatch(/^M 56.7 125 A 50 50 0 1 1 143.3 125$/);
  });
  it('an SVG with the value, its level and colour', () => {
    const g = gaugeSvg(85, { min: 0, max: 100, thresholds: [50, 80], unit: 'percent' });
    expect(g.getAttribute('data-testid')).toBe('gauge');
    expect(g.dataset.value).toBe('85');
    expect(g.dataset.level).toBe('2');
    expect(g.querySelector('.gauge-value')!.textContent).toBe('85%');
    expect(g.querySelector('.gauge-value-arc')!.getAttribute('stroke')).toBe(LEVEL_COLORS[3]);
    expect(g.querySelectorAll('.gauge-band').length).toBe(3);
    expect(gaugeSvg(null, { min: 0, max: 1 }).querySelector('.gauge-value-arc')).toBeNull();
  });
});

