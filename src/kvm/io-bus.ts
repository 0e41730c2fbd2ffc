/**
 * The VM's MMIO bus (kvm_io_bus): which actor answers which guest-physical
 * range. Lives in shared memory so a registration made by any thread (the VMM
 * setting an ITS base, map_resources on a vCPU's first run) is seen by every
 * vCPU's next access. Registration happens under kvm.slots_lock; lookups are
 * lock-free (entries are published by their state word last).
 *
 * A region registered `deferred` exists but does not decode until
 * mapResources() runs: the pre-v4.12 "registered at first run" behaviour.
 */
import { EEXIST, ENOSPC } from '../uapi/errno.js';

const B_GEN = 0, B_READY = 1, B_COUNT = 2, B_MAX = 3;
const HEADER_WORDS = 16;
const E_STATE = 0, E_BASE_LO = 1, E_BASE_HI = 2, E_SIZE = 3, E_ACTOR = 4, E_REGION = 5, E_KIND = 6;
const ENTRY_WORDS = 8;
export const IODEV_EMPTY = 0, IODEV_ACTIVE = 1, IODEV_DEFERRED = 2;

export interface IoRegion {
  base: number;
  size: number;
  /** Actor that serves accesses. */
  actor: number;
  /** Device-local id the actor uses to tell its regions apart. */
  region: number;
  /** Device kind tag (e.g. "is an ITS frame") for lookups like the MSI doorbell's. */
  kind: number;
  state: number;
}

export class IoBus {
  readonly i32: Int32Array;

  static create(maxRegions = 64): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer((HEADER_WORDS + maxRegions * ENTRY_WORDS) * 4);
    new Int32Array(buffer)[B_MAX] = maxRegions;
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
  }

  /** Add a region. Caller holds kvm.slots_lock. 0, -EEXIST (overlap) or -ENOSPC. */
  register(r: Omit<IoRegion, 'state'>, deferred = false): number {
    const { i32 } = this;
    const n = Atomics.load(i32, B_COUNT);
    for (let i = 0; i < n; i++) {
      const e = this.entry(i);
      if (e.state !== IODEV_EMPTY && r.base < e.base + e.size && e.base < r.base + r.size) return -EEXIST;
    }
    let slot = -1;
    for (let i = 0; i < n; i++) if (Atomics.load(i32, HEADER_WORDS + i * ENTRY_WORDS + E_STATE) === IODEV_EMPTY) { slot = i; break; }
    if (slot < 0) {
      if (n >= i32[B_MAX]!) return -ENOSPC;
      slot = n;
    }
    const b = HEADER_WORDS + slot * ENTRY_WORDS;
    i32[b + E_BASE_LO] = r.base % 2 ** 32;
    i32[b + E_BASE_HI] = Math.floor(r.base / 2 ** 32);
    i32[b + E_SIZE] = r.size;
    i32[b + E_ACTOR] = r.actor;
    i32[b + E_REGION] = r.region;
    i32[b + E_KIND] = r.kind;
    Atomics.store(i32, b + E_STATE, deferred ? IODEV_DEFERRED : IODEV_ACTIVE);
    if (slot === n) Atomics.store(i32, B_COUNT, n + 1);
    Atomics.add(i32, B_GEN, 1);
    return 0;
  }

  /** Remove every region served by `actor`. Caller holds kvm.slots_lock. */
  unregisterActor(actor: number): void {
    const n = Atomics.load(this.i32, B_COUNT);
    for (let i = 0; i < n; i++) {
      const b = HEADER_WORDS + i * ENTRY_WORDS;
      if (this.i32[b + E_ACTOR] === actor) Atomics.store(this.i32, b + E_STATE, IODEV_EMPTY);
    }
    Atomics.add(this.i32, B_GEN, 1);
  }

  /** Index of the active region containing [gpa, gpa+len), or -1. */
  find(gpa: number, len = 1): number {
    const { i32 } = this;
    const n = Atomics.load(i32, B_COUNT);
    for (let i = 0; i < n; i++) {
      const b = HEADER_WORDS + i * ENTRY_WORDS;
      if (Atomics.load(i32, b + E_STATE) !== IODEV_ACTIVE) continue;
      const base = (i32[b + E_BASE_LO]! >>> 0) + (i32[b + E_BASE_HI]! >>> 0) * 2 ** 32;
      if (gpa >= base && gpa + len <= base + (i32[b + E_SIZE]! >>> 0)) return i;
    }
    return -1;
  }

  entry(i: number): IoRegion {
    const b = HEADER_WORDS + i * ENTRY_WORDS;
    const { i32 } = this;
    return {
      state: Atomics.load(i32, b + E_STATE),
      base: (i32[b + E_BASE_LO]! >>> 0) + (i32[b + E_BASE_HI]! >>> 0) * 2 ** 32,
      size: i32[b + E_SIZE]! >>> 0,
      actor: i32[b + E_ACTOR]!,
      region: i32[b + E_REGION]!,
      kind: i32[b + E_KIND]!,
    };
  }

  regions(): IoRegion[] {
    const n = Atomics.load(this.i32, B_COUNT);
    const out: IoRegion[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.entry(i);
      if (e.state !== IODEV_EMPTY) out.push(e);
    }
    return out;
  }

  /** vgic_ready(): has map_resources run? */
  ready(): boolean {
    return Atomics.load(this.i32, B_READY) !== 0;
  }

  /**
   * The once-per-VM part of kvm_vgic_map_resources as far as the bus goes:
   * mark the VM ready and make every deferred region decode. Regions deferred
   * after this never decode (the multi-ITS blind spot). Caller holds slots_lock.
   * Returns the number of regions activated, or 0 if already ready.
   */
  mapResources(): number {
    if (Atomics.exchange(this.i32, B_READY, 1) !== 0) return 0;
    let activated = 0;
    const n = Atomics.load(this.i32, B_COUNT);
    for (let i = 0; i < n; i++) {
      const b = HEADER_WORDS + i * ENTRY_WORDS;
      if (Atomics.compareExchange(this.i32, b + E_STATE, IODEV_DEFERRED, IODEV_ACTIVE) === IODEV_DEFERRED) activated++;
    }
    Atomics.add(this.i32, B_GEN, 1);
    return activated;
  }
}
