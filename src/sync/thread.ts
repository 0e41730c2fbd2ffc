/**
 * The calling thread's identity in a VM: its tid in the lock arena and the
 * hooks later layers attach (the lock validator observes acquisitions; the
 * controlled scheduler turns them into scheduling points). One per thread per VM.
 */
import { LockArena, T_OP, type ThreadKind } from './arena.js';
import { Mutex } from './mutex.js';
import type { Schedule } from './schedule.js';

/** Sees every acquisition and release of the thread (the lock validator implements it). */
export interface LockObserver {
  acquired(lock: number, how: 'lock' | 'trylock'): void;
  released(lock: number): void;
  /** Called before a blocking acquire may wait. */
  waiting?(lock: number, how: 'lock' | 'trylock'): void;
}

export class ThreadContext {
  observer: LockObserver | null = null;
  /** The controlled schedule this thread takes part in (null: the OS schedules it). */
  sched: Schedule | null = null;
  private readonly mutexes = new Map<number, Mutex>();
  private readonly i32: Int32Array;
  private readonly opWord: number;

  constructor(readonly arena: LockArena, readonly tid: number) {
    this.i32 = arena.i32;
    this.opWord = arena.threadRecord(tid) + T_OP;
  }

  static register(arena: LockArena, kind: ThreadKind, index: number, name: string): ThreadContext {
    return new ThreadContext(arena, arena.registerThread(kind, index, name));
  }

  /** This thread's handle on lock `index` (handles are per thread: they carry the tid). */
  mutex(index: number): Mutex {
    let m = this.mutexes.get(index);
    if (m === undefined) {
      m = new Mutex(this, index);
      this.mutexes.set(index, m);
    }
    return m;
  }

  /**
   * Enter operation `op` (an id of src/sync/operations.ts); returns the one it
   * replaces, for the caller to restore. One plain store: only this thread
   * writes the word, and the validator reads it on this thread.
   */
  setOperation(op: number): number {
    const prev = this.i32[this.opWord]!;
    this.i32[this.opWord] = op;
    return prev;
  }

  /** The operation this thread is in (0 = none). */
  get operation(): number {
    return this.i32[this.opWord]!;
  }

  get name(): string {
    return this.arena.threadName(this.tid);
  }
}
