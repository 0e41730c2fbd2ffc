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
import { BatchCounter, producerLoop, ready } from './batch.js';
import { checksum, readLoop, SLOT_WORDS, Writer } from './ring.js';

const PAYLOAD = SLOT_WORDS - 1;

export interface Ring2Data {
  /** The two rings (each alignedShared(ringWords(capacity) * 4)). */
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  capacity: number;
  ctl: SharedArrayBuffer;
  count: number;
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
  return readLoop(new Int32Array(d.b), d.capacity, checksum(counter));
}
