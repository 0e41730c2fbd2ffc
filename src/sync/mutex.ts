/**
 * A futex-style mutex over one Int32 word of the lock arena (robust-futex word
 * layout: owner tid | FUTEX_WAITERS | FUTEX_OWNER_DIED). Owns the acquire and
 * release protocol and lock_stat bookkeeping; nothing else.
 *
 *   lock()       blocking (Atomics.wait): workers only; optional timeout
 *   lockAsync()  for the main thread (Atomics.waitAsync, keeps the process alive)
 *   tryLock()    never waits
 *   unlock()     -EPERM unless the calling thread owns the lock
 *
 * Results are 0, -EOWNERDEAD (acquired, previous owner died holding it),
 * -EBUSY (tryLock), -ETIMEDOUT, or -EPERM (unlock by a non-owner).
 */
import {
  FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, LockArena, S_ACQ, S_CONTENDED, S_HOLD_MAX,
  S_HOLD_START, S_HOLD_TOTAL, S_TRYLOCK_FAIL, S_WAIT_MAX, S_WAIT_TOTAL, T_WAIT_LOCK,
} from './arena.js';
import { EBUSY, EOWNERDEAD, EPERM, ETIMEDOUT } from '../uapi/errno.js';
import type { ThreadContext } from './thread.js';
import type { Schedule } from './schedule.js';

/** Spins before parking: a handoff between two running threads costs far less than a futex wake. */
const SPIN_LIMIT = 128;

/** 0, or a negative errno (see the header). */
export type LockResult = number;

export class Mutex {
  readonly index: number;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly w: number;
  private readonly s: number;
  private readonly tid: number;
  private readonly counts: boolean;
  private readonly times: boolean;

  constructor(readonly thread: ThreadContext, index: number) {
    const arena: LockArena = thread.arena;
    if (!Number.isInteger(index) || index < 0 || index >= arena.lockCount()) {
      throw new RangeError(`no lock with index ${index}`);
    }
    this.index = index;
    this.i32 = arena.i32;
    this.f64 = arena.f64;
    this.w = arena.wordIndex(index);
    this.s = arena.statIndex(index);
    this.tid = thread.tid;
    this.counts = arena.countStats;
    this.times = arena.timeStats;
  }

  /** Blocking acquire. Never call on the main thread (it would stall owner-death recovery). */
  lock(timeoutMs = Infinity): LockResult {
    const s = this.thread.sched;
    if (s !== null && s.active) return this.lockControlled(s, timeoutMs);
    if (Atomics.compareExchange(this.i32, this.w, 0, this.tid) === 0) {
      if (this.counts) this.acquired(false, 0);
      this.thread.observer?.acquired(this.index, 'lock');
      return 0;
    }
    return this.lockSlow(timeoutMs);
  }

  private lockSlow(timeoutMs: number): LockResult {
    const { i32, w, tid } = this;
    const t0 = this.times || timeoutMs !== Infinity ? performance.now() : 0;
    const deadline = t0 + timeoutMs;
    this.thread.observer?.waiting?.(this.index, 'lock');
    let waited = false;
    let spins = 0;
    const rec = this.thread.arena.threadRecord(tid) + T_WAIT_LOCK;
    for (;;) {
      const v = Atomics.load(i32, w);
      if ((v & FUTEX_TID_MASK) === 0) {
        // Free. After waiting we cannot know whether others still wait, so keep WAITERS set.
        const next = tid | (waited ? FUTEX_WAITERS : (v & FUTEX_WAITERS));
        if (Atomics.compareExchange(i32, w, v, next) === v) {
          if (waited) Atomics.store(i32, rec, 0);
          return this.finishAcquire(v, t0);
        }
        continue;
      }
      if ((v & FUTEX_TID_MASK) === tid) {
        // Recursive locking of a non-recursive mutex: the kernel would deadlock; we say so.
        throw new Error(`recursive locking of lock ${this.index} by tid ${tid}`);
      }
      if (spins < SPIN_LIMIT) { spins++; continue; }
      let expect = v;
      if ((v & FUTEX_WAITERS) === 0) {
        expect = v | FUTEX_WAITERS;
        if (Atomics.compareExchange(i32, w, v, expect) !== v) continue;
      }
      let wait = Infinity;
      if (timeoutMs !== Infinity) {
        wait = deadline - performance.now();
        if (wait <= 0) {
          Atomics.store(i32, rec, 0);
          return -ETIMEDOUT;
        }
      }
      // Publish what we wait for (the deadlock detector reads it), then park.
      Atomics.store(i32, rec, this.index + 1);
      waited = true;
      Atomics.wait(i32, w, expect, wait);
    }
  }

  /**
   * lock() under a controlled schedule: acquiring is a scheduling point, and a
   * held lock is waited for through the scheduler (never a futex wait, which
   * would keep the turn). Virtual time bounds a timed lock.
   */
  private lockControlled(s: Schedule, timeoutMs: number): LockResult {
    s.point('lock', this.index);
    const deadline = s.now() + timeoutMs;
    for (;;) {
      const r = this.tryControlled();
      if (r !== undefined) return r;
      const res = s.block(this.i32, this.w, Atomics.load(this.i32, this.w), 'lock-wait', this.index, deadline - s.now());
      if (res !== 'ok') return this.controlledWaitEnded(res, timeoutMs);
    }
  }

  private async lockAsyncControlled(s: Schedule, timeoutMs: number): Promise<LockResult> {
    await s.pointAsync('lock', this.index);
    const deadline = s.now() + timeoutMs;
    for (;;) {
      const r = this.tryControlled();
      if (r !== undefined) return r;
      let res: 'ok' | 'timed-out' | 'free';
      try {
        res = await s.blockAsync(this.i32, this.w, Atomics.load(this.i32, this.w), 'lock-wait', this.index, deadline - s.now());
      } catch (e) {
        // The schedule ended under us (ScheduleEnded): we wait for nothing any more.
        Atomics.store(this.i32, this.thread.arena.threadRecord(this.tid) + T_WAIT_LOCK, 0);
        throw e;
      }
      if (res === 'free') {
        Atomics.store(this.i32, this.thread.arena.threadRecord(this.tid) + T_WAIT_LOCK, 0);
        return this.lockAsync(timeoutMs);
      }
      if (res === 'timed-out') return this.controlledWaitEnded(res, timeoutMs);
    }
  }

  /** One attempt while holding the turn: the result, or undefined after publishing the wait. */
  private tryControlled(): LockResult | undefined {
    const { i32, w, tid } = this;
    const rec = this.thread.arena.threadRecord(tid) + T_WAIT_LOCK;
    const v = Atomics.load(i32, w);
    if ((v & FUTEX_TID_MASK) === 0) {
      if (Atomics.compareExchange(i32, w, v, tid | (v & FUTEX_WAITERS)) !== v) return undefined;
      Atomics.store(i32, rec, 0);
      return this.finishAcquire(v, 0);
    }
    if ((v & FUTEX_TID_MASK) === tid) throw new Error(`recursive locking of lock ${this.index} by tid ${tid}`);
    if (Atomics.load(i32, rec) !== this.index + 1) {
      this.thread.observer?.waiting?.(this.index, 'lock');
      Atomics.store(i32, rec, this.index + 1); // the deadlock detector's wait-for edge
    }
    return undefined;
  }

  /** The schedule ended (go back to an ordinary wait) or the virtual deadline passed. */
  private controlledWaitEnded(res: 'timed-out' | 'free', timeoutMs: number): LockResult {
    Atomics.store(this.i32, this.thread.arena.threadRecord(this.tid) + T_WAIT_LOCK, 0);
    return res === 'timed-out' ? -ETIMEDOUT : this.lock(timeoutMs);
  }

  /** Acquire from the main thread without blocking its event loop. */
  async lockAsync(timeoutMs = Infinity): Promise<LockResult> {
    const s = this.thread.sched;
    if (s !== null && s.active) return this.lockAsyncControlled(s, timeoutMs);
    if (Atomics.compareExchange(this.i32, this.w, 0, this.tid) === 0) {
      if (this.counts) this.acquired(false, 0);
      this.thread.observer?.acquired(this.index, 'lock');
      return 0;
    }
    const { i32, w, tid } = this;
    const t0 = performance.now();
    const deadline = t0 + timeoutMs;
    const rec = this.thread.arena.threadRecord(tid) + T_WAIT_LOCK;
    this.thread.observer?.waiting?.(this.index, 'lock');
    // Atomics.waitAsync holds no libuv handle; a ref'd timer keeps the process alive while we wait.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      for (;;) {
        const v = Atomics.load(i32, w);
        if ((v & FUTEX_TID_MASK) === 0) {
          if (Atomics.compareExchange(i32, w, v, tid | FUTEX_WAITERS) === v) {
            Atomics.store(i32, rec, 0);
            return this.finishAcquire(v, t0);
          }
          continue;
        }
        if ((v & FUTEX_TID_MASK) === tid) throw new Error(`recursive locking of lock ${this.index} by tid ${tid}`);
        let expect = v;
        if ((v & FUTEX_WAITERS) === 0) {
          expect = v | FUTEX_WAITERS;
          if (Atomics.compareExchange(i32, w, v, expect) !== v) continue;
        }
        const wait = timeoutMs === Infinity ? Infinity : deadline - performance.now();
        if (wait <= 0) {
          Atomics.store(i32, rec, 0);
          return -ETIMEDOUT;
        }
        Atomics.store(i32, rec, this.index + 1);
        const r = Atomics.waitAsync(i32, w, expect, wait);
        if (r.async) await r.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Acquire only if free: 0 (or -EOWNERDEAD) on success, -EBUSY otherwise. */
  tryLock(): LockResult {
    const s = this.thread.sched;
    if (s !== null) s.point('trylock', this.index);
    const { i32, w, tid } = this;
    let v = Atomics.compareExchange(i32, w, 0, tid);
    if (v === 0) {
      if (this.counts) this.acquired(false, 0);
      this.thread.observer?.acquired(this.index, 'trylock');
      return 0;
    }
    while ((v & FUTEX_TID_MASK) === 0) {
      const seen = Atomics.compareExchange(i32, w, v, tid | (v & FUTEX_WAITERS));
      if (seen === v) {
        const r = this.finishAcquire(v, 0, 'trylock');
        return r;
      }
      v = seen;
    }
    if (this.counts) this.f64[this.s + S_TRYLOCK_FAIL]! += 1; // racy by design: a hint, not an invariant
    return -EBUSY;
  }

  /** Release. -EPERM if the calling thread does not own the lock (nothing changes). */
  unlock(): LockResult {
    const { i32, w, tid } = this;
    const v = Atomics.load(i32, w);
    if ((v & FUTEX_TID_MASK) !== tid) return -EPERM;
    if (this.times) {
      const hold = (performance.now() - this.f64[this.s + S_HOLD_START]!) * 1e6;
      this.f64[this.s + S_HOLD_TOTAL]! += hold;
      if (hold > this.f64[this.s + S_HOLD_MAX]!) this.f64[this.s + S_HOLD_MAX] = hold;
    }
    this.thread.observer?.released(this.index);
    if (Atomics.compareExchange(i32, w, tid, 0) !== tid) {
      Atomics.store(i32, w, 0);
      Atomics.notify(i32, w, 1);
    }
    const s = this.thread.sched;
    if (s !== null) s.point('unlock', this.index);
    return 0;
  }

  /** True when the calling thread owns this lock (lockdep_assert_held). */
  heldByMe(): boolean {
    return (Atomics.load(this.i32, this.w) & FUTEX_TID_MASK) === this.tid;
  }

  /** Owner tid, 0 when free. */
  owner(): number {
    return Atomics.load(this.i32, this.w) & FUTEX_TID_MASK;
  }

  private finishAcquire(prev: number, t0: number, how: 'lock' | 'trylock' = 'lock'): LockResult {
    if (this.counts) this.acquired(how === 'lock', t0);
    this.thread.observer?.acquired(this.index, how);
    return (prev & FUTEX_OWNER_DIED) !== 0 ? -EOWNERDEAD : 0;
  }

  /** lock_stat bookkeeping, done by the new holder (so plain stores are race-free). */
  private acquired(contended: boolean, t0: number): void {
    const f = this.f64, s = this.s;
    f[s + S_ACQ]! += 1;
    if (!this.times) {
      if (contended) f[s + S_CONTENDED]! += 1;
      return;
    }
    const now = performance.now();
    if (contended) {
      f[s + S_CONTENDED]! += 1;
      const wait = (now - t0) * 1e6;
      f[s + S_WAIT_TOTAL]! += wait;
      if (wait > f[s + S_WAIT_MAX]!) f[s + S_WAIT_MAX] = wait;
    }
    f[s + S_HOLD_START] = now;
  }
}
