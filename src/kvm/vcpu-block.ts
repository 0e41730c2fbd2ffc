/**
 * Per-vCPU shared words: the state machine, the request word (KVM's
 * vcpu->requests), the kick doorbell, counters and the results area guest
 * programs report through. Written by the vCPU thread, read by everyone.
 *
 *   Created --start--> Running <--pause/resume--> Paused
 *   Running/Paused --guest returns, throws, destroy, worker death--> Exited
 */
import { Doorbell, DOORBELL_WORDS } from '../actors/doorbell.js';
import { alignedSharedBuffer } from '../sync/shared-buffer.js';

export const VCPU_CREATED = 0, VCPU_RUNNING = 1, VCPU_PAUSED = 2, VCPU_EXITED = 3;
/** A vCPU's state: created (not started), running (in KVM_RUN), paused (out of KVM_RUN, waiting for resume), exited. */
export type VcpuStateName = 'created' | 'running' | 'paused' | 'exited';
export const VCPU_STATE_NAMES: readonly VcpuStateName[] = ['created', 'running', 'paused', 'exited'];

/**
 * vcpu->requests bits live in the low byte; every request or clear also bumps
 * a sequence in the upper bits, so a vCPU waiting on the word can never sleep
 * through a change that left the bits as they were (resume then pause).
 */
export const REQ_PAUSE = 1, REQ_EXIT = 2, REQ_IRQ_PENDING = 4;
export const REQ_MASK = 0xff;
const REQ_SEQ = 0x100;

/** Why a vCPU exited for good. */
export const EXIT_NONE = 0, EXIT_DONE = 1, EXIT_FAULT = 2, EXIT_DESTROYED = 3, EXIT_DIED = 4;
/** Why a vCPU exited: 'done' (the guest returned), 'fault' (it threw), 'destroyed' (vm.destroy()), 'died' (its worker ended); 'none' while it has not. */
export type ExitReasonName = 'none' | 'done' | 'fault' | 'destroyed' | 'died';
export const EXIT_REASON_NAMES: readonly ExitReasonName[] = ['none', 'done', 'fault', 'destroyed', 'died'];

export const V_STATE = 0, V_REQUESTS = 1, V_EXIT_REASON = 2, V_TID = 3, V_HAS_RUN = 4,
  V_ENTRIES = 5, V_MMIO_EXITS = 6, V_WFI = 7, V_UNHANDLED_MMIO = 8, V_IN_MMIO = 9,
  /** Pause handshake: the VMM bumps the epoch with each pause; a paused vCPU acknowledges it. */
  V_PAUSE_EPOCH = 10, V_PAUSE_ACK = 11;
const V_DOORBELL = 16;
const VCPU_WORDS = V_DOORBELL + DOORBELL_WORDS;
/** A cache line, so every vCPU's words start on one. */
const HEADER_WORDS = 16;

export class VcpuBlock {
  readonly i32: Int32Array;
  readonly results: Int32Array[];
  readonly nrVcpus: number;
  readonly resultWords: number;
  private readonly doorbells: Doorbell[];

  static create(nrVcpus: number, resultWords: number): SharedArrayBuffer {
    const buffer = alignedSharedBuffer((HEADER_WORDS + nrVcpus * VCPU_WORDS + nrVcpus * resultWords) * 4);
    const i32 = new Int32Array(buffer);
    i32[0] = nrVcpus;
    i32[1] = resultWords;
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.nrVcpus = this.i32[0]!;
    this.resultWords = this.i32[1]!;
    const rbase = HEADER_WORDS + this.nrVcpus * VCPU_WORDS;
    this.results = Array.from({ length: this.nrVcpus }, (_, i) =>
      this.i32.subarray(rbase + i * this.resultWords, rbase + (i + 1) * this.resultWords));
    this.doorbells = Array.from({ length: this.nrVcpus }, (_, i) => {
      const start = this.word(i, V_DOORBELL);
      return new Doorbell(this.i32.subarray(start, start + DOORBELL_WORDS));
    });
  }

  /** Index of word `w` of vCPU `id`. */
  word(id: number, w: number): number {
    return HEADER_WORDS + id * VCPU_WORDS + w;
  }

  state(id: number): number {
    return Atomics.load(this.i32, this.word(id, V_STATE));
  }

  setState(id: number, s: number): void {
    const i = this.word(id, V_STATE);
    Atomics.store(this.i32, i, s);
    Atomics.notify(this.i32, i);
  }

  doorbell(id: number): Doorbell {
    return this.doorbells[id]!;
  }

  /** Set request bits and kick the vCPU out of WFI (kvm_make_request + kvm_vcpu_kick). */
  request(id: number, bits: number, doorbell: Doorbell): void {
    const w = this.word(id, V_REQUESTS);
    Atomics.or(this.i32, w, bits);
    Atomics.add(this.i32, w, REQ_SEQ);
    doorbell.ringAlways();
    // A vCPU paused in userspace waits on the request word itself.
    Atomics.notify(this.i32, w);
  }

  clearRequest(id: number, bits: number): void {
    const w = this.word(id, V_REQUESTS);
    Atomics.and(this.i32, w, ~bits);
    Atomics.add(this.i32, w, REQ_SEQ);
    Atomics.notify(this.i32, w);
  }

  /**
   * Interrupt kick: set `bits` and wake the vCPU only if it sleeps in WFI. Cheaper
   * than request(): a vCPU in userspace needs no wake-up to see an interrupt later.
   */
  kick(id: number, bits: number): void {
    const w = this.word(id, V_REQUESTS);
    if ((Atomics.load(this.i32, w) & bits) !== bits) Atomics.or(this.i32, w, bits);
    this.doorbells[id]!.ring();
  }

  /** Request bits only (without the sequence). */
  requests(id: number): number {
    return Atomics.load(this.i32, this.word(id, V_REQUESTS)) & REQ_MASK;
  }

  counter(id: number, w: number): number {
    return Atomics.load(this.i32, this.word(id, w));
  }
}
