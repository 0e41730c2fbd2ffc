/**
 * Waiting on the main thread for a shared word to satisfy a predicate. Uses
 * Atomics.waitAsync, re-checking at least every `sliceMs` because not every
 * writer notifies (guest programs write RAM with plain stores). Under a
 * controlled schedule it waits through the scheduler, on virtual time: on the
 * word when the VM shares it, else by yielding between checks.
 */
import { activeSchedule } from './schedule.js';

export async function waitForWord(
  i32: Int32Array, index: number, ok: (v: number) => boolean, timeoutMs = 30_000, sliceMs = 10,
): Promise<boolean> {
  const s = activeSchedule();
  if (s !== null) {
    const deadline = s.now() + timeoutMs;
    for (;;) {
      const v = Atomics.load(i32, index);
      if (ok(v)) return true;
      const left = deadline - s.now();
      if (left <= 0) return false;
      const r = s.owns(i32) ? await s.blockAsync(i32, index, v, 'yield', 0, left) : await s.yieldAsync(left);
      if (r === 'free') break;
    }
  }
  const deadline = performance.now() + timeoutMs;
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    for (;;) {
      const v = Atomics.load(i32, index);
      if (ok(v)) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const r = Atomics.waitAsync(i32, index, v, Math.min(left, sliceMs));
      if (r.async) await r.value;
    }
  } finally {
    clearInterval(keepAlive);
  }
}

/** Wait until `ok()` holds, re-checking every `sliceMs` (for state spread over several words). */
export function waitUntil(ok: () => boolean, timeoutMs = 30_000, sliceMs = 5): Promise<boolean> {
  return waitForWord(new Int32Array(new SharedArrayBuffer(4)), 0, () => ok(), timeoutMs, sliceMs);
}
