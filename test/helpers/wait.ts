/**
 * Event waits for tests. Tests wait on events (a shared word reaching a value,
 * a promise settling), never on sleeps; the timeouts here only turn a hang into
 * a readable failure and are generous for a loaded 2-core machine.
 */

/** Default guard against hangs: well below vitest's 60 s testTimeout, far above any expected wait. */
export const HANG_MS = 30_000;

/**
 * Wait until `pred(Atomics.load(i32, index))` holds. The writer must
 * Atomics.notify the word after changing it. Resolves with the value seen.
 */
export async function waitForWord(
  i32: Int32Array, index: number, pred: (v: number) => boolean, what: string, timeoutMs = HANG_MS,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(i32, index);
    if (pred(v)) return v;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (word ${index} = ${v})`);
    const r = Atomics.waitAsync(i32, index, v, left);
    if (r.async) {
      // waitAsync holds no libuv handle: a ref'd timer keeps the process alive meanwhile.
      const keepAlive = setInterval(() => {}, 1 << 30);
      try {
        await r.value;
      } finally {
        clearInterval(keepAlive);
      }
    }
  }
}

/**
 * Wait until `pred()` holds, for states nobody notifies (e.g. a value the VMM
 * sets in a promise callback). Re-checks on every turn of the event loop.
 */
export async function waitUntil(pred: () => boolean, what: string, timeoutMs = HANG_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** `p`, or a rejection naming `what` if it does not settle within timeoutMs. */
export async function within<T>(p: Promise<T>, what: string, timeoutMs = HANG_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
