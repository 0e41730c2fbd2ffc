/** Micro batches of the lock benchmarks (run by agents/micro.ts on their own thread). */
import { LockArena, type LockStatLevel } from '../../sync/arena.js';
import { ThreadContext } from '../../sync/thread.js';
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
