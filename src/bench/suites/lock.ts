/**
 * Uncontended lock+unlock of the futex Mutex, at each lock_stat level,
 * against the bare pair of atomics it cannot do without (issue 2). Each
 * figure runs on tinybench on a thread of its own (see micro.ts); the
 * batches live in agents/lock.ts and feed every result to a sink.
 */
import type { LockStatLevel } from '../../sync/arena.js';
import { OPS } from '../agents/lock.js';
import { microSession } from '../micro.js';
import type { Benchmark } from '../types.js';

const barePair: Benchmark = {
  name: 'lock.bare-pair',
  group: 'lock',
  title: 'Atomics.compareExchange(0 -> tid) + Atomics.store(0) on an Int32Array of a SharedArrayBuffer',
  unit: 'ns/op',
  open: (ctx) => microSession(ctx, 'lock', 'barePair', null, OPS),
};

function mutexBench(level: LockStatLevel): Benchmark {
  return {
    name: `lock.mutex-${level}`,
    group: 'lock',
    title: `Mutex lock() + unlock(), uncontended, lock_stat '${level}'`,
    unit: 'ns/op',
    baseline: barePair.name,
    ...(level === 'off' ? { targets: [{ maxRatio: 1.5, source: 'issue 2' }] } : {}),
    open: (ctx) => microSession(ctx, 'lock', 'mutex', level, OPS),
  };
}

const nestedOff: Benchmark = {
  name: 'lock.nested-validator-off',
  group: 'lock',
  title: 'Mutex lock() + unlock() of an inner lock while an outer one is held, lock_stat off, no validator',
  unit: 'ns/op',
  open: (ctx) => microSession(ctx, 'lock', 'mutexNested', false, OPS),
};

const nestedOn: Benchmark = {
  name: 'lock.nested-validator-on',
  group: 'lock',
  title: 'the same with the lock-order validator observing (held-stack push and pop; the nesting, checked once, hits the checked-stack memo)',
  unit: 'ns/op',
  baseline: nestedOff.name,
  targets: [{ maxRatio: 1.3, source: 'issue 5' }],
  open: (ctx) => microSession(ctx, 'lock', 'mutexNested', true, OPS),
};

export const lockBenchmarks: Benchmark[] = [
  barePair, mutexBench('off'), mutexBench('counts'), mutexBench('full'), nestedOff, nestedOn,
];
