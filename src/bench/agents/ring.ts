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
 * The batched variant (stage + publish, readLoopBatched) differs in one
 * thing only: the producer publishes its tail (and checks the doorbell) once
 * per PUBLISH_EVERY messages, the consumer its head once per drained batch.
 *
 * The ring lives in page-aligned shared memory (alignedShared), so every slot
 * is exactly one cache line. A plain SharedArrayBuffer comes from malloc and
 * is only 16-byte aligned: its slots then straddle two lines and the figure
 * changes from one run to the next (the same holds for the mailbox rings).
 */
import { alignedSharedBuffer } from '../../sync/shared-buffer.js';
import { BatchCounter, PARK_SLICE_MS, producerLoop, ready } from './batch.js';

export const SLOT_WORDS = 16;
/** Ring words: producer and consumer indices on lines of their own, then the wake words, then the slots. */
const TAIL = 0, HEAD = 16, PARKED = 32, WAKE = 33, P_PARKED = 34, SPACE = 35;
const RING_BASE = 48;
const PAYLOAD = SLOT_WORDS - 1;
/** Same batch size and spin count as the actor host's drain. */
const BATCH = 64, SPINS = 200;
/** How long the batched reader spins on an empty ring before parking (a few batches' worth of writing). */
const BATCHED_SPIN_MS = 0.05;
/** A writer facing a full ring spins this long before parking. */
const FULL_SPIN_MS = 0.1;

export function ringWords(capacity: number): number {
  return RING_BASE + capacity * SLOT_WORDS;
}

/** Page-aligned shared memory for a ring (see src/sync/shared-buffer.ts). */
export const alignedShared = alignedSharedBuffer;

export interface RingData {
  ring: SharedArrayBuffer;
  capacity: number;
  ctl: SharedArrayBuffer;
  count: number;
}

/** The writing end of one ring. */
export class Writer {
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

  /**
   * Batched writing: copy the message into the next slot without publishing
   * it (readers cannot see it until publish()). A full ring publishes what is
   * staged first, so the reader can drain while this writer waits.
   */
  stage(src: Int32Array, at: number): void {
    const r = this.r;
    if (((this.tail - this.headSeen) | 0) >= this.cap) {
      this.publish();
      this.headSeen = this.waitForSpace();
    }
    const base = RING_BASE + (this.tail & this.mask) * SLOT_WORDS;
    r[base] = PAYLOAD;
    for (let w = 0; w < PAYLOAD; w++) r[base + 1 + w] = src[at + w]!;
    this.tail = (this.tail + 1) | 0;
  }

  /** Publish every staged message with one tail store; ring the doorbell if the reader is parked. */
  publish(): void {
    const r = this.r;
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
export function readLoop(r: Int32Array, capacity: number, handle: (r: Int32Array, base: number) => void): never {
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

/**
 * readLoop with the head published once per drained batch (up to BATCH
 * messages) instead of after every message. Never returns.
 */
export function readLoopBatched(r: Int32Array, capacity: number, handle: (r: Int32Array, base: number) => void): never {
  const mask = capacity - 1;
  let head = Atomics.load(r, HEAD);
  for (;;) {
    const tail = Atomics.load(r, TAIL);
    const n = Math.min((tail - head) | 0, BATCH);
    if (n > 0) {
      for (let k = 0; k < n; k++) {
        handle(r, RING_BASE + (head & mask) * SLOT_WORDS);
        head = (head + 1) | 0;
      }
      Atomics.store(r, HEAD, head);
      if (Atomics.load(r, P_PARKED) !== 0) {
        Atomics.add(r, SPACE, 1);
        Atomics.notify(r, SPACE);
      }
      continue;
    }
    // Spin for a while, not a count: the writer fills a whole batch before
    // publishing, which takes longer than SPINS loads.
    const t0 = performance.now();
    let spins = 0;
    while (Atomics.load(r, TAIL) === head && ((++spins & 63) !== 0 || performance.now() - t0 < BATCHED_SPIN_MS));
    if (Atomics.load(r, TAIL) !== head) continue;
    const seen = Atomics.load(r, WAKE);
    Atomics.store(r, PARKED, 1);
    if (Atomics.load(r, TAIL) === head) Atomics.wait(r, WAKE, seen, PARK_SLICE_MS);
    Atomics.store(r, PARKED, 0);
  }
}

/** Messages per tail publication of the batched producer (the consumer's drain batch). */
export const PUBLISH_EVERY = BATCH;

/** The producer agent: `count` messages through one ring, timed by the batch protocol. */
export function producer(d: RingData): void {
  const out = new Writer(new Int32Array(d.ring), d.capacity);
  const msg = new Int32Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) msg[i] = i;
  const ctl = new Int32Array(d.ctl);
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[0] = i;
    out.push(msg, 0);
  });
}

/** The consumer agent: reads every message (checksumming its payload) and counts it. */
export function consumer(d: RingData): never {
  const counter = new BatchCounter(new Int32Array(d.ctl), d.count);
  ready(new Int32Array(d.ctl));
  return readLoop(new Int32Array(d.ring), d.capacity, checksum(counter));
}

/** The batched producer: the tail is published once per PUBLISH_EVERY messages and after the batch's last one. */
export function producerBatched(d: RingData): void {
  const out = new Writer(new Int32Array(d.ring), d.capacity);
  const msg = new Int32Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) msg[i] = i;
  const ctl = new Int32Array(d.ctl);
  const last = d.count - 1;
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[0] = i;
    out.stage(msg, 0);
    if ((i + 1) % PUBLISH_EVERY === 0 || i === last) out.publish();
  });
}

/** The batched consumer: head published once per drained batch. */
export function consumerBatched(d: RingData): never {
  const counter = new BatchCounter(new Int32Array(d.ctl), d.count);
  ready(new Int32Array(d.ctl));
  return readLoopBatched(new Int32Array(d.ring), d.capacity, checksum(counter));
}

/** A slot handler that sums the payload (so reads cannot be elided) and counts the message. */
export function checksum(counter: BatchCounter): (r: Int32Array, base: number) => void {
  return (r, base) => {
    let sum = 0;
    for (let w = 1; w < SLOT_WORDS; w++) sum = (sum + r[base + w]!) | 0;
    counter.hit(sum);
  };
}
