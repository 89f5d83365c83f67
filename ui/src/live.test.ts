import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type MatrixSeries, type QueryData } from './api';
import {
  appendLive,
  canTryLive,
  chunkQueries,
  firstValue,
  labelsKey,
  LiveFeed,
  liveResolution,
  liveResult,
  liveUrl,
  parseLiveEvent,
  resetLiveFailures,
  type EventSourceLike,
} from './live';

const vec = (...samples: Array<[Record<string, string>, number, string]>): QueryData => ({
  resultType: 'vector',
  result: samples.map(([metric, t, v]) => ({ metric, value: [t, v] })),
});
const s = (metric: Record<string, string>, values: Array<[number, string]>): MatrixSeries => ({ metric, values });

describe('parseLiveEvent', () => {
  it('reads the server event', () => {
    const ev = parseLiveEvent(
      '{"index":1,"initial":true,"commit_ms":1700000000123,"t":1700000000130,"response":{"status":"success","data":{"resultType":"vector","result":[]}}}',
    );
    expect(ev).toEqual({
      index: 1,
      initial: true,
      commitMs: 1700000000123,
      t: 1700000000130,
      response: { status: 'success', data: { resultType: 'vector', result: [] } },
    });
  });

  it('rejects what is not an event', () => {
    expect(parseLiveEvent('not json')).toBeNull();
    expect(parseLiveEvent('null')).toBeNull();
    expect(parseLiveEvent('{"index":-1}')).toBeNull();
    expect(parseLiveEvent('{"t":5}')).toBeNull();
  });

  it('falls back to t for a missing commit time', () => {
    expect(parseLiveEvent('{"index":0,"t":42,"response":null}')!.commitMs).toBe(42);
  });
});

describe('liveResult', () => {
  it('unwraps the Prometheus envelope', () => {
    expect(liveResult({ status: 'success', data: { resultType: 'scalar', result: [1, '2'] } })).toEqual({ resultType: 'scalar', result: [1, '2'] });
  });
  it('turns an error answer into an ApiError', () => {
    const e = liveResult({ status: 'error', errorType: 'execution', error: 'boom' });
    expect(e).toBeInstanceOf(ApiError);
    expect(String(e)).toBe('execution: boom');
  });
  it('refuses an unknown answer', () => {
    expect(liveResult(undefined)).toBeInstanceOf(ApiError);
    expect(liveResult({ status: 'success', data: 3 })).toBeInstanceOf(ApiError);
  });
});

describe('firstValue', () => {
  it('reads vectors and scalars, null for none or NaN', () => {
    expect(firstValue(vec([{}, 1, '12.5']))).toBe(12.5);
    expect(firstValue({ resultType: 'scalar', result: [1, '3'] })).toBe(3);
    expect(firstValue(vec())).toBeNull();
    expect(firstValue(vec([{}, 1, 'NaN']))).toBeNull();
    expect(firstValue({ resultType: 'string', result: [1, 'x'] })).toBeNull();
  });
});

describe('labelsKey', () => {
  it('does not depend on the order of label names', () => {
    expect(labelsKey({ a: '1', b: '2' })).toBe(labelsKey({ b: '2', a: '1' }));
    expect(labelsKey({ a: '1' })).not.toBe(labelsKey({ a: '2' }));
    expect(labelsKey({})).toBe('[]');
  });
});

describe('appendLive', () => {
  const base = [s({ h: 'a' }, [[100, '1'], [110, '2']]), s({ h: 'b' }, [[100, '5'], [110, '6']])];

  it('appends each sample to the series with the same label set', () => {
    const m = appendLive(base, vec([{ h: 'b' }, 120, '7'], [{ h: 'a' }, 120, '3']), 3600);
    expect(m).toEqual([s({ h: 'a' }, [[100, '1'], [110, '2'], [120, '3']]), s({ h: 'b' }, [[100, '5'], [110, '6'], [120, '7']])]);
  });

  it('matches label sets whatever the order of their names', () => {
    const m = appendLive([s({ a: '1', b: '2' }, [[1, '1']])], vec([{ b: '2', a: '1' }, 2, '2']), 3600);
    expect(m.length).toBe(1);
    expect(m[0].values).toEqual([[1, '1'], [2, '2']]);
  });

  it('does not change the matrix it was given', () => {
    const copy = JSON.parse(JSON.stringify(base));
    appendLive(base, vec([{ h: 'a' }, 120, '3']), 3600);
    expect(base).toEqual(copy);
  });

  it('adds a new label set as a new series at the end', () => {
    const m = appendLive(base, vec([{ h: 'c' }, 120, '9']), 3600);
    expect(m.map((x) => x.metric.h)).toEqual(['a', 'b', 'c']);
    expect(m[2].values).toEqual([[120, '9']]);
  });

  it('starts from an empty chart', () => {
    expect(appendLive([], vec([{}, 5, '1']), 60)).toEqual([s({}, [[5, '1']])]);
  });

  it('drops points older than the range before the newest time, and emptied series', () => {
    const m = appendLive([s({ h: 'a' }, [[0, '0'], [50, '1'], [100, '2']]), s({ h: 'old' }, [[10, '1']])], vec([{ h: 'a' }, 120, '3']), 60);
    // start = 120 - 60 = 60
    expect(m).toEqual([s({ h: 'a' }, [[100, '2'], [120, '3']])]);
  });

  it('keeps a point exactly at the range start', () => {
    const m = appendLive([s({}, [[60, '1']])], vec([{}, 120, '2']), 60);
    expect(m[0].values).toEqual([[60, '1'], [120, '2']]);
  });

  it('moves the range with the evaluation time even without samples', () => {
    const m = appendLive([s({ h: 'a' }, [[10, '1'], [100, '2']])], vec(), 60, { t: 130 });
    expect(m).toEqual([s({ h: 'a' }, [[100, '2']])]);
    // Nothing to place the range by: unchanged.
    expect(appendLive(base, vec(), 60)).toBe(base);
  });

  it('replaces a point at the same time and ignores an older one', () => {
    expect(appendLive([s({}, [[10, '1']])], vec([{}, 10, '2']), 60)[0].values).toEqual([[10, '2']]);
    expect(appendLive([s({}, [[10, '1']])], vec([{}, 9, '2']), 60)[0].values).toEqual([[10, '1']]);
  });

  it('in a resolution slot moves a point with the same value forward and keeps at most two', () => {
    let m: MatrixSeries[] = [s({}, [[100, '1']])];
    // Same value in the last point's slot: the point moves.
    m = appendLive(m, vec([{}, 100.4, '1']), 3600, { resolution: 1 });
    expect(m[0].values).toEqual([[100.4, '1']]);
    // A changed value shows at once as a second point of the slot.
    m = appendLive(m, vec([{}, 100.6, '2']), 3600, { resolution: 1 });
    expect(m[0].values).toEqual([[100.4, '1'], [100.6, '2']]);
    // The slot is full: the last point is replaced.
    m = appendLive(m, vec([{}, 100.8, '3']), 3600, { resolution: 1 });
    expect(m[0].values).toEqual([[100.4, '1'], [100.8, '3']]);
    // A new slot gets a new point, same value or not.
    m = appendLive(m, vec([{}, 101.1, '3']), 3600, { resolution: 1 });
    expect(m[0].values).toEqual([[100.4, '1'], [100.8, '3'], [101.1, '3']]);
    // Without a resolution every new time is a point.
    expect(appendLive([s({}, [[100, '1']])], vec([{}, 100.1, '1']), 3600)[0].values.length).toBe(2);
  });

  it('bounds the points however often it is pushed', () => {
    let m: MatrixSeries[] = [];
    // 100 s of pushes every 50 ms with a new value each time; 60 s kept, at most two a second.
    for (let i = 0; i < 2000; i++) m = appendLive(m, vec([{}, 1000 + i * 0.05, String(i)]), 60, { resolution: 1 });
    expect(m[0].values.length).toBeLessThanOrEqual(122);
    expect(m[0].values.at(-1)).toEqual([1000 + 1999 * 0.05, '1999']);
    // A steady value: one a second.
    m = [];
    for (let i = 0; i < 2000; i++) m = appendLive(m, vec([{}, 1000 + i * 0.05, '7']), 60, { resolution: 1 });
    expect(m[0].values.length).toBeLessThanOrEqual(61);
  });

  it('takes a scalar as one unlabelled series', () => {
    const m = appendLive([s({}, [[1, '1']])], { resultType: 'scalar', result: [2, '5'] }, 60);
    expect(m).toEqual([s({}, [[1, '1'], [2, '5']])]);
  });

  it('keeps series a push does not mention (they get a gap)', () => {
    const m = appendLive(base, vec([{ h: 'a' }, 120, '3']), 3600);
    expect(m[1].values).toEqual([[100, '5'], [110, '6']]);
  });

  it('ignores string and matrix answers', () => {
    expect(appendLive(base, { resultType: 'string', result: [1, 'x'] }, 60)).toBe(base);
  });
});

describe('helpers', () => {
  it('liveResolution: a tenth of the step, at least a second', () => {
    expect(liveResolution(4)).toBe(1);
    expect(liveResolution(14)).toBe(1.4);
    expect(liveResolution(30)).toBe(3);
    expect(liveResolution(2419)).toBeCloseTo(241.9);
    expect(liveResolution(NaN)).toBe(1);
  });
  it('liveUrl repeats query', () => {
    expect(liveUrl(['up', 'rate(x[5m])'])).toBe('/api/v1/live?query=up&query=rate%28x%5B5m%5D%29');
  });
  it('canTryLive waits after a failure', () => {
    expect(canTryLive(null, 0)).toBe(true);
    expect(canTryLive(1000, 30_000)).toBe(false);
    expect(canTryLive(1000, 61_000)).toBe(true);
  });
  it('chunkQueries cuts at 20', () => {
    const qs = Array.from({ length: 45 }, (_, i) => `q${i}`);
    expect(chunkQueries(qs).map((c) => c.length)).toEqual([20, 20, 5]);
    expect(chunkQueries([])).toEqual([]);
  });
});

class FakeSource implements EventSourceLike {
  static all: FakeSource[] = [];
  listeners = new Map<string, Array<(e: MessageEvent) => void>>();
  closed = false;
  constructor(public url: string) {
    FakeSource.all.push(this);
  }
  addEventListener(type: string, l: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data?: unknown) {
    for (const l of this.listeners.get(type) ?? []) l({ data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent);
  }
}

describe('LiveFeed', () => {
  afterEach(() => {
    FakeSource.all = [];
    resetLiveFailures();
  });

  it('gives each query its answers with the index of the list it was given', () => {
    const qs = Array.from({ length: 22 }, (_, i) => `q${i}`);
    const got: Array<[number, unknown, number]> = [];
    const feed = new LiveFeed(qs, { onResult: (i, d, ev) => got.push([i, d, ev.commitMs]), onError: vi.fn() }, (u) => new FakeSource(u));
    expect(FakeSource.all.length).toBe(2);
    expect(new URL(FakeSource.all[1].url, 'http://x').searchParams.getAll('query')).toEqual(['q20', 'q21']);
    const response = { status: 'success', data: { resultType: 'vector', result: [] } };
    FakeSource.all[1].emit('result', { index: 1, initial: false, commit_ms: 7, t: 8, response });
    FakeSource.all[0].emit('result', { index: 0, initial: true, commit_ms: 5, t: 6, response });
    FakeSource.all[0].emit('result', 'garbage');
    FakeSource.all[0].emit('result', { index: 99, t: 1, response });
    expect(got).toEqual([
      [21, { resultType: 'vector', result: [] }, 7],
      [0, { resultType: 'vector', result: [] }, 5],
    ]);
    feed.close();
    expect(FakeSource.all.every((s) => s.closed)).toBe(true);
    FakeSource.all[0].emit('result', { index: 0, t: 6, response });
    expect(got.length).toBe(2);
  });

  it('closes everything and calls onError once when a stream fails', () => {
    const onError = vi.fn();
    const feed = new LiveFeed(Array.from({ length: 25 }, (_, i) => `q${i}`), { onResult: vi.fn(), onError }, (u) => new FakeSource(u));
    FakeSource.all[1].emit('error');
    FakeSource.all[0].emit('error');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(feed.closed).toBe(true);
    expect(FakeSource.all.every((s) => s.closed)).toBe(true);
  });
});
