/**
 * The raw-ring baseline: a hand-written single-producer single-consumer ring
 * in a SharedArrayBuffer with the mailbox's geometry (16-word slots, 1024 of
 * them), the producer publishing its tail after every message and the consumer
 * its head after every message. The consumer behaves like an actor host
 * (drain, spin, then park with the same announce-then-recheck doorbell
 * protocol); a producer that finds the ring full spins while the consumer
 * drains, and parks only when that takes long (the consumer is not running),
 * so it never burns a CPU the consumer needs for long.
 * The least a shared-memory queue with the same wake-up behaviour can cost.
 *
 * The ring lives in page-aligned shared memory (alignedShared), so every slot
 * is exactly one cache line. A plain SharedArrayBuffer comes from malloc and
 * is only 16-byte aligned: its slots then straddle two lines and the figure
 * changes from one run to the next (the same holds for the mailbox rings).
 */
import { BatchCounter, PARK_SLICE_MS, producerLoop, ready } from './batch.js';

export const SLOT_WORDS = 16;
const TAIL = 0, HEAD = 16, PARKED = 32, WAKE = 33, P_PARKED = 34, SPACE = 35;
const RING_BASE = 48;

export function ringWords(capacity: number): number {
  return RING_BASE + capacity * SLOT_WORDS;
}

/**
 * A SharedArrayBuffer of at least `bytes` whose first byte is page-aligned:
 * the buffer of a shared WebAssembly.Memory (its size rounds up to 64 KiB pages).
 */
export function alignedShared(bytes: number): SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new Wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
}

/** The one WebAssembly API used here (the project's lib settings carry no WebAssembly types). */
const Wasm = (globalThis as unknown as {
  WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } };
}).WebAssembly;

export interface RingData {
  ring: SharedArrayBuffer;
  capacity: number;
  ctl: SharedArrayBuffer;
  count: number;
}

const PAYLOAD = SLOT_WORDS - 1;

export function producer(d: RingData): void {
  const r = new Int32Array(d.ring);
  const cap = d.capacity, mask = cap - 1;
  const msg = new Int32Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) msg[i] = i;
  let tail = Atomics.load(r, TAIL);
  let headSeen = Atomics.load(r, HEAD);
  const ctl = new Int32Array(d.ctl);
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[0] = i;
    if (((tail - headSeen) | 0) >= cap) headSeen = waitForSpace(r, tail, cap);
    const base = RING_BASE + (tail & mask) * SLOT_WORDS;
    r[base] = PAYLOAD;
    for (let w = 0; w < PAYLOAD; w++) r[base + 1 + w] = msg[w]!;
    tail = (tail + 1) | 0;
    Atomics.store(r, TAIL, tail); // publish per message
    if (Atomics.load(r, PARKED) !== 0) {
      Atomics.add(r, WAKE, 1);
      Atomics.notify(r, WAKE);
    }
  });
}

/** Same batch size and spin count as ActorHost. */
const BATCH = 64, SPINS = 200;

/**
 * Producer, ring full: spin while the consumer drains (emptying a full ring
 * takes it tens of µs), park only if that takes longer than FULL_SPIN_MS (the
 * consumer is not running: it needs this CPU). Returns the consumer's head.
 */
const FULL_SPIN_MS = 0.1;

function waitForSpace(r: Int32Array, tail: number, cap: number): number {
  let head = Atomics.load(r, HEAD);
  const t0 = performance.now();
  for (let spins = 1; ((tail - head) | 0) >= cap; spins++) {
    if ((spins & 63) === 0 && performance.now() - t0 > FULL_SPIN_MS) {
      const seen = Atomics.load(r, SPACE);
      Atomics.store(r, P_PARKED, 1);
      if (((tail - Atomics.load(r, HEAD)) | 0) >= cap) Atomics.wait(r, SPACE, seen, PARK_SLICE_MS);
      Atomics.store(r, P_PARKED, 0);
    }
    head = Atomics.load(r, HEAD);
  }
  return head;
}

export function consumer(d: RingData): never {
  const r = new Int32Array(d.ring);
  const mask = d.capacity - 1;
  const counter = new BatchCounter(new Int32Array(d.ctl), d.count);
  let head = Atomics.load(r, HEAD);
  let tailSeen = head;
  ready(new Int32Array(d.ctl));
  for (;;) {
    let n = 0;
    while (n < BATCH) {
      if (head === tailSeen) {
        tailSeen = Atomics.load(r, TAIL);
        if (head === tailSeen) break;
      }
      const base = RING_BASE + (head & mask) * SLOT_WORDS;
      let sum = 0;
      for (let w = 1; w < SLOT_WORDS; w++) sum = (sum + r[base + w]!) | 0;
      head = (head + 1) | 0;
      Atomics.store(r, HEAD, head); // publish per message
      counter.hit(sum);
      n++;
    }
    if (n > 0) {
      if (Atomics.load(r, P_PARKED) !== 0) {
        Atomics.add(r, SPACE, 1);
        Atomics.notify(r, SPACE);
      }
      continue;
    }
    let spins = 0;
    while (spins < SPINS && Atomics.load(r, TAIL) === head) spins++;
    if (spins < SPINS) continue;
    const seen = Atomics.load(r, WAKE);
    Atomics.store(r, PARKED, 1);
    if (Atomics.load(r, TAIL) === head) Atomics.wait(r, WAKE, seen, PARK_SLICE_MS);
    Atomics.store(r, PARKED, 0);
  }
}
