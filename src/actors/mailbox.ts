/**
 * An actor's mailbox: a bounded multi-producer, single-consumer ring in a
 * SharedArrayBuffer (Vyukov's per-slot sequence scheme). Producers reserve a
 * slot with one CAS, fill it and publish it by storing its sequence number;
 * the consumer drains slots in order with no atomic read-modify-write at all.
 * No postMessage on this path.
 *
 * Waking: the consumer parks on its host's Doorbell only after finding every
 * mailbox empty; producers ring the doorbell only when the host says it is
 * parked, so a busy actor costs producers one load. A full ring makes
 * producers wait (back-pressure); nothing is dropped.
 */
import { activeSchedule } from '../sync/schedule.js';
import { Doorbell } from './doorbell.js';

/** Words per slot: [seq, ...payload]. One 64-byte cache line. */
export const SLOT_WORDS = 16;
export const PAYLOAD_WORDS = SLOT_WORDS - 1;
const TAIL = 0, HEAD = 16, SPACE = 17, SPACE_WAITERS = 18, CAPACITY = 19;
const HEADER_WORDS = 32;

/** Int32 words a ring of `capacity` slots occupies. */
export function mailboxWords(capacity: number): number {
  return HEADER_WORDS + capacity * SLOT_WORDS;
}

export class Mailbox {
  readonly i32: Int32Array;
  readonly capacity: number;
  private readonly mask: number;
  readonly doorbell: Doorbell;
  /** Consumer-private copy of HEAD (only the consumer advances it). */
  private head: number;

  /** Format `ring` (mailboxWords(capacity) words of a SharedArrayBuffer) as an empty mailbox. */
  static init(ring: Int32Array, capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 2 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`mailbox capacity must be a power of two >= 2 (got ${capacity})`);
    }
    if (ring.length < mailboxWords(capacity)) throw new RangeError('mailbox ring too small');
    ring[CAPACITY] = capacity;
    for (let i = 0; i < capacity; i++) ring[HEADER_WORDS + i * SLOT_WORDS] = i;
  }

  constructor(ring: Int32Array, doorbell: Doorbell) {
    this.i32 = ring;
    this.capacity = ring[CAPACITY]!;
    this.mask = this.capacity - 1;
    this.doorbell = doorbell;
    this.head = Atomics.load(ring, HEAD);
  }

  /**
   * Reserve a slot, copy `len` payload words from `msg`, publish. Blocks (worker)
   * while the ring is full. Returns false only if `timeoutMs` expired while full.
   */
  send(msg: Int32Array, len = PAYLOAD_WORDS, timeoutMs = Infinity): boolean {
    for (;;) {
      const slot = this.tryReserve();
      if (slot >= 0) {
        this.fill(slot, msg, len);
        return true;
      }
      if (!this.waitForSpace(timeoutMs)) return false;
    }
  }

  /**
   * send() for the main thread: awaits space instead of blocking. False when
   * `gone()` says the consumer will never drain the ring (checked while full).
   */
  async sendAsync(msg: Int32Array, len = PAYLOAD_WORDS, gone: () => boolean = () => false): Promise<boolean> {
    for (;;) {
      const slot = this.tryReserve();
      if (slot >= 0) {
        this.fill(slot, msg, len);
        return true;
      }
      if (gone()) return false;
      const { i32 } = this;
      const seen = Atomics.load(i32, SPACE);
      Atomics.add(i32, SPACE_WAITERS, 1);
      const s = activeSchedule();
      if (this.full() && (s === null || (await s.blockAsync(i32, SPACE, seen, 'send-full', 0, 50)) === 'free')) {
        const keepAlive = setInterval(() => {}, 1 << 30);
        const r = Atomics.waitAsync(i32, SPACE, seen, 50);
        if (r.async) await r.value;
        clearInterval(keepAlive);
      }
      Atomics.sub(i32, SPACE_WAITERS, 1);
    }
  }

  /** Non-blocking send: false when the ring is full. */
  trySend(msg: Int32Array, len = PAYLOAD_WORDS): boolean {
    const slot = this.tryReserve();
    if (slot < 0) return false;
    this.fill(slot, msg, len);
    return true;
  }

  /** Slot word index reserved for us, or -1 when full. */
  private tryReserve(): number {
    const { i32, mask } = this;
    let pos = Atomics.load(i32, TAIL);
    for (;;) {
      const base = HEADER_WORDS + (pos & mask) * SLOT_WORDS;
      const dif = (Atomics.load(i32, base) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, TAIL, pos, (pos + 1) | 0);
        if (seen === pos) return base;
        pos = seen;
      } else if (dif < 0) {
        return -1; // the consumer has not freed this slot yet: full
      } else {
        pos = Atomics.load(i32, TAIL);
      }
    }
  }

  private fill(base: number, msg: Int32Array, len: number): void {
    const { i32 } = this;
    for (let i = 0; i < len; i++) i32[base + 1 + i] = msg[i]!;
    // Publishing the sequence is the release: the payload stores above become visible first.
    const pos = Atomics.load(i32, base);
    Atomics.store(i32, base, (pos + 1) | 0);
    this.doorbell.ring();
  }

  private full(): boolean {
    const pos = Atomics.load(this.i32, TAIL);
    const base = HEADER_WORDS + (pos & this.mask) * SLOT_WORDS;
    return ((Atomics.load(this.i32, base) - pos) | 0) < 0;
  }

  private waitForSpace(timeoutMs: number): boolean {
    const { i32 } = this;
    const seen = Atomics.load(i32, SPACE);
    Atomics.add(i32, SPACE_WAITERS, 1);
    let ok = true;
    if (this.full()) {
      const s = activeSchedule();
      const r = s === null ? 'free' : s.block(i32, SPACE, seen, 'send-full', 0, timeoutMs);
      ok = r === 'free' ? Atomics.wait(i32, SPACE, seen, timeoutMs) !== 'timed-out' || !this.full() : r === 'ok' || !this.full();
    }
    Atomics.sub(i32, SPACE_WAITERS, 1);
    return ok;
  }

  // ---- consumer side (the actor host thread only) -------------------------

  /**
   * Hand every published message to `handler(i32, base)` (payload at
   * i32[base .. base+PAYLOAD_WORDS)) in order; at most `max`. Returns how many.
   */
  drain(handler: (i32: Int32Array, base: number) => void, max = Infinity): number {
    const { i32, mask } = this;
    let n = 0;
    let head = this.head;
    while (n < max) {
      const base = HEADER_WORDS + (head & mask) * SLOT_WORDS;
      if (((Atomics.load(i32, base) - head - 1) | 0) !== 0) break;
      try {
        handler(i32, base + 1);
      } finally {
        // Free the slot for the producer one lap ahead.
        Atomics.store(i32, base, (head + this.capacity) | 0);
        head = (head + 1) | 0;
        this.head = head;
        Atomics.store(i32, HEAD, head);
        n++;
      }
    }
    if (n > 0 && Atomics.load(i32, SPACE_WAITERS) > 0) {
      Atomics.add(i32, SPACE, 1);
      Atomics.notify(i32, SPACE);
    }
    return n;
  }

  /** True when a published message is waiting. */
  pending(): boolean {
    const base = HEADER_WORDS + (this.head & this.mask) * SLOT_WORDS;
    return ((Atomics.load(this.i32, base) - this.head - 1) | 0) === 0;
  }

  /** Messages reserved by producers and consumed so far (both wrap at 2^32): they move whenever the ring is used. */
  positions(): [tail: number, head: number] {
    return [Atomics.load(this.i32, TAIL), Atomics.load(this.i32, HEAD)];
  }

  /** Producers waiting for space in the full ring right now (approximate: a hint for observers). */
  spaceWaiters(): number {
    return Atomics.load(this.i32, SPACE_WAITERS);
  }

  /** Messages published and not yet consumed (approximate while producers run). */
  size(): number {
    return (Atomics.load(this.i32, TAIL) - Atomics.load(this.i32, HEAD)) | 0;
  }
}
