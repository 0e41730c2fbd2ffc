/**
 * Canonical keys for deduplicating what many runs found: two runs that hit
 * the same lock-order problem or the same deadlock shape get the same key,
 * whatever the thread ids, lock instances or the point in the cycle where
 * it was first seen.
 *
 * Findings use the validator's own key (findingKey, src/sync/validator-report.ts);
 * deadlocks, which the validator does not see, are keyed here.
 */
import type { Deadlock } from './deadlock.js';

export { findingKey } from '../sync/validator.js';

/** The sorted set of what the cycle's threads wait for: lock classes, or an actor's reply by its host (digits dropped). */
export function deadlockKey(d: Deadlock): string {
  const waits = d.threads.map((t) => {
    const lock = /^([^#\s]+)#\d+/.exec(t.waitsFor);
    if (lock) return lock[1]!;
    const host = /\(held by ([^)]*)\)/.exec(t.waitsFor)?.[1] ?? '?';
    return `reply of ${host.replace(/\d+/g, 'N')}`;
  });
  return `deadlock:${[...new Set(waits)].sort().join(' + ')}`;
}
