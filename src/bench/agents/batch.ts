/**
 * The cross-thread batch protocol, worker side. One control block (a small
 * SharedArrayBuffer) per benchmark; the main thread drives repetitions:
 *
 *   main      GO = r, notify                      (start repetition r)
 *   producer  t0; send `count` messages; wait until CONSUMED >= r * count; t1
 *             BATCH_NS = t1 - t0; DONE = r, notify
 *   consumer  counts every message; publishes CONSUMED at each multiple of `count`
 *
 * So a repetition is the wall time of the whole batch, from the first send to
 * the consumer having handled the last message, timed on one thread (the
 * producer's clock); per-message cost = BATCH_NS / count. Every transport
 * between two workers (mailbox, raw rings, postMessage, the rpc figures'
 * worker -> worker calls) uses this protocol; main -> worker rpc figures time
 * the same fixed-count batch on the main thread (suites/rpc.ts).
 */

/** Control block words, each hot one on its own cache line. */
export const C_GO = 0, C_DONE = 16, C_CONSUMED = 32, C_CHECKSUM = 33, C_READY = 48;
/** Float64 index of the last batch's duration in ns. */
export const F_BATCH_NS = 32; // byte 256
export const CONTROL_BYTES = 512;

export function controlBlock(): { buffer: SharedArrayBuffer; i32: Int32Array; f64: Float64Array } {
  const buffer = new SharedArrayBuffer(CONTROL_BYTES);
  return { buffer, i32: new Int32Array(buffer), f64: new Float64Array(buffer) };
}

/** An agent says it is set up (the main thread waits for all before the first repetition). */
export function ready(ctl: Int32Array): void {
  Atomics.add(ctl, C_READY, 1);
  Atomics.notify(ctl, C_READY);
}

/** Consumer side: call hit() once per message handled. */
export class BatchCounter {
  private n = 0;
  private next: number;
  private sum = 0;

  constructor(private readonly ctl: Int32Array, private readonly count: number) {
    this.next = count;
  }

  /** Count one message; `checksum` is folded in so reading the payload cannot be optimised away. */
  hit(checksum: number): void {
    this.sum = (this.sum + checksum) | 0;
    if (++this.n === this.next) {
      this.next += this.count;
      Atomics.store(this.ctl, C_CHECKSUM, this.sum);
      Atomics.store(this.ctl, C_CONSUMED, this.n);
      Atomics.notify(this.ctl, C_CONSUMED);
    }
  }
}

/**
 * Every park in the bench agents is sliced: a lost wake-up (seen once, not
 * reproduced) then costs a slice of latency between repetitions instead of a
 * hung run. A notify still wakes the thread at once.
 */
export const PARK_SLICE_MS = 200;

/** How long the producer spins for the consumer to finish a batch before parking (the tail of a ring is short). */
const TAIL_SPIN_MS = 2;

function awaitConsumed(ctl: Int32Array, target: number): void {
  const t0 = performance.now();
  let spins = 0;
  for (;;) {
    const v = Atomics.load(ctl, C_CONSUMED);
    if (v >= target) return;
    if ((++spins & 1023) === 0 && performance.now() - t0 > TAIL_SPIN_MS) Atomics.wait(ctl, C_CONSUMED, v, 100);
  }
}

/**
 * Producer side: serve repetitions until terminated. `send(i)` sends message i
 * of the batch (the same call site for every message, so it stays monomorphic).
 */
export function producerLoop(ctl: Int32Array, f64: Float64Array, count: number, send: (i: number) => void): never {
  let rep = 0;
  for (;;) {
    Atomics.wait(ctl, C_GO, rep, PARK_SLICE_MS);
    const go = Atomics.load(ctl, C_GO);
    if (go === rep) continue;
    rep = go;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) send(i);
    awaitConsumed(ctl, rep * count);
    const t1 = performance.now();
    f64[F_BATCH_NS] = (t1 - t0) * 1e6;
    Atomics.store(ctl, C_DONE, rep);
    Atomics.notify(ctl, C_DONE);
  }
}
