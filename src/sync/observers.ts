/**
 * A ThreadContext has one observer slot; the lock validator, the timeline and
 * later the controlled scheduler each want it. composeObservers puts several
 * in it, called in the order given.
 */
import type { LockObserver } from './thread.js';

export function composeObservers(...observers: (LockObserver | null | undefined)[]): LockObserver | null {
  const list = observers.filter((o): o is LockObserver => o !== null && o !== undefined);
  if (list.length === 0) return null;
  if (list.length === 1) return list[0]!;
  const waiters = list.filter((o) => o.waiting !== undefined);
  const composed: LockObserver = {
    acquired(lock, how) { for (const o of list) o.acquired(lock, how); },
    released(lock) { for (const o of list) o.released(lock); },
  };
  // Left out when nobody wants it: the mutex then skips the call.
  if (waiters.length > 0) composed.waiting = (lock, how) => { for (const o of waiters) o.waiting!(lock, how); };
  return composed;
}
