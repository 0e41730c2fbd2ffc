/**
 * Uncontended lock+unlock of the futex Mutex, at each lock_stat level,
 * against the bare pair of atomics it cannot do without (issue 2). Each
 * figure runs on tinybench on a thread of its own (see micro.ts); the
 * batches live in agents/lock.ts and feed every result to a sink.
 *
 * The async figures (agents/async-lock.ts): Mutex.lockAsync() + unlock(), the
 * main thread's way in, uncontended, against async-mutex (what a user would
 * take for async sections on one thread) and against one bare `await`.
 */
import type { LockStatLevel } from '../../sync/arena.js';
import { ASYNC_OPS } from '../agents/async-lock.js';
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

const awaitFloor: Benchmark = {
  name: 'lock.await-floor',
  group: 'lock',
  title: 'one `await` of an already-resolved value (the least an awaited acquire costs)',
  unit: 'ns/op',
  open: (ctx) => microSession(ctx, 'async-lock', 'awaitFloor', null, ASYNC_OPS),
};

const asyncMutex: Benchmark = {
  name: 'lock.async-mutex',
  group: 'lock',
  title: 'async-mutex Mutex: release = await acquire(); release(), uncontended, one thread',
  unit: 'ns/op',
  baseline: awaitFloor.name,
  open: (ctx) => microSession(ctx, 'async-lock', 'asyncMutexAcquire', null, ASYNC_OPS),
};

const asyncMutexExclusive: Benchmark = {
  name: 'lock.async-mutex-exclusive',
  group: 'lock',
  title: 'async-mutex Mutex: await runExclusive(() => 1), uncontended, one thread',
  unit: 'ns/op',
  baseline: awaitFloor.name,
  open: (ctx) => microSession(ctx, 'async-lock', 'asyncMutexRunExclusive', null, ASYNC_OPS),
};

const mutexAsync: Benchmark = {
  name: 'lock.mutex-async',
  group: 'lock',
  title: "Mutex: await lockAsync() + unlock(), uncontended, lock_stat 'off' (the main thread's acquire)",
  unit: 'ns/op',
  baseline: asyncMutex.name,
  compare: [awaitFloor.name, 'lock.mutex-off'],
  open: (ctx) => microSession(ctx, 'async-lock', 'mutexLockAsync', null, ASYNC_OPS),
};

export const lockBenchmarks: Benchmark[] = [
  barePair, mutexBench('off'), mutexBench('counts'), mutexBench('full'), nestedOff, nestedOn,
  awaitFloor, asyncMutex, asyncMutexExclusive, mutexAsync,
];
