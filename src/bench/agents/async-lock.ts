/**
 * Micro batches of the async lock figures (run by agents/micro.ts on their
 * own thread, awaited inside tinybench's timed window): our Mutex.lockAsync()
 * + unlock() uncontended, against async-mutex's Mutex (acquire + release, and
 * runExclusive of a no-op), the library a user would take for async sections
 * on one thread. Every operation awaits, as a caller would.
 */
import { Mutex as AsyncMutex } from 'async-mutex';
import { LockArena } from '../../sync/arena.js';
import { ThreadContext } from '../../sync/thread.js';
import { sink, type MicroBatch } from './micro.js';

export const ASYNC_OPS = 10_000;

/** `await m.lockAsync()` + `m.unlock()` on an arena lock nobody else touches, lock_stat off. */
export function mutexLockAsync(): MicroBatch {
  const arena = LockArena.create({ locks: 4, threads: 4 }, 'off');
  const m = ThreadContext.register(arena, 'other', 0, 'bench').mutex(arena.allocLock('bench.lock'));
  return {
    ops: ASYNC_OPS,
    async: true,
    batch: async () => {
      let acc = 0;
      for (let i = 0; i < ASYNC_OPS; i++) {
        acc += await m.lockAsync();
        acc += m.unlock();
      }
      sink(acc);
    },
  };
}

/** `const release = await mutex.acquire(); release()` on an async-mutex Mutex. */
export function asyncMutexAcquire(): MicroBatch {
  const m = new AsyncMutex();
  return {
    ops: ASYNC_OPS,
    async: true,
    batch: async () => {
      let acc = 0;
      for (let i = 0; i < ASYNC_OPS; i++) {
        const release = await m.acquire();
        release();
        acc++;
      }
      sink(acc);
    },
  };
}

/** `await mutex.runExclusive(noop)` on an async-mutex Mutex (the callback returns a number). */
export function asyncMutexRunExclusive(): MicroBatch {
  const m = new AsyncMutex();
  const noop = (): number => 1;
  return {
    ops: ASYNC_OPS,
    async: true,
    batch: async () => {
      let acc = 0;
      for (let i = 0; i < ASYNC_OPS; i++) acc += await m.runExclusive(noop);
      sink(acc);
    },
  };
}

/** The floor of any awaited acquire: one `await` of an already-resolved value per operation. */
export function awaitFloor(): MicroBatch {
  return {
    ops: ASYNC_OPS,
    async: true,
    batch: async () => {
      let acc = 0;
      for (let i = 0; i < ASYNC_OPS; i++) acc += await i;
      sink(acc);
    },
  };
}
