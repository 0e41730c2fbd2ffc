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
import { ready } from './batch.js';
import { consumer as ringConsumer, producer as ringProducer, readLoop, Writer } from './ring.js';

export interface Ring2Data {
  /** The two rings (each alignedShared(ringWords(capacity) * 4)). */
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  capacity: number;
  ctl: SharedArrayBuffer;
  count: number;
}

/** Hop 0: the one-ring producer, writing ring A. */
export function producer(d: Ring2Data): void {
  ringProducer({ ring: d.a, capacity: d.capacity, ctl: d.ctl, count: d.count });
}

/** Hop 1 -> hop 2: reads each message of ring A and writes it on to ring B. */
export function middle(d: Ring2Data): never {
  const out = new Writer(new Int32Array(d.b), d.capacity);
  ready(new Int32Array(d.ctl));
  return readLoop(new Int32Array(d.a), d.capacity, (r, base) => out.push(r, base + 1));
}

/** Hop 2: the one-ring consumer, reading ring B. */
export function consumer(d: Ring2Data): never {
  return ringConsumer({ ring: d.b, capacity: d.capacity, ctl: d.ctl, count: d.count });
}
