/**
 * Canonical keys for deduplicating what many runs found: two runs that hit
 * the same lock-order problem or the same deadlock shape get the same key,
 * whatever the thread ids, lock instances or the point in the cycle where
 * it was first seen.
 *
 * TODO(merge): use src/sync/validator.ts's findingKey once it lands (same
 * intent); deadlockKey stays here.
 */
import type { Finding } from '../sync/validator.js';
import type { Deadlock } from './deadlock.js';

/** inversion: the cycle's classes rotated to start at the smallest; hierarchy/recursive: held > acquired and how. */
export function findingKey(f: Finding): string {
  switch (f.kind) {
    case 'inversion': {
      const c = f.classes;
      let min = 0;
      for (let i = 1; i < c.length; i++) if (c[i]! < c[min]!) min = i;
      return `inversion:${[...c.slice(min), ...c.slice(0, min)].join(' -> ')}`;
    }
    case 'hierarchy':
    case 'recursive':
      return `${f.kind}:${f.classes.join(' > ')}:${f.how}`;
    case 'unlock-unheld':
      return `unlock-unheld:${f.classes.join(',')}`;
  }
}

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
