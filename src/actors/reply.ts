/**
 * Reply slots for synchronous requests. A requester owns one slot while its
 * request is outstanding: a worker uses the slot numbered by its tid (it can
 * only wait on one request at a time); the main thread draws from a pool above
 * the thread range. The actor fills the values, then publishes DONE and
 * notifies; the requester spins briefly, then parks on the state word.
 */
import { T_WAIT_ACTOR, type LockArena } from '../sync/arena.js';
import { activeSchedule } from '../sync/schedule.js';

export const REPLY_WORDS = 16;
const R_STATE = 0, R_RESULT = 1, R_VALUES = 2;
export const REPLY_VALUES = REPLY_WORDS - R_VALUES;
const IDLE = 0, PENDING = 1, DONE = 2;
const SPINS = 256;
const LIVENESS_SLICE_MS = 50;

export class ReplyBoard {
  constructor(readonly i32: Int32Array) {}

  get slots(): number {
    return this.i32.length / REPLY_WORDS;
  }

  begin(slot: number): void {
    Atomics.store(this.i32, slot * REPLY_WORDS + R_STATE, PENDING);
  }

  /** Actor side: publish `result` (and values written with setValue before). */
  complete(slot: number, result: number): void {
    const s = slot * REPLY_WORDS;
    this.i32[s + R_RESULT] = result;
    Atomics.store(this.i32, s + R_STATE, DONE);
    Atomics.notify(this.i32, s + R_STATE, 1);
  }

  /**
   * Actor side, when the result travels elsewhere (the postMessage transport
   * posts it): publish DONE and wake the requester; the result word is not written.
   */
  signal(slot: number): void {
    const s = slot * REPLY_WORDS;
    Atomics.store(this.i32, s + R_STATE, DONE);
    Atomics.notify(this.i32, s + R_STATE, 1);
  }

  setValue(slot: number, i: number, v: number): void {
    this.i32[slot * REPLY_WORDS + R_VALUES + i] = v;
  }

  value(slot: number, i: number): number {
    return this.i32[slot * REPLY_WORDS + R_VALUES + i]!;
  }

  /**
   * Worker side: wait for DONE and return the result. While parked, the thread
   * record says which actor it waits for (the deadlock detector's wait-for edge).
   */
  wait(slot: number, arena: LockArena, tid: number, actor: number, timeoutMs = Infinity,
    isDead: () => boolean = () => false): number | undefined {
    const { i32 } = this;
    const st = slot * REPLY_WORDS + R_STATE;
    const s = activeSchedule();
    for (let i = 0; i < SPINS && s === null; i++) {
      if (Atomics.load(i32, st) === DONE) return this.finish(slot);
    }
    const rec = arena.threadRecord(tid) + T_WAIT_ACTOR;
    Atomics.store(arena.i32, rec, actor + 1);
    if (s !== null && Atomics.load(i32, st) === PENDING) {
      // The actor dying is not a word change the scheduler sees: a dead actor's requests end with the schedule.
      const r = s.block(i32, st, PENDING, 'reply', actor, timeoutMs);
      if (r === 'timed-out') timeoutMs = 0;
    }
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(i32, st) === PENDING) {
      const left = deadline - performance.now();
      if (left <= 0 || isDead()) break;
      // Sliced so a requester notices its actor died (the reply would never come).
      Atomics.wait(i32, st, PENDING, Math.min(left, LIVENESS_SLICE_MS));
    }
    Atomics.store(arena.i32, rec, 0);
    return Atomics.load(i32, st) === DONE ? this.finish(slot) : undefined;
  }

  /** Main-thread side of wait(). */
  async waitAsync(slot: number, timeoutMs = Infinity, isDead: () => boolean = () => false, actor = 0): Promise<number | undefined> {
    const { i32 } = this;
    const st = slot * REPLY_WORDS + R_STATE;
    if (Atomics.load(i32, st) === DONE) return this.finish(slot);
    const s = activeSchedule();
    if (s !== null && (await s.blockAsync(i32, st, PENDING, 'reply', actor, timeoutMs)) === 'timed-out') timeoutMs = 0;
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      const deadline = performance.now() + timeoutMs;
      while (Atomics.load(i32, st) === PENDING) {
        const left = deadline - performance.now();
        if (left <= 0 || isDead()) break;
        const r = Atomics.waitAsync(i32, st, PENDING, Math.min(left, LIVENESS_SLICE_MS));
        if (r.async) await r.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
    return Atomics.load(i32, st) === DONE ? this.finish(slot) : undefined;
  }

  pending(slot: number): boolean {
    return Atomics.load(this.i32, slot * REPLY_WORDS + R_STATE) === PENDING;
  }

  private finish(slot: number): number {
    const r = this.i32[slot * REPLY_WORDS + R_RESULT]!;
    Atomics.store(this.i32, slot * REPLY_WORDS + R_STATE, IDLE);
    return r;
  }
}
