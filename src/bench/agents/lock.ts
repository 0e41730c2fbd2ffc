/** Micro batches of the lock benchmarks (run by agents/micro.ts on their own thread). */
import { LockArena, type LockStatLevel } from '../../sync/arena.js';
import type { Mutex } from '../../sync/mutex.js';
import { ThreadContext } from '../../sync/thread.js';
import { Validator } from '../../sync/validator.js';
import { sink, type MicroBatch } from './micro.js';

export const OPS = 10_000;

/** The physical floor of a lock+unlock: one CAS to take, one store to release. */
export function barePair(): MicroBatch {
  const i32 = new Int32Array(new SharedArrayBuffer(64));
  const tid = 1;
  return {
    ops: OPS,
    batch: () => {
      let acc = 0;
      for (let i = 0; i < OPS; i++) {
        acc += Atomics.compareExchange(i32, 0, 0, tid);
        Atomics.store(i32, 0, 0);
      }
      sink(acc);
    },
  };
}

/** Mutex.lock() + unlock() on a lock nobody else touches, lock_stat at `level`. */
export function mutex(level: LockStatLevel): MicroBatch {
  const arena = LockArena.create({ locks: 4, threads: 4 }, level);
  const m = ThreadContext.register(arena, 'other', 0, 'bench').mutex(arena.allocLock('bench.lock'));
  return lockUnlockBatch(m);
}

/**
 * Lock-heavy path with and without the lock-order validator: while an outer
 * lock is held, lock() + unlock() an inner one (every acquisition consults the
 * dependency graph for the held->inner edge), lock_stat off.
 */
export function mutexNested(validated: boolean): MicroBatch {
  const arena = LockArena.create({ locks: 4, threads: 4 }, 'off');
  const outer = arena.allocLock('bench.outer'), inner = arena.allocLock('bench.inner');
  const ctx = ThreadContext.register(arena, 'other', 0, 'bench');
  if (validated) new Validator(Validator.create(arena, { hierarchy: 'none' }), arena).observe(ctx);
  ctx.mutex(outer).lock();
  const m = ctx.mutex(inner);
  return lockUnlockBatch(m);
}

/** OPS uncontended lock() + unlock() pairs of `m`, results fed to the sink. */
function lockUnlockBatch(m: Mutex): MicroBatch {
  return {
    ops: OPS,
    batch: () => {
      let acc = 0;
      for (let i = 0; i < OPS; i++) {
        acc += m.lock();
        acc += m.unlock();
      }
      sink(acc);
    },
  };
}
