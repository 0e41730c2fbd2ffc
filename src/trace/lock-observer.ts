/**
 * Lock spans on the timeline, as a LockObserver: 'lock wait' from the moment
 * an acquire finds the lock taken to the moment it gets it, 'lock held' from
 * then to the release. arg0 is the lock index (the export names it); 'lock
 * held' has arg1 = 1 for a trylock. Combine with the validator through
 * composeObservers (src/sync/observers.ts).
 */
import type { LockObserver } from '../sync/thread.js';
import { EV_LOCK_HELD, EV_LOCK_WAIT } from './events.js';
import type { TimelineWriter } from './timeline.js';

export function timelineLockObserver(writer: TimelineWriter): LockObserver {
  // Locks this thread is waiting for (more than one only with lockAsync on the main thread).
  const waiting = new Set<number>();
  return {
    waiting(lock) {
      // A timed lock that gave up tells no observer; its next wait ends the old span.
      if (waiting.has(lock)) writer.end(EV_LOCK_WAIT, lock);
      waiting.add(lock);
      writer.begin(EV_LOCK_WAIT, lock);
    },
    acquired(lock, how) {
      if (waiting.delete(lock)) writer.end(EV_LOCK_WAIT, lock);
      writer.begin(EV_LOCK_HELD, lock, how === 'trylock' ? 1 : 0);
    },
    released(lock) {
      writer.end(EV_LOCK_HELD, lock);
    },
  };
}
