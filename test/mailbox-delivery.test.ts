/**
 * Actor mailboxes: N producer threads x M messages to one consumer, each
 * message delivered exactly once and in per-producer order; a small ring
 * applies back-pressure (producers block in send()) and loses nothing; trySend
 * on a full ring fails. Real worker_threads and the real shared-memory ring.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorDirectory, PAYLOAD_WORDS, type Mailbox } from '../dist/src/actors/index.js';
import { DeliveryCheck, fillPayload } from './fixtures/mailbox-payload.mjs';
import { MAX_PRODUCERS, P_BEGUN, P_DONE, P_EVENTS, P_GO, P_READY, P_RECEIVED, PROGRESS_WORDS } from './fixtures/mailbox-ctl.mjs';
import { HANG_MS, waitForWord, within } from './helpers/wait.js';

const PRODUCER = new URL('./fixtures/mailbox-producer.mjs', import.meta.url);
const CONSUMER = new URL('./fixtures/mailbox-consumer.mjs', import.meta.url);

const PRODUCERS = 3;
const PER_PRODUCER = 10_000;

interface Summary {
  received: number;
  next: number[];
  errorCount: number;
  errors: string[];
}

/** One actor on one host in a fresh directory, plus the threads feeding it. */
class Rig {
  readonly dir: ActorDirectory;
  readonly host: number;
  readonly actor: number;
  readonly progress = new Int32Array(new SharedArrayBuffer(PROGRESS_WORDS * 4));
  private readonly workers: Worker[] = [];
  private readonly producerDone: Promise<{ producer: number; failed: number }>[] = [];

  constructor(readonly capacity: number, readonly producers: number, readonly perProducer: number) {
    expect(producers).toBeLessThanOrEqual(MAX_PRODUCERS);
    this.dir = new ActorDirectory(ActorDirectory.create({ maxActors: 2, mailboxCapacity: capacity }));
    this.host = this.dir.allocHost();
    this.actor = this.dir.allocActor(this.host);
  }

  /** The consumer-side handle (only one thread may drain it). */
  get mailbox(): Mailbox {
    return this.dir.mailbox(this.actor);
  }

  private start(url: URL, workerData: Record<string, unknown>): Worker {
    const w = new Worker(url, { workerData: { dir: this.dir.buffer, actor: this.actor, progress: this.progress.buffer, ...workerData } });
    this.workers.push(w);
    return w;
  }

  private static result<T>(w: Worker, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`${what} exited (code ${code}) before reporting`)));
    });
  }

  /** Start the producers; they wait for go(). */
  startProducers(): void {
    for (let p = 0; p < this.producers; p++) {
      const w = this.start(PRODUCER, { producer: p, count: this.perProducer });
      this.producerDone.push(Rig.result(w, `producer ${p}`));
    }
  }

  startConsumer(): Promise<Summary & { parks: number; leftOver: number }> {
    const w = this.start(CONSUMER, { host: this.host, producers: this.producers, perProducer: this.perProducer });
    return Rig.result(w, 'the consumer');
  }

  async go(): Promise<void> {
    await this.waitFor(() => Atomics.load(this.progress, P_READY) >= this.producers, 'every producer ready');
    Atomics.store(this.progress, P_GO, 1);
    Atomics.notify(this.progress, P_GO);
  }

  producersFinished(): Promise<{ producer: number; failed: number }[]> {
    return within(Promise.all(this.producerDone), 'the producers to finish');
  }

  begun(p: number): number { return Atomics.load(this.progress, P_BEGUN + p); }
  done(p: number): number { return Atomics.load(this.progress, P_DONE + p); }
  totalDone(): number {
    let n = 0;
    for (let p = 0; p < this.producers; p++) n += this.done(p);
    return n;
  }

  /** Wait until `pred` holds; producers notify P_EVENTS on every progress change. */
  waitFor(pred: () => boolean, what: string): Promise<number> {
    return waitForWord(this.progress, P_EVENTS, () => pred(), what);
  }

  /** Diagnostics for a failure message. */
  describe(): string {
    const ps = Array.from({ length: this.producers }, (_, p) => `p${p} begun ${this.begun(p)} done ${this.done(p)}`);
    return `${ps.join(', ')}; consumer received ${Atomics.load(this.progress, P_RECEIVED)}; ring size ${this.mailbox.size()}`;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Drain on the main thread until every expected message arrived, at most
 * `perTick` messages per turn of the event loop (setImmediate between turns).
 */
async function drainOnMain(rig: Rig, check: DeliveryCheck, perTick = Infinity): Promise<void> {
  const mb = rig.mailbox;
  const take = (i32: Int32Array, base: number) => check.take(i32, base);
  const total = rig.producers * rig.perProducer;
  const deadline = performance.now() + HANG_MS;
  while (check.received < total) {
    mb.drain(take, perTick);
    if (performance.now() > deadline) throw new Error(`main-thread drain stalled: ${rig.describe()}`);
    await new Promise((r) => setImmediate(r));
  }
}

function expectExactlyOnceInOrder(s: Summary, producers: number, perProducer: number): void {
  expect(s.errors).toEqual([]);
  expect(s.errorCount).toBe(0);
  expect(s.next).toEqual(Array(producers).fill(perProducer));
  expect(s.received).toBe(producers * perProducer);
}

describe('mailbox delivery', () => {
  let rig: Rig | undefined;

  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it(`${PRODUCERS} producer threads x ${PER_PRODUCER} messages to a consumer worker parking on its doorbell: each delivered once, in per-producer order`, async () => {
    rig = new Rig(64, PRODUCERS, PER_PRODUCER);
    rig.startProducers();
    const consumer = rig.startConsumer();
    await rig.go();
    const sent = await rig.producersFinished();
    expect(sent.map((r) => r.failed)).toEqual(Array(PRODUCERS).fill(0));
    const s = await within(consumer, `the consumer to receive everything (${rig.describe()})`);
    expectExactlyOnceInOrder(s, PRODUCERS, PER_PRODUCER);
    expect(s.leftOver).toBe(0);
    expect(rig.mailbox.size()).toBe(0);
  });

  it(`${PRODUCERS} producer threads x ${PER_PRODUCER} messages to the main thread draining between event-loop turns: each delivered once, in per-producer order`, async () => {
    rig = new Rig(256, PRODUCERS, PER_PRODUCER);
    rig.startProducers();
    await rig.go();
    const check = new DeliveryCheck(PRODUCERS, PER_PRODUCER);
    await drainOnMain(rig, check);
    expect((await rig.producersFinished()).map((r) => r.failed)).toEqual(Array(PRODUCERS).fill(0));
    expectExactlyOnceInOrder(check.summary(), PRODUCERS, PER_PRODUCER);
    expect(rig.mailbox.size()).toBe(0);
    expect(rig.mailbox.pending()).toBe(false);
  });

  it('a full 4-slot ring blocks producers in send() while the consumer is paused, then slow, and loses nothing', async () => {
    const capacity = 4;
    rig = new Rig(capacity, PRODUCERS, PER_PRODUCER);
    const r = rig;
    const mb = r.mailbox;
    r.startProducers();
    await r.go();

    // Paused consumer: the ring fills to exactly its capacity and every producer is stuck inside send().
    const everyProducerBlocked = () => r.totalDone() === capacity &&
      Array.from({ length: PRODUCERS }, (_, p) => r.begun(p) === r.done(p) + 1).every(Boolean);
    await r.waitFor(everyProducerBlocked, 'a full ring with every producer blocked in send()');
    expect(mb.size()).toBe(capacity);
    const intruder = new Int32Array(PAYLOAD_WORDS);
    fillPayload(intruder, 99, 0);
    expect(mb.trySend(intruder, PAYLOAD_WORDS)).toBe(false);
    expect(mb.size()).toBe(capacity);

    // Slow consumer: one message at a time; each freed slot is refilled, the ring never holds more than its capacity.
    const check = new DeliveryCheck(PRODUCERS, PER_PRODUCER);
    const take = (i32: Int32Array, base: number) => check.take(i32, base);
    for (let i = 1; i <= 200; i++) {
      expect(mb.drain(take, 1)).toBe(1);
      await r.waitFor(() => r.totalDone() === i + capacity, `the freed slot ${i} to be refilled (${r.describe()})`);
      expect(r.totalDone() - check.received).toBe(capacity);
      expect(mb.size()).toBe(capacity);
    }
    expect(check.errors).toEqual([]);

    // Then drain everything.
    await drainOnMain(r, check);
    expect((await r.producersFinished()).map((x) => x.failed)).toEqual(Array(PRODUCERS).fill(0));
    expectExactlyOnceInOrder(check.summary(), PRODUCERS, PER_PRODUCER);
    expect(mb.size()).toBe(0);
    expect(mb.trySend(intruder, PAYLOAD_WORDS)).toBe(true); // room again
  });

  it('trySend fills the ring, returns false on the full ring without overwriting, and succeeds again after one drain', () => {
    const capacity = 8;
    rig = new Rig(capacity, 1, capacity + 1);
    const mb = rig.mailbox;
    const msg = new Int32Array(PAYLOAD_WORDS);
    for (let seq = 0; seq < capacity; seq++) {
      fillPayload(msg, 0, seq);
      expect(mb.trySend(msg, PAYLOAD_WORDS)).toBe(true);
    }
    expect(mb.size()).toBe(capacity);
    fillPayload(msg, 0, capacity);
    expect(mb.trySend(msg, PAYLOAD_WORDS)).toBe(false);
    expect(mb.size()).toBe(capacity);

    const check = new DeliveryCheck(1, capacity + 1);
    const take = (i32: Int32Array, base: number) => check.take(i32, base);
    expect(mb.drain(take, 1)).toBe(1);
    expect(mb.trySend(msg, PAYLOAD_WORDS)).toBe(true);
    expect(mb.trySend(msg, PAYLOAD_WORDS)).toBe(false);
    expect(mb.drain(take)).toBe(capacity);
    expect(mb.pending()).toBe(false);
    expectExactlyOnceInOrder(check.summary(), 1, capacity + 1);
  });
});
