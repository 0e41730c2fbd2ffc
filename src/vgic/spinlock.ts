/**
 * Raw spinlocks (irq_lock, ap_list_lock, the LPI-set lock, a cache's write
 * lock) as one Int32 word: 0 free, else holder tid. The kernel's spinlocks sit
 * below every mutex in the lock order and are held for a few instructions;
 * they are not lock classes of the validator. After a burst of spinning we
 * sleep 1 µs, because on two cores the holder may be descheduled.
 */
import { activeSchedule } from '../sync/schedule.js';

const SPINS = 64;

export function spinLock(i32: Int32Array, index: number, tid: number): void {
  if (Atomics.compareExchange(i32, index, 0, tid) === 0) return;
  // Under a controlled schedule the holder is not running: spinning would keep the turn forever.
  const s = activeSchedule();
  while (s !== null) {
    const v = Atomics.load(i32, index);
    if (v === 0 && Atomics.compareExchange(i32, index, 0, tid) === 0) return;
    if (v !== 0 && s.block(i32, index, v, 'spin', index) === 'free') break;
  }
  for (let n = 0; ; n++) {
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, tid) === 0) return;
    if (n >= SPINS) {
      Atomics.wait(i32, index, Atomics.load(i32, index) || tid, 0.001);
      n = 0;
    }
  }
}

export function spinUnlock(i32: Int32Array, index: number): void {
  Atomics.store(i32, index, 0);
}
