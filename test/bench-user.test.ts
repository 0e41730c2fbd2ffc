/**
 * User benchmarks (runBenchmarks / defineBenchmark): validated up front with
 * errors naming the field, measured as batches of calls with setup and
 * teardown around them (teardown also after a failure), and reported beside
 * their baseline, which may be a built-in figure pulled into the run.
 */
import { describe, expect, it } from 'vitest';
import { defineBenchmark, runBenchmarks } from '../dist/src/index.js';

describe('user benchmarks', () => {
  it('a malformed spec is a TypeError/RangeError naming the field, before anything runs', async () => {
    expect(() => defineBenchmark({ name: '', fn: () => {} })).toThrow(/^benchmark\.name must be a non-empty string/);
    expect(() => defineBenchmark({ name: 'x', fn: 1 as never })).toThrow(/^benchmark\.fn must be a function/);
    expect(() => defineBenchmark({ name: 'x', fn: () => {}, ops: 0 })).toThrow(RangeError);
    expect(() => defineBenchmark({ name: 'x', fn: () => {}, ops: { full: 1, quick: 1 } as never })).toThrow(/benchmark\.ops\.smoke must be a positive integer/);
    await expect(runBenchmarks([])).rejects.toThrow(/benchmarks must be a non-empty array/);
    await expect(runBenchmarks([{ name: 'a', fn: () => {} }, { name: 'a', fn: () => {} }])).rejects.toThrow(/^benchmarks\[1\]\.name: 'a' is already a figure/);
    await expect(runBenchmarks([{ name: 'lock.bare-pair', fn: () => {} }])).rejects.toThrow(/^benchmarks\[0\]\.name: 'lock\.bare-pair' is already/);
    await expect(runBenchmarks([{ name: 'a', fn: () => {}, baseline: 'nope' }])).rejects.toThrow(/^benchmarks\[0\]\.baseline: no figure 'nope'/);
    await expect(runBenchmarks([{ name: 'a', fn: () => {} }], { budget: 'huge' as never })).rejects.toThrow(/options\.budget must be/);
  });

  it('setup once, fn in timed batches (promises awaited), teardown once; a failing fn is reported and still torn down', async () => {
    const log: string[] = [];
    let calls = 0, awaited = 0;
    const report = await runBenchmarks([
      {
        name: 'user.async', ops: 10,
        setup: () => { log.push('setup'); return { n: 0 }; },
        fn: async (s: { n: number }) => { calls++; s.n++; await Promise.resolve(); awaited++; },
        teardown: (s: { n: number }) => { log.push(`teardown after ${s.n}`); },
        baseline: 'user.sync',
      },
      { name: 'user.sync', fn: () => 1 + 1, ops: 100 },
      { name: 'user.fails', fn: () => { throw new Error('boom'); }, teardown: () => { log.push('teardown of the failed one'); } },
    ], { budget: 'smoke' });
    // Warm-up batch + 2 rounds x 3 batches, 10 calls each; every returned promise finished before the next call.
    expect(calls).toBe(10 * (1 + 2 * 3));
    expect(awaited).toBe(calls);
    expect(log).toEqual(['setup', 'teardown of the failed one', `teardown after ${calls}`]);
    const byName = new Map(report.figures.map((f) => [f.bench.name, f]));
    expect(byName.get('user.async')).toMatchObject({ error: null, baseline: 'user.sync' });
    expect(byName.get('user.async')!.summary!.reps).toBe(6);
    expect(byName.get('user.async')!.ratio).toBeCloseTo(byName.get('user.async')!.summary!.median / byName.get('user.sync')!.summary!.median, 9);
    expect(byName.get('user.fails')!.error).toMatch(/boom/);
  });

  it('a built-in baseline is pulled into the run and sampled in the user group', async () => {
    const report = await runBenchmarks([{ name: 'user.await', fn: () => Promise.resolve(), baseline: 'lock.await-floor', ops: 50 }], { budget: 'smoke' });
    const floor = report.figures.find((f) => f.bench.name === 'lock.await-floor')!;
    expect(floor).toMatchObject({ pulledIn: true, error: null });
    expect(floor.bench.group).toBe('user');
    expect(report.figures.find((f) => f.bench.name === 'user.await')!.ratio).toBeGreaterThan(0);
  });
});
