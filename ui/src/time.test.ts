import { describe, expect, it } from 'vitest';
import {
  ago,
  autoStep,
  exploreSearch,
  formatDuration,
  parseDuration,
  parseExploreState,
  parseTime,
  resolveRange,
  type ExploreState,
} from './time';

describe('parseDuration', () => {
  it('parses Prometheus durations', () => {
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('1d')).toBe(86400);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('2w')).toBe(1209600);
  });
  it('takes plain numbers as seconds', () => {
    expect(parseDuration('15')).toBe(15);
    expect(parseDuration(' 0.5 ')).toBe(0.5);
  });
  it('rejects other text', () => {
    for (const s of ['', 'abc', '5x', '1h junk', '-5m', '0', '0s', 'm']) expect(parseDuration(s)).toBeNull();
    expect(parseDuration(null)).toBeNull();
  });
});

describe('formatDuration', () => {
  it('prints the shortest form', () => {
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(5400)).toBe('1h30m');
    expect(formatDuration(14)).toBe('14s');
    expect(formatDuration(0.25)).toBe('250ms');
    expect(formatDuration(604800)).toBe('1w');
  });
  it('round-trips with parseDuration', () => {
    for (const s of ['5m', '15m', '1h', '3h', '6h', '12h', '1d', '90s']) {
      expect(parseDuration(formatDuration(parseDuration(s)!))).toBe(parseDuration(s));
    }
  });
});

describe('autoStep', () => {
  it('is the range over 250, rounded, at least 1 s', () => {
    expect(autoStep(3600)).toBe(14);
    expect(autoStep(300)).toBe(1);
    expect(autoStep(60)).toBe(1);
    expect(autoStep(86400)).toBe(346);
    expect(autoStep(7 * 86400)).toBe(2419);
  });
});

describe('parseTime', () => {
  it('reads unix seconds and RFC 3339', () => {
    expect(parseTime('1700000000')).toBe(1700000000);
    expect(parseTime('1700000000.5')).toBe(1700000000.5);
    expect(parseTime('2023-11-14T22:13:20Z')).toBe(1700000000);
    expect(parseTime('nonsense')).toBeNull();
    expect(parseTime('')).toBeNull();
  });
});

describe('ago', () => {
  it('prints a relative time', () => {
    expect(ago(95, 100)).toBe('5s ago');
    expect(ago(100 - 180, 100)).toBe('3m ago');
    expect(ago(100 + 7200, 100)).toBe('in 2h');
  });
});

describe('Explore URL state', () => {
  it('has defaults for an empty query string', () => {
    expect(parseExploreState('')).toEqual({ expr: '', range: '1h', step: '', end: null, stacked: false, tab: 'graph' });
  });

  it('reads every parameter', () => {
    const s = parseExploreState('?expr=rate(up%5B5m%5D)&range=6h&step=30s&end=1700000000&stacked=1&tab=table');
    expect(s).toEqual({ expr: 'rate(up[5m])', range: '6h', step: '30s', end: 1700000000, stacked: true, tab: 'table' });
  });

  it('falls back on invalid values', () => {
    const s = parseExploreState('expr=up&range=forever&step=x&tab=pie');
    expect(s.range).toBe('1h');
    expect(s.step).toBe('');
    expect(s.tab).toBe('graph');
  });

  it('round-trips through the URL', () => {
    const states: ExploreState[] = [
      { expr: 'sum by (job) (rate({__name__=~".+_total", a="b&c=d"}[5m]))', range: '3h', step: '', end: null, stacked: false, tab: 'graph' },
      { expr: '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))', range: '7d', step: '1h', end: 1700000000, stacked: true, tab: 'table' },
      { expr: 'a # comment\n+ b', range: '5m', step: '15', end: 1700000000.5, stacked: false, tab: 'table' },
    ];
    for (const s of states) {
      const search = exploreSearch(s);
      expect(search.startsWith('?')).toBe(true);
      expect(parseExploreState(search)).toEqual(s);
      // And through a real URL object, as the router sees it.
      expect(parseExploreState(new URL(`http://x/explore${search}`).search)).toEqual(s);
    }
  });

  it('leaves defaults out of the URL', () => {
    expect(exploreSearch({ expr: 'up', range: '1h', step: '', end: null, stacked: false, tab: 'graph' })).toBe('?expr=up&range=1h');
  });

  it('resolves start, end and step', () => {
    expect(resolveRange({ range: '1h', step: '', end: null }, 10000)).toEqual({ start: 6400, end: 10000, step: 14 });
    expect(resolveRange({ range: '1h', step: '1m', end: 20000 }, 10000)).toEqual({ start: 16400, end: 20000, step: 60 });
  });
});
