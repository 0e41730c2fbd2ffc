/**
 * A request/reply channel in guest RAM between the VMM (a fuzzer) and a
 * guest program on one vCPU: the VMM writes a JSON request and bumps a
 * sequence word; the guest, polling like a driver on a doorbell page (WFE
 * with a short timeout, doing its own work in between), runs it and answers
 * with a JSON reply and an acknowledged sequence. A channel in RAM, not a
 * MessagePort, because the guest must stay inside KVM_RUN (holding its
 * vcpu.mutex) while it waits, as a real guest would.
 *
 * Layout at `gpa` (64 KiB aligned, CHANNEL_BYTES long), Int32 words:
 *   [0] request sequence   [1] request bytes   [2] reply sequence   [3] reply bytes
 *   [4] guest state: 0 booting, 1 ready, < 0 -errno (the guest gave up)
 * Request payload at gpa + REQ_OFFSET, reply payload at gpa + REPLY_OFFSET.
 *
 * This module is imported by guest programs on vCPU threads: it must stay
 * free of VMM-side imports.
 */
import type { Guest } from '../../kvm/guest-api.js';
import type { GuestMemory } from '../../mem/guest-memory.js';
import { waitForWord } from '../../sync/wait.js';

export const CHANNEL_BYTES = 0x10_0000;
const REQ_OFFSET = 0x1000;
const REPLY_OFFSET = 0x8_0000;
const PAYLOAD_MAX = REPLY_OFFSET - REQ_OFFSET;
const W_REQ = 0, W_REQ_LEN = 1, W_REPLY = 2, W_REPLY_LEN = 3, W_STATE = 4;
const WORDS = 8;
export const GUEST_BOOTING = 0, GUEST_READY = 1;

/** JSON with bigints as `{ $big: "0x..." }`. */
export function encodeJson(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? { $big: `0x${x.toString(16)}` } : x)));
}
export function decodeJson<T>(b: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(b), (_k, x: unknown) =>
    (x !== null && typeof x === 'object' && typeof (x as { $big?: unknown }).$big === 'string' ? BigInt((x as { $big: string }).$big) : x)) as T;
}

// ---- guest side -------------------------------------------------------------------

export class GuestChannel {
  private readonly w: Int32Array;
  private seen = 0;

  private constructor(private readonly guest: Guest, private readonly gpa: number, w: Int32Array) {
    this.w = w;
  }

  /** The channel at `gpa`, or undefined if it is not guest RAM. */
  static open(guest: Guest, gpa: number): GuestChannel | undefined {
    const w = guest.atomics32(gpa, WORDS);
    return w === undefined ? undefined : new GuestChannel(guest, gpa, w);
  }

  /** Tell the VMM this guest is ready (state 1) or gave up (a negative errno). */
  setState(state: number): void {
    Atomics.store(this.w, W_STATE, state);
    Atomics.notify(this.w, W_STATE);
  }

  /**
   * Wait for the next request, calling `idle()` between 1 ms WFE naps (a
   * guest keeps handling interrupts while it waits). Returns it parsed.
   */
  next<T>(idle: () => void): T {
    for (;;) {
      const s = Atomics.load(this.w, W_REQ);
      if (s !== this.seen) {
        this.seen = s;
        const len = Atomics.load(this.w, W_REQ_LEN);
        const b = new Uint8Array(Math.max(0, Math.min(len, PAYLOAD_MAX)));
        if (this.guest.readBytes(this.gpa + REQ_OFFSET, b) !== 0) return undefined as T;
        return decodeJson<T>(b);
      }
      idle();
      this.guest.wfe(this.w, W_REQ, s, 1);
    }
  }

  /** Answer the request last returned by next(). */
  reply(v: unknown): void {
    let b = encodeJson(v);
    if (b.length > PAYLOAD_MAX) b = encodeJson({ error: `reply of ${b.length} bytes does not fit the channel` });
    this.guest.writeBytes(this.gpa + REPLY_OFFSET, b);
    Atomics.store(this.w, W_REPLY_LEN, b.length);
    Atomics.store(this.w, W_REPLY, this.seen);
    Atomics.notify(this.w, W_REPLY);
  }
}

// ---- VMM side ---------------------------------------------------------------------

export class VmmChannel {
  private readonly w: Int32Array;
  private seq = 0;

  constructor(private readonly mem: GuestMemory, private readonly gpa: number) {
    const w = mem.atomics32(gpa, WORDS);
    if (w === undefined) throw new RangeError(`channel at 0x${gpa.toString(16)} is not guest RAM`);
    this.w = w;
    this.seq = Atomics.load(w, W_REQ);
  }

  /** Wait for the guest to report ready: GUEST_READY, its negative errno, or undefined on timeout. */
  async ready(timeoutMs: number): Promise<number | undefined> {
    const ok = await waitForWord(this.w, W_STATE, (v) => v !== GUEST_BOOTING, timeoutMs);
    return ok ? Atomics.load(this.w, W_STATE) : undefined;
  }

  /** Post a request and wait for its reply: the reply, or undefined if none came within timeoutMs. */
  async call<R>(request: unknown, timeoutMs: number): Promise<R | undefined> {
    const b = encodeJson(request);
    if (b.length > PAYLOAD_MAX) throw new RangeError(`request of ${b.length} bytes does not fit the channel`);
    if (this.mem.write(this.gpa + REQ_OFFSET, b) !== 0) throw new RangeError('channel payload is not guest RAM');
    const seq = (this.seq + 1) | 0;
    this.seq = seq;
    Atomics.store(this.w, W_REQ_LEN, b.length);
    Atomics.store(this.w, W_REQ, seq);
    Atomics.notify(this.w, W_REQ);
    if (!(await waitForWord(this.w, W_REPLY, (v) => v === seq, timeoutMs))) return undefined;
    const out = new Uint8Array(Atomics.load(this.w, W_REPLY_LEN));
    this.mem.readInto(this.gpa + REPLY_OFFSET, out);
    return decodeJson<R>(out);
  }
}
