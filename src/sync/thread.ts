/**
 * The calling thread's identity in a VM: its tid in the lock arena and the
 * hooks later layers attach (the lock validator observes acquisitions; the
 * controlled scheduler turns them into scheduling points). One per thread per VM.
 */
import { LockArena, type ThreadKind } from './arena.js';
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

  constructor(readonly arena: LockArena, readonly tid: number) {}

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

  get name(): string {
    return this.arena.threadName(this.tid);
  }
}
