/**
 * Waits a scenario may use: each ends when the run's AbortSignal fires (the
 * watchdog ended the run) or its own timeout passes, so no scenario can hang
 * the runner. They never throw on abort: they report it, and the scenario
 * returns what it observed so far.
 */

import { activeSchedule, ScheduleEnded } from '../sync/schedule.js';

export const ABORTED = Symbol('aborted');
/** How long a deadlock found by the controlled scheduler may take to reach the watchdog. */
const SCHEDULE_DEADLOCK_GRACE_MS = 10_000;
export type Aborted = typeof ABORTED;

/** `p`, or ABORTED as soon as `signal` fires (p keeps running; the runner's destroy ends it). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | Aborted> {
  if (signal.aborted) {
    p.catch(() => {}); // settled later, after the VM is gone: nobody listens
    return Promise.resolve(ABORTED);
  }
  return new Promise<T | Aborted>((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => {
        // A controlled schedule that ended in a deadlock released its threads into the same deadlock:
        // the watchdog is about to see it and end the run, which is this call's answer.
        if (e instanceof ScheduleEnded && e.end === 'deadlock') {
          const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); reject(e); }, SCHEDULE_DEADLOCK_GRACE_MS);
          signal.addEventListener('abort', () => clearTimeout(t), { once: true });
          return;
        }
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Sleep `ms`, or less if aborted. Resolves to false if aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => { clearTimeout(t); resolve(false); };
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Wait until `ok()` holds, re-checking every `sliceMs` and whenever word
 * `index` of `i32` is notified (pass a word the writer notifies to react at
 * once). Resolves to 'ok', 'timeout' or 'aborted'.
 */
export async function waitFor(
  ok: () => boolean, signal: AbortSignal, timeoutMs: number, wake?: { i32: Int32Array; index: number }, sliceMs = 5,
): Promise<'ok' | 'timeout' | 'aborted'> {
  const s = activeSchedule();
  if (s !== null) {
    // Under a controlled schedule: wait through the scheduler, on virtual time (polling would keep the turn).
    const deadline = s.now() + timeoutMs;
    for (;;) {
      if (ok()) return 'ok';
      if (signal.aborted) return 'aborted';
      const left = deadline - s.now();
      if (left <= 0) return 'timeout';
      const seen = wake !== undefined ? Atomics.load(wake.i32, wake.index) : 0;
      const r = wake !== undefined && s.owns(wake.i32)
        ? await s.blockAsync(wake.i32, wake.index, seen, 'yield', 0, left)
        : await s.yieldAsync(left);
      if (r === 'free') break;
    }
  }
  const deadline = performance.now() + timeoutMs;
  const idle = wake ?? { i32: new Int32Array(new SharedArrayBuffer(4)), index: 0 };
  // Atomics.waitAsync alone does not keep the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    for (;;) {
      const seen = Atomics.load(idle.i32, idle.index);
      if (ok()) return 'ok';
      if (signal.aborted) return 'aborted';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      const r = Atomics.waitAsync(idle.i32, idle.index, seen, Math.min(left, sliceMs));
      if (r.async) await r.value;
    }
  } finally {
    clearInterval(keepAlive);
  }
}
