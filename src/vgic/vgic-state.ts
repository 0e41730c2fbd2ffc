/**
 * The vGIC state every thread of the VM reaches in shared memory: the
 * distributor words, each vCPU's redistributor registers and ap_list, the
 * VM-global LPI table, one record per ITS, and each ITS's translation cache.
 * Owned jointly: each field names who writes it. Spinlock words (irq_lock,
 * ap_list_lock, cache write lock) model the kernel's raw spinlocks.
 *
 * Mirrors struct vgic_dist / vgic_cpu / vgic_irq (arch/arm64/kvm/vgic/).
 */
import { GIC_LPI_MAX_INTID, GIC_LPI_OFFSET } from '../uapi/gic-fields.js';
import { alignedSharedBuffer } from '../sync/shared-buffer.js';

/** Number of INTIDs the LPI table covers (16 ID bits, KVM's INTERRUPT_ID_BITS_ITS). */
export const NR_INTIDS = GIC_LPI_MAX_INTID + 1;
/** INTID bits with an ITS (GICD_TYPER.IDbits + 1). */
export const GIC_INTID_BITS = 16;
export const NR_LPIS = NR_INTIDS - GIC_LPI_OFFSET;
/** Maximum ITSs per VM (frames must not overlap; KVM has no fixed limit). */
export const MAX_ITS = 16;
/** Spurious INTID returned by an acknowledge with nothing pending (ICC_IAR1_EL1). */
export const INTID_SPURIOUS = 1023;

// ---- distributor (header) --------------------------------------------------
/** GICD_CTLR: written by the distributor actor. */
export const D_GICD_CTLR = 0;
/** VM-wide GICR_PROPBASER (lo, hi): written by the distributor actor and ITS creation. */
export const D_PROPBASER_LO = 1, D_PROPBASER_HI = 2;
/** Number of ITSs created; has_its = NR_ITS > 0. */
export const D_NR_ITS = 3;
/** Spinlock for LPI creation/destruction (dist->lpi_xa lock). */
export const D_LPI_LOCK = 4;
/** LPI delivery counters for conservation checks: signalled (accepted MSIs/INTs), acknowledged. */
export const D_ACKED = 5;
/** Geometry, written at creation: vCPU count and translation-cache slots per ITS. */
const D_NR_VCPUS = 14, D_CACHE_CAPACITY = 15;
const DIST_WORDS = 16;

// ---- per vCPU (redistributor + ap_list) ------------------------------------
export const C_GICR_CTLR = 0, C_PENDBASER_LO = 1, C_PENDBASER_HI = 2, C_PTZ = 3, C_AP_LOCK = 4, C_AP_COUNT = 5,
  C_ACKED = 6, C_EOIED = 7;
const CPU_HEADER = 16;

// ---- per LPI ---------------------------------------------------------------
/** irq_lock spinlock. */
export const L_LOCK = 0;
/** References (ITEs naming this INTID); 0 = no such LPI. */
export const L_REFS = 1;
export const L_FLAGS = 2;
export const L_PRIORITY = 3;
/** target_vcpu: vcpu_id, or -1 (collection unmapped). */
export const L_TARGET = 4;
/** irq->vcpu: whose ap_list holds it, or -1. */
export const L_QUEUED_ON = 5;
/** Deliveries (acknowledges) of this LPI, for conservation checks. */
export const L_DELIVERED = 6;
/** Incarnation: bumped each time the INTID is created, so a cached translation cannot reach a successor. */
export const L_GEN = 7;
const LPI_WORDS = 8;
export const F_ENABLED = 1, F_PENDING = 2;

// ---- per ITS ---------------------------------------------------------------
export const I_ACTOR = 0, I_BASE_LO = 1, I_BASE_HI = 2, I_ENABLED = 3, I_LIVE = 4;
const ITS_WORDS = 8;

// ---- translation cache (per ITS) --------------------------------------------
/** Seqlock sequence (odd while written), write spinlock, live entries. */
export const K_SEQ = 0, K_LOCK = 1, K_COUNT = 2;
const CACHE_HEADER = 4;
/** Words per cache entry: [key, intid (0 = empty), LPI incarnation]. */
export const CACHE_ENTRY_WORDS = 3;

export interface VgicStateOptions {
  nrVcpus: number;
  /** Translation cache entries per ITS (a power of two). Default 4096. */
  cacheCapacity?: number;
}

/** Views over the vGIC shared buffer; build one per thread. */
export class VgicState {
  readonly i32: Int32Array;
  readonly nrVcpus: number;
  readonly cacheCapacity: number;
  private readonly cpuBase: number;
  private readonly cpuWords: number;
  private readonly lpiBase: number;
  private readonly itsBase: number;
  private readonly cacheBase: number;

  static create(o: VgicStateOptions): SharedArrayBuffer {
    const cap = o.cacheCapacity ?? 4096;
    if (cap < 2 || (cap & (cap - 1)) !== 0) throw new RangeError('gic.cacheCapacity must be a power of two >= 2');
    const words = layout(o.nrVcpus, cap).total;
    const buffer = alignedSharedBuffer(words * 4);
    const i32 = new Int32Array(buffer);
    i32[D_NR_VCPUS] = o.nrVcpus;
    i32[D_CACHE_CAPACITY] = cap;
    const s = new VgicState(buffer);
    for (let i = 0; i < NR_INTIDS; i++) {
      i32[s.lpi(i) + L_TARGET] = -1;
      i32[s.lpi(i) + L_QUEUED_ON] = -1;
    }
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.nrVcpus = this.i32[D_NR_VCPUS]!;
    this.cacheCapacity = this.i32[D_CACHE_CAPACITY]!;
    const l = layout(this.nrVcpus, this.cacheCapacity);
    this.cpuBase = l.cpu;
    this.cpuWords = l.cpuWords;
    this.lpiBase = l.lpi;
    this.itsBase = l.its;
    this.cacheBase = l.cache;
  }

  /** Word index of vCPU `id`'s record (C_* offsets). */
  cpu(id: number): number {
    return this.cpuBase + id * this.cpuWords;
  }

  /** Word index of ap_list entry `n` of vCPU `id`. */
  apEntry(id: number, n: number): number {
    return this.cpu(id) + CPU_HEADER + n;
  }

  /** Word index of INTID `intid`'s record (L_* offsets). */
  lpi(intid: number): number {
    return this.lpiBase + intid * LPI_WORDS;
  }

  /** Word index of ITS `n`'s record (I_* offsets). */
  its(n: number): number {
    return this.itsBase + n * ITS_WORDS;
  }

  /** Word index of ITS `n`'s translation cache header (K_*); CACHE_ENTRY_WORDS-word entries follow. */
  cache(n: number): number {
    return this.cacheBase + n * (CACHE_HEADER + CACHE_ENTRY_WORDS * this.cacheCapacity);
  }

  cacheEntry(n: number, slot: number): number {
    return this.cache(n) + CACHE_HEADER + CACHE_ENTRY_WORDS * slot;
  }

  propbaser(): bigint {
    return (BigInt(Atomics.load(this.i32, D_PROPBASER_HI) >>> 0) << 32n) | BigInt(Atomics.load(this.i32, D_PROPBASER_LO) >>> 0);
  }

  /**
   * gicrPropbaserAddress(propbaser()) without BigInts (every LPI created
   * reads its config byte there): bits 51:12, the words read in the same order.
   */
  propbaserAddress(): number {
    const hi = Atomics.load(this.i32, D_PROPBASER_HI);
    const lo = Atomics.load(this.i32, D_PROPBASER_LO);
    return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
  }

  setPropbaser(v: bigint): void {
    Atomics.store(this.i32, D_PROPBASER_LO, Number(v & 0xffffffffn) | 0);
    Atomics.store(this.i32, D_PROPBASER_HI, Number((v >> 32n) & 0xffffffffn) | 0);
  }

  pendbaser(id: number): bigint {
    const c = this.cpu(id);
    return (BigInt(Atomics.load(this.i32, c + C_PENDBASER_HI) >>> 0) << 32n) | BigInt(Atomics.load(this.i32, c + C_PENDBASER_LO) >>> 0);
  }

  /** gicrPendbaserAddress(pendbaser(id)) without BigInts: bits 51:16, the words read in the same order. */
  pendbaserAddress(id: number): number {
    const c = this.cpu(id);
    const hi = Atomics.load(this.i32, c + C_PENDBASER_HI);
    const lo = Atomics.load(this.i32, c + C_PENDBASER_LO);
    return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_0000) >>> 0);
  }

  setPendbaser(id: number, v: bigint): void {
    const c = this.cpu(id);
    Atomics.store(this.i32, c + C_PENDBASER_LO, Number(v & 0xffffffffn) | 0);
    Atomics.store(this.i32, c + C_PENDBASER_HI, Number((v >> 32n) & 0xffffffffn) | 0);
  }

  hasIts(): boolean {
    return Atomics.load(this.i32, D_NR_ITS) > 0;
  }

  itsBaseAddress(n: number): number {
    const r = this.its(n);
    return (Atomics.load(this.i32, r + I_BASE_LO) >>> 0) + (Atomics.load(this.i32, r + I_BASE_HI) >>> 0) * 2 ** 32;
  }
}

function layout(nrVcpus: number, cacheCapacity: number) {
  // ap_list capacity: every LPI can be queued on one vCPU at most, so NR_LPIS bounds any single list.
  const cpuWords = CPU_HEADER + NR_LPIS;
  const cpu = DIST_WORDS;
  const lpi = cpu + nrVcpus * cpuWords;
  const its = lpi + NR_INTIDS * LPI_WORDS;
  const cache = its + MAX_ITS * ITS_WORDS;
  const total = cache + MAX_ITS * (CACHE_HEADER + CACHE_ENTRY_WORDS * cacheCapacity);
  return { cpuWords, cpu, lpi, its, cache, total };
}
