import { describe, expect, it } from 'vitest';
import { alignToRun, compareRuns, formatChange, mean, median, runStats, type RunStats } from './loadcompare';

const series = (metric: Record<string, string>, values: number[], t0 = 100) => ({ metric, values: values.map((v, i) => [t0 + i, String(v)] as [number, string]) });

describe('median and mean', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(median([NaN, 5])).toBe(5);
  });
  it('mean', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(mean([])).toBeNull();
  });
});

describe('runStats', () => {
  it('takes the median of each quantile over the run’s seconds and the mean rps', () => {
    const lat = [
      series({ run: 'r', quantile: '0.5' }, [0.01, 0.02, 0.5]),
      series({ run: 'r', quantile: '0.90' }, [0.1, 0.2, 0.3]),
      series({ run: 'r', quantile: '0.95' }, [0.2, 0.3, 0.4]),
      series({ run: 'r', quantile: '0.99' }, [1, 1, 9]),
      series({ run: 'r', quantile: '1' }, [2, 3, 4]),
      series({ run: 'other', quantile: '0.5' }, [9, 9, 9]),
    ];
    const s = runStats('r', lat, [series({ run: 'r' }, [90, 100, 110, 120])]);
    expect(s).toEqual({ run: 'r', p50: 0.02, p90: 0.2, p95: 0.3, p99: 1, max: 3, rps: 105, seconds: 3 });
  });
  it('falls back to the request counter’s increase when there are no rps samples', () => {
    const s = runStats('r', [], [], [series({ run: 'r' }, [0, 50, 100, 150, 200])]);
    expect(s.rps).toBe(50);
    expect(s.p50).toBeNull();
    expect(s.seconds).toBe(0);
    // A counter reset counts from 0.
    expect(runStats('r', [], [], [series({ run: 'r' }, [100, 200, 50])]).rps).toBe(75);
  });
});

describe('compareRuns', () => {
  const base: RunStats = { run: 'b', p50: 0.1, p90: 0.2, p95: 0.3, p99: 0.5, max: 1, rps: 100, seconds: 60 };
  it('gives the relative change and calls latency up / throughput down by more than 5 % worse', () => {
    const cur: RunStats = { run: 'c', p50: 0.104, p90: 0.22, p95: 0.25, p99: null, max: 1, rps: 94, seconds: 60 };
    const rows = compareRuns(cur, base);
    expect(rows.map((r) => r.key)).toEqual(['p50', 'p90', 'p95', 'p99', 'max', 'rps']);
    const by = Object.fromEntries(rows.map((r) => [r.key, r]));
    expect(by.p50.verdict).toBe('same');
    expect(by.p50.change).toBeCloseTo(0.04);
    expect(by.p90.verdict).toBe('worse');
    expect(by.p95.verdict).toBe('better');
    expect(by.p99).toMatchObject({ change: null, verdict: null, baseline: 0.5, current: null });
    expect(by.max).toMatchObject({ change: 0, verdict: 'same' });
    expect(by.rps).toMatchObject({ verdict: 'worse', unit: 'reqps' });
    expect(by.rps.change).toBeCloseTo(-0.06);
    expect(compareRuns({ ...base, rps: 110 }, base).find((r) => r.key === 'rps')!.verdict).toBe('better');
  });
  it('takes another tolerance, and no change from a zero baseline', () => {
    const cur = { ...base, p50: 0.104 };
    expect(compareRuns(cur, base, 0.01)[0].verdict).toBe('worse');
    expect(compareRuns({ ...base, p50: 0.1 }, { ...base, p50: 0 })[0].change).toBeNull();
    expect(compareRuns({ ...base, p50: 0 }, { ...base, p50: 0 })[0].change).toBe(0);
  });
  it('formats changes', () => {
    expect(formatChange(0.5)).toBe('+50%');
    expect(formatChange(-0.023)).toBe('−2.3%');
    expect(formatChange(0.0001)).toBe('0%');
    expect(formatChange(null)).toBe('–');
  });
});

describe('alignToRun', () => {
  it('moves a baseline series onto the run’s time axis, relabelled and clipped', () => {
    const s = series({ run: 'b', quantile: '0.95' }, [1, 2, 3, 4], 1000);
    expect(alignToRun(s, 1000, 5000)).toEqual({ metric: { run: 'b', quantile: '0.95' }, values: [[5000, '1'], [5001, '2'], [5002, '3'], [5003, '4']] });
    expect(alignToRun(s, 1000, 5000, { clip: { start: 5001, end: 5002 }, labels: { baseline: 'b' } })).toEqual({
      metric: { baseline: 'b' },
      values: [[5001, '2'], [5002, '3']],
    });
  });
});
