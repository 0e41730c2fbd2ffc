/**
 * The per-ITS translation cache in shared memory: (DeviceID, EventID) ->
 * INTID, probed lock-free by any thread that injects an MSI (the irqfd fast
 * path) and filled by the ITS actor on a slow-path translation. Readers use a
 * seqlock: a probe that overlaps a write or an invalidation is a miss, never
 * a stale hit. Writers (insert, invalidate) serialise on a spinlock.
 *
 * Today's KVM cache is an unbounded xarray; ours is an open-addressed table
 * of `cacheCapacity` slots, filled to 3/4 at most. A full cache just stops
 * caching (the slow path still translates), so throughput degrades smoothly.
 */
import { spinLock, spinUnlock } from './spinlock.js';
import { CACHE_ENTRY_WORDS, K_COUNT, K_LOCK, K_SEQ, L_GEN, type VgicState } from './vgic-state.js';

function hash(key: number): number {
  return Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> 0;
}

export class ItsCache {
  /** Incarnation of the LPI the last successful lookup() returned (pass it to Vgic.setPending). */
  lastGen = 0;

  constructor(readonly st: VgicState, readonly tid: number) {}

  /** INTID cached for (devid, eventid) on ITS `its`, or -1 on a miss; its incarnation is in lastGen. */
  lookup(its: number, devid: number, eventid: number): number {
    if (devid > 0xffff || eventid > 0xffff || devid < 0 || eventid < 0) return -1;
    const { i32 } = this.st;
    const h = this.st.cache(its);
    const seq = Atomics.load(i32, h + K_SEQ);
    if (seq & 1) return -1;
    const key = ((devid << 16) | eventid) | 0;
    const mask = this.st.cacheCapacity - 1;
    let found = -1;
    for (let i = hash(key) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
      const e = this.st.cacheEntry(its, i);
      const intid = Atomics.load(i32, e + 1);
      if (intid === 0) break;
      if (Atomics.load(i32, e) === key) {
        found = intid;
        this.lastGen = Atomics.load(i32, e + 2);
        break;
      }
    }
    return Atomics.load(i32, h + K_SEQ) === seq ? found : -1;
  }

  /**
   * vgic_its_cache_translation(): remember (devid, eventid) -> intid. Called
   * under its_lock with the LPI alive (its ITE holds a reference), so the
   * incarnation read here is the mapping's own.
   */
  insert(its: number, devid: number, eventid: number, intid: number): void {
    if (devid > 0xffff || eventid > 0xffff) return;
    const { i32 } = this.st;
    const gen = Atomics.load(i32, this.st.lpi(intid) + L_GEN);
    const h = this.st.cache(its);
    const key = ((devid << 16) | eventid) | 0;
    const cap = this.st.cacheCapacity, mask = cap - 1;
    spinLock(i32, h + K_LOCK, this.tid);
    Atomics.add(i32, h + K_SEQ, 1);
    for (let i = hash(key) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
      const e = this.st.cacheEntry(its, i);
      const cur = Atomics.load(i32, e + 1);
      if (cur !== 0 && Atomics.load(i32, e) === key) {
        Atomics.store(i32, e + 1, intid); // replaces the older translation for this key
        Atomics.store(i32, e + 2, gen);
        break;
      }
      if (cur === 0) {
        if (Atomics.load(i32, h + K_COUNT) < (cap * 3) / 4) {
          Atomics.store(i32, e, key);
          Atomics.store(i32, e + 1, intid);
          Atomics.store(i32, e + 2, gen);
          Atomics.add(i32, h + K_COUNT, 1);
        }
        break;
      }
    }
    Atomics.add(i32, h + K_SEQ, 1);
    spinUnlock(i32, h + K_LOCK);
  }

  /** vgic_its_invalidate_cache(): forget everything ITS `its` cached. */
  invalidate(its: number): void {
    const { i32 } = this.st;
    const h = this.st.cache(its);
    spinLock(i32, h + K_LOCK, this.tid);
    if (Atomics.load(i32, h + K_COUNT) > 0) {
      Atomics.add(i32, h + K_SEQ, 1);
      const first = this.st.cacheEntry(its, 0);
      i32.fill(0, first, first + CACHE_ENTRY_WORDS * this.st.cacheCapacity);
      Atomics.store(i32, h + K_COUNT, 0);
      Atomics.add(i32, h + K_SEQ, 1);
    }
    spinUnlock(i32, h + K_LOCK);
  }

  /** vgic_its_invalidate_all_caches(): every ITS of the VM (EnableLPIs 1 -> 0). */
  invalidateAll(nrIts: number): void {
    for (let n = 0; n < nrIts; n++) this.invalidate(n);
  }

  size(its: number): number {
    return Atomics.load(this.st.i32, this.st.cache(its) + K_COUNT);
  }
}
