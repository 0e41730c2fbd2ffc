/**
 * The two-hop raw-ring baseline of the lpi benchmarks (issue 3): producer
 * thread -> ring A -> middle thread -> ring B -> consumer thread. Each hop is
 * the hand-written SPSC ring of agents/ring.ts (same geometry: 16-word
 * slots x 1024 in page-aligned shared memory; tail/head published per
 * message; a reader drains in batches of 64, spins, then parks with the
 * announce-then-recheck doorbell; a writer that finds the ring full spins,
 * then parks), and the batch protocol of agents/batch.ts times it: the
 * producer's clock from the first send to the consumer having counted the
 * last message. The least a shared-memory pipeline with two thread hops and
 * the same wake-up behaviour can cost.
 */
import { BatchCounter, PARK_SLICE_MS, producerLoop, ready } from './batch.js';
import { SLOT_WORDS } from './ring.js';

/** Ring words (the layout of agents/ring.ts). */
const TAIL = 0, HEAD = 16, PARKED = 32, WAKE = 33, P_PARKED = 34, SPACE = 35;
const RING_BASE = 48;
const PAYLOAD = SLOT_WORDS - 1;
/** Same batch size and spin count as ActorHost and agents/ring.ts. */
const BATCH = 64, SPINS = 200;
const FULL_SPIN_MS = 0.1;

export interface Ring2Data {
  /** The two rings (each alignedShared(ringWords(capacity) * 4)). */
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  capacity: number;
  ctl: SharedArrayBuffer;
  count: number;
}

/** The writing end of one ring. */
class Writer {
  private tail: number;
  private headSeen: number;
  private readonly mask: number;

  constructor(private readonly r: Int32Array, private readonly cap: number) {
    this.tail = Atomics.load(r, TAIL);
    this.headSeen = Atomics.load(r, HEAD);
    this.mask = cap - 1;
  }

  /** Copy PAYLOAD words from src[at..] into the next slot, publish, ring the doorbell if the reader is parked. */
  push(src: Int32Array, at: number): void {
    const r = this.r;
    if (((this.tail - this.headSeen) | 0) >= this.cap) this.headSeen = this.waitForSpace();
    const base = RING_BASE + (this.tail & this.mask) * SLOT_WORDS;
    r[base] = PAYLOAD;
    for (let w = 0; w < PAYLOAD; w++) r[base + 1 + w] = src[at + w]!;
    this.tail = (this.tail + 1) | 0;
    Atomics.store(r, TAIL, this.tail);
    if (Atomics.load(r, PARKED) !== 0) {
      Atomics.add(r, WAKE, 1);
      Atomics.notify(r, WAKE);
    }
  }

  private waitForSpace(): number {
    const r = this.r, tail = this.tail, cap = this.cap;
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
}

/**
 * The reading end: drain up to BATCH messages, handing each slot's base to
 * `handle`; spin, then park, when the ring is empty. Never returns.
 */
function readLoop(r: Int32Array, capacity: number, handle: (r: Int32Array, base: number) => void): never {
  const mask = capacity - 1;
  let head = Atomics.load(r, HEAD);
  let tailSeen = head;
  for (;;) {
    let n = 0;
    while (n < BATCH) {
      if (head === tailSeen) {
        tailSeen = Atomics.load(r, TAIL);
        if (head === tailSeen) break;
      }
      handle(r, RING_BASE + (head & mask) * SLOT_WORDS);
      head = (head + 1) | 0;
      Atomics.store(r, HEAD, head);
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

export function producer(d: Ring2Data): void {
  const out = new Writer(new Int32Array(d.a), d.capacity);
  const msg = new Int32Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) msg[i] = i;
  const ctl = new Int32Array(d.ctl);
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[0] = i;
    out.push(msg, 0);
  });
}

/** Hop 1 -> hop 2: reads each message of ring A and writes it on to ring B. */
export function middle(d: Ring2Data): never {
  const out = new Writer(new Int32Array(d.b), d.capacity);
  ready(new Int32Array(d.ctl));
  return readLoop(new Int32Array(d.a), d.capacity, (r, base) => out.push(r, base + 1));
}

export function consumer(d: Ring2Data): never {
  const counter = new BatchCounter(new Int32Array(d.ctl), d.count);
  ready(new Int32Array(d.ctl));
  return readLoop(new Int32Array(d.b), d.capacity, (r, base) => {
    let sum = 0;
    for (let w = 1; w < SLOT_WORDS; w++) sum = (sum + r[base + w]!) | 0;
    counter.hit(sum);
  });
}
