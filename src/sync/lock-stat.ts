/**
 * lock_stat: per-class totals aggregated from the per-lock counters the
 * holders write. Reading is lock-free and may be a moment stale, like
 * /proc/lock_stat.
 */
import {
  LockArena, S_ACQ, S_CONTENDED, S_HOLD_MAX, S_HOLD_TOTAL, S_TRYLOCK_FAIL, S_WAIT_MAX, S_WAIT_TOTAL,
} from './arena.js';

/** lock_stat for one lock class, summed over its instances (`vm.lockStats()`). Times are 0 unless lockStat is 'full'. */
export interface LockClassStats {
  /** The class, e.g. 'vcpu.mutex'. */
  className: string;
  /** Number of lock instances of this class. */
  instances: number;
  /** Successful lock() and tryLock() calls. */
  acquisitions: number;
  /** Acquisitions that found the lock held and had to spin or sleep. */
  contentions: number;
  /** tryLock() calls that found the lock held. */
  trylockFailures: number;
  /** Time spent waiting to acquire, in all. */
  waitTotalNs: number;
  /** The longest single wait. */
  waitMaxNs: number;
  /** Time held, in all. */
  holdTotalNs: number;
  /** The longest single hold. */
  holdMaxNs: number;
}

export function lockStats(arena: LockArena): LockClassStats[] {
  const byClass = new Map<number, LockClassStats>();
  const n = arena.lockCount();
  for (let i = 0; i < n; i++) {
    const { classId, className } = arena.lockInfo(i);
    let c = byClass.get(classId);
    if (c === undefined) {
      c = {
        className, instances: 0, acquisitions: 0, contentions: 0, trylockFailures: 0,
        waitTotalNs: 0, waitMaxNs: 0, holdTotalNs: 0, holdMaxNs: 0,
      };
      byClass.set(classId, c);
    }
    const s = arena.statIndex(i), f = arena.f64;
    c.instances++;
    c.acquisitions += f[s + S_ACQ]!;
    c.contentions += f[s + S_CONTENDED]!;
    c.trylockFailures += f[s + S_TRYLOCK_FAIL]!;
    c.waitTotalNs += f[s + S_WAIT_TOTAL]!;
    c.waitMaxNs = Math.max(c.waitMaxNs, f[s + S_WAIT_MAX]!);
    c.holdTotalNs += f[s + S_HOLD_TOTAL]!;
    c.holdMaxNs = Math.max(c.holdMaxNs, f[s + S_HOLD_MAX]!);
  }
  return [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}
