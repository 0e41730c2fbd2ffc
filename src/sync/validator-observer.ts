/**
 * The validator's per-thread observer: what every lock operation of an
 * observed thread runs, so it is kept to plain loads and stores (issue 5: a
 * nested lock+unlock at most 1.3x slower with the validator than without).
 *
 * Why plain accesses are enough: a held stack is written only by its own
 * thread; another thread reads it only while serving that thread's request
 * (the requester waits for the reply; the request's atomics order the
 * stack's writes before the reads). Edge bits are read racily (an aligned
 * Int32 read never tears: a stale 0 only sends us to addEdge, which re-checks
 * with atomics). Everything rare (a new edge, a finding) is in validator.ts.
 */
import { L_CLASS, LOCK_WORDS, T_PROXY_FOR } from './arena.js';
import type { LockObserver } from './thread.js';
import type { Validator } from './validator.js';

/**
 * Held-stack words per thread: [depth, dropped, ...locks, ...memo], padded to
 * whole cache lines (no false sharing between threads). The memo lives with
 * the stack so that every observer of a tid sees the same one. Plain module
 * constants: V8 folds them, while an exported binding is a cell load (and
 * ~1 ns per lock operation here); validator.ts gets them from STACK_LAYOUT.
 */
const STACK_DEPTH = 32;
const S_DEPTH = 0, S_DROPPED = 1, S_LOCKS = 2, S_MEMO = S_LOCKS + STACK_DEPTH;
const MEMO_WORDS = STACK_DEPTH + 2;
const STACK_WORDS = Math.ceil((S_MEMO + MEMO_WORDS) / 16) * 16;
/** Local copy of the arena's lock-record size, for the same reason. */
const LOCK_RECORD_WORDS = LOCK_WORDS;

export const STACK_LAYOUT = Object.freeze({ depth: STACK_DEPTH, S_DEPTH, S_DROPPED, S_LOCKS, words: STACK_WORDS });

export class ThreadObserver implements LockObserver {
  private readonly i32: Int32Array;
  private readonly ai32: Int32Array;
  private readonly stack: number;
  private readonly proxyWord: number;
  /** Word of lock 0's class in the arena; lock l's is at classBase + l * LOCK_WORDS. */
  private readonly classBase: number;
  /** Declared ranks, copied: they never change after Validator.create. */
  private readonly ranks: Int32Array;
  private readonly adjBase: number;
  private readonly mc: number;
  /**
   * memo[d] = 1 + a lock whose acquisition at depth d was checked (clean or
   * reported) against the held stack below d as it is now. Re-checking the
   * same lock over the same stack can add nothing (edges only accumulate,
   * findings are deduplicated), so a hit skips the walk. A miss at d clears
   * memo[d + 1]: a hit at d + 1 thus implies no change below d since its check.
   */
  private readonly memo: Int32Array;

  constructor(private readonly v: Validator, readonly tid: number) {
    this.i32 = v.i32;
    this.ai32 = v.arena.i32;
    this.stack = v.stackOf(tid);
    this.memo = v.i32.subarray(this.stack + S_MEMO, this.stack + S_MEMO + MEMO_WORDS);
    this.proxyWord = v.arena.threadRecord(tid) + T_PROXY_FOR;
    this.classBase = v.arena.lockBase + L_CLASS;
    this.ranks = v.ranks();
    this.adjBase = v.adjBase;
    this.mc = v.maxClasses;
  }

  acquired(lock: number, how: 'lock' | 'trylock'): void {
    const i = this.i32, s = this.stack;
    const depth = i[s + S_DEPTH]!;
    // The usual case, kept small enough to inline into Mutex.lock: a memo hit, not serving a request.
    if (this.memo[depth] === lock + 1 && this.ai32[this.proxyWord] === 0 && depth < STACK_DEPTH) {
      i[s + S_LOCKS + depth] = lock;
      i[s + S_DEPTH] = depth + 1;
      return;
    }
    this.acquiredChecked(lock, how, depth);
  }

  private acquiredChecked(lock: number, how: 'lock' | 'trylock', depth: number): void {
    const i = this.i32, s = this.stack, memo = this.memo;
    const proxy = this.ai32[this.proxyWord]!;
    if (proxy !== 0 && proxy !== this.tid) {
      this.acquiredForRequester(proxy, lock, how);
      memo[depth] = 0; // checked against another stack too: not a memo of ours
      memo[depth + 1] = 0;
    } else if (memo[depth] !== lock + 1) {
      if (depth !== 0) this.check(s, -1, this.tid, lock, how);
      memo[depth] = how === 'lock' ? lock + 1 : 0; // a trylock was checked for the hierarchy only
      memo[depth + 1] = 0;
    }
    if (depth >= STACK_DEPTH) {
      i[s + S_DROPPED]!++;
      return;
    }
    i[s + S_LOCKS + depth] = lock;
    i[s + S_DEPTH] = depth + 1;
  }

  /** Serving `proxy`'s request: its held stack counts as held, and the edges are its. */
  private acquiredForRequester(proxy: number, lock: number, how: 'lock' | 'trylock'): void {
    const other = this.v.stackOf(proxy);
    if (this.i32[other + S_DEPTH] !== 0) this.check(other, other, proxy, lock, how);
    if (this.i32[this.stack + S_DEPTH] !== 0) this.check(this.stack, other, proxy, lock, how);
  }

  /** Check `lock` against every lock on the held stack at `stack`; `other` is the requester's stack, or -1. */
  private check(stack: number, other: number, attributed: number, lock: number, how: 'lock' | 'trylock'): void {
    const i = this.i32, ai = this.ai32, ranks = this.ranks, cb = this.classBase;
    const cls = ai[cb + lock * LOCK_RECORD_WORDS]!;
    const depth = Math.min(i[stack + S_DEPTH]!, STACK_DEPTH);
    const rank = ranks[cls]!;
    for (let k = 0; k < depth; k++) {
      const h = i[stack + S_LOCKS + k]!;
      const hc = ai[cb + h * LOCK_RECORD_WORDS]!;
      if (rank !== 0 && ranks[hc]! > rank) this.v.outOfOrder(attributed, this.tid, h, hc, lock, cls, how);
      if (how !== 'lock') continue; // a trylock adds no edge and never nests
      if (hc === cls) {
        if (h !== lock && !this.v.nestAllowed(cls, other, this.stack)) this.v.recursive(attributed, this.tid, lock, h);
        continue;
      }
      const n = hc * this.mc + cls;
      if ((i[this.adjBase + (n >>> 5)]! & (1 << (n & 31))) === 0) this.v.addEdge(attributed, this.tid, h, hc, lock, cls);
    }
  }

  released(lock: number): void {
    const i = this.i32, s = this.stack;
    const depth = i[s + S_DEPTH]!;
    if (depth > 0 && i[s + S_LOCKS + depth - 1] === lock) {
      i[s + S_DEPTH] = depth - 1; // the usual case: the innermost lock
      return;
    }
    this.releasedOutOfOrder(lock, depth);
  }

  private releasedOutOfOrder(lock: number, depth: number): void {
    const i = this.i32, s = this.stack;
    for (let k = depth - 2; k >= 0; k--) {
      if (i[s + S_LOCKS + k] !== lock) continue;
      for (let j = k; j < depth - 1; j++) i[s + S_LOCKS + j] = i[s + S_LOCKS + j + 1]!;
      i[s + S_DEPTH] = depth - 1;
      this.memo.fill(0, k); // the stack changed below its top
      return;
    }
    if (i[s + S_DROPPED]! > 0) {
      i[s + S_DROPPED]!--; // pushed past STACK_DEPTH: not tracked, not a finding
      return;
    }
    this.v.unlockUnheld(this.attributed(), this.tid, lock);
  }

  /**
   * Before a blocking acquire waits. Re-acquiring a held lock is a self-deadlock
   * (the mutex throws next). Otherwise the acquisition is validated now, as
   * lockdep does before it sleeps: an inversion that really deadlocks would
   * never reach acquired(), and must still be reported.
   */
  waiting(lock: number): void {
    const i = this.i32, s = this.stack;
    const depth = Math.min(i[s + S_DEPTH]!, STACK_DEPTH);
    for (let k = 0; k < depth; k++) {
      if (i[s + S_LOCKS + k] === lock) {
        this.v.recursive(this.attributed(), this.tid, lock, lock);
        return;
      }
    }
    const proxy = this.ai32[this.proxyWord]!;
    if (proxy !== 0 && proxy !== this.tid) this.acquiredForRequester(proxy, lock, 'lock');
    else if (depth !== 0) this.check(s, -1, this.tid, lock, 'lock');
  }

  private attributed(): number {
    const proxy = this.ai32[this.proxyWord]!;
    return proxy !== 0 ? proxy : this.tid;
  }
}
