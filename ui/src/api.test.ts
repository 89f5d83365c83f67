import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, buildUrl, expireSilence, labelValues, parseResponse, postSilence, query, queryScalar } from './api';

describe('parseResponse', () => {
  it('unwraps the Prometheus envelope', () => {
    expect(parseResponse(200, '{"status":"success","data":["a","b"]}')).toEqual(['a', 'b']);
  });

  it('turns an error body into an ApiError with its errorType', () => {
    try {
      parseResponse(400, '{"status":"error","errorType":"bad_data","error":"parse error at char 5: unexpected }"}');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      const a = e as ApiError;
      expect(a.errorType).toBe('bad_data');
      expect(a.message).toBe('parse error at char 5: unexpected }');
      expect(a.status).toBe(400);
      expect(String(a)).toBe('bad_data: parse error at char 5: unexpected }');
    }
  });

  it('treats an error envelope as an error even with status 200', () => {
    expect(() => parseResponse(200, '{"status":"error","errorType":"execution","error":"boom"}')).toThrowError(/boom/);
  });

  it('maps a non-JSON failure to errorType http with the body text', () => {
    const f = () => parseResponse(404, 'silence not found\n');
    expect(f).toThrowError(ApiError);
    try {
      f();
    } catch (e) {
      expect((e as ApiError).errorType).toBe('http');
      expect((e as ApiError).message).toBe('silence not found');
      expect((e as ApiError).status).toBe(404);
    }
  });

  it('maps an empty failure body to the status code', () => {
    expect(() => parseResponse(503, '')).toThrowError('HTTP 503');
  });

  it('maps an Alertmanager error object', () => {
    expect(() => parseResponse(400, '{"code":601,"message":"bad matcher"}')).toThrowError('bad matcher');
  });

  it('returns other JSON (Alertmanager v2) whole', () => {
    expect(parseResponse(200, '[{"id":"1"}]')).toEqual([{ id: '1' }]);
    expect(parseResponse(200, '{"silenceID":"abc"}')).toEqual({ silenceID: 'abc' });
    expect(parseResponse(200, '')).toBe('');
  });
});

describe('buildUrl', () => {
  it('encodes parameters and repeats arrays', () => {
    expect(buildUrl('/api/v1/series', { 'match[]': ['up', 'a{b="c"}'], start: 1 })).toBe(
      '/api/v1/series?match%5B%5D=up&match%5B%5D=a%7Bb%3D%22c%22%7D&start=1',
    );
    expect(buildUrl('/x', { a: undefined })).toBe('/x');
  });
});

describe('fetch helpers', () => {
  afterEach(() => vi.unstubAllGlobals());

  function stub(status: number, body: string) {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ url, init });
        return new Response(body, { status });
      }),
    );
    return calls;
  }

  it('sends the query and returns data', async () => {
    const calls = stub(200, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    const d = await query('sum(up)', 100);
    expect(d).toEqual({ resultType: 'vector', result: [] });
    expect(calls[0].url).toBe('/api/v1/query?query=sum%28up%29&time=100');
  });

  it('rejects with the API error', async () => {
    stub(422, '{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}');
    await expect(query('a / b')).rejects.toMatchObject({ errorType: 'execution', message: 'many-to-many matching not allowed' });
  });

  it('maps a network failure to errorType network', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }));
    await expect(query('up')).rejects.toMatchObject({ errorType: 'network' });
  });

  it('reads a scalar value or null', async () => {
    stub(200, '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"42.5"]}]}}');
    expect(await queryScalar('x')).toBe(42.5);
    stub(200, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    expect(await queryScalar('x')).toBeNull();
    stub(200, '{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}');
    expect(await queryScalar('x')).toBe(7);
  });

  it('escapes label names in paths', async () => {
    const calls = stub(200, '{"status":"success","data":["node"]}');
    expect(await labelValues('job', ['up'])).toEqual(['node']);
    expect(calls[0].url).toBe('/api/v1/label/job/values?match%5B%5D=up');
  });

  it('posts silences as JSON and expires with DELETE', async () => {
    const calls = stub(200, '{"silenceID":"s1"}');
    const body = { matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }], startsAt: 'x', endsAt: 'y', createdBy: 'me', comment: 'c' };
    expect(await postSilence(body)).toEqual({ silenceID: 's1' });
    expect(calls[0].init.method).toBe('POST');
    expect(JSON.parse(calls[0].init.body as string)).toEqual(body);
    await expireSilence('s/1');
    expect(calls[1].url).toBe('/api/v2/silence/s%2F1');
    expect(calls[1].init.method).toBe('DELETE');
  });
});
