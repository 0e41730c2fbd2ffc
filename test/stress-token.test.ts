/**
 * Replay tokens: encode/decode round trips, and every malformed token is
 * refused with a RangeError naming what is wrong. The seeded PRNG the
 * tokens rely on repeats itself for a seed.
 */
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, type ReplaySpec } from '../dist/src/stress/token.js';
import { seededRandom } from '../dist/src/stress/random.js';

const spec = (over: Partial<ReplaySpec> = {}): ReplaySpec => ({
  scenario: 'v7-2017-blocking', vcpus: 2, its: 1, seconds: 1,
  schedule: { strategy: 'free', seed: 42, pctDepth: 3, stepBudget: 200_000 }, ...over,
});

describe('replay tokens', () => {
  it('round-trip every field, fractional seconds and every strategy included', () => {
    for (const s of [
      spec(),
      spec({ scenario: 'a', vcpus: 64, its: 16, seconds: 0.25, schedule: { strategy: 'pct', seed: 0xffff_ffff, pctDepth: 7, stepBudget: 1 } }),
      spec({ seconds: 86_400, schedule: { strategy: 'random', seed: 0, pctDepth: 1, stepBudget: 1e9 } }),
    ]) {
      const t = encodeToken(s);
      expect(t).toMatch(/^v1\.[A-Za-z0-9._-]+$/); // URL-safe, versioned
      expect(decodeToken(t)).toEqual(s);
    }
    expect(encodeToken(spec())).toBe('v1.v7-2017-blocking.2.1.1000.f.42.3.200000');
  });

  it('refuse bad tokens with a RangeError naming the problem', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['v2.upstream.2.1.1000.f.1.3.200000', /unsupported version 'v2'/],
      ['upstream.2.1.1000.f.1.3.200000', /unsupported version/],
      ['v1.upstream.2.1.1000.f.1.3', /9 or 10 fields/],
      ['v1.upstream.2.1.1000.r.1.3.200000.xyz', /trace hash must be 16 hex digits/],
      ['v1.upstream.2.1.1000.x.1.3.200000', /unknown schedule 'x'/],
      ['v1.Upstream!.2.1.1000.f.1.3.200000', /not a scenario name/],
      ['v1.upstream.0.1.1000.f.1.3.200000', /vcpus must be 1\.\.256/],
      ['v1.upstream.2.99.1000.f.1.3.200000', /its must be 1\.\.16/],
      ['v1.upstream.2.1.0.f.1.3.200000', /seconds must be/],
      ['v1.upstream.2.1.1000.f.-1.3.200000', /seed must be a decimal integer/],
      ['v1.upstream.2.1.1000.f.4294967296.3.200000', /seed must be 0\.\.4294967295/],
      ['v1.upstream.2.1.1000.f.1.0.200000', /pctDepth must be 1\.\.9/],
      ['v1.upstream.2.1.1e3.f.1.3.200000', /milliseconds must be a decimal integer/],
    ];
    for (const [t, msg] of bad) expect(() => decodeToken(t), t).toThrow(RangeError), expect(() => decodeToken(t), t).toThrow(msg);
  });

  it('the seeded PRNG gives the same sequence for the same seed, another for another', () => {
    const seq = (seed: number) => Array.from({ length: 8 }, seededRandom(seed));
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
    expect(seq(7).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
