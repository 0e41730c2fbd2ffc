/**
 * Standalone ITSs on the calling thread, over real shared structures (lock
 * arena, guest memory, vGIC state, vCPU block) but with no workers: for unit
 * tests, command-stream replays (the equivalence checker) and micro
 * benchmarks. Nothing here is used by a running VM.
 *
 * Default guest-physical layout (16 MiB of RAM at 0x4000_0000):
 *   RAM + 0x00_0000  LPI property table (64 KiB; every byte: priority 0xA0, Enable)
 *   RAM + 0x01_0000  pending table of vCPU n at + n * 64 KiB (n < 8)
 *   RAM + 0x10_0000 * (1 + i)  ITS i: command queue (64 KiB), device table
 *                    (+0x1_0000, 64 KiB flat), collection table (+0x2_0000,
 *                    64 KiB), ITTs (+0x4_0000, 256 bytes per DeviceID < 3072)
 */
import { GuestMemory, allocateMemslots, type MemslotSpec } from '../../dist/src/mem/guest-memory.js';
import { VcpuBlock } from '../../dist/src/kvm/vcpu-block.js';
import { LockArena } from '../../dist/src/sync/arena.js';
import { ITS_CMD_LOCK, ITS_ITS_LOCK } from '../../dist/src/sync/classes.js';
import { ThreadContext } from '../../dist/src/sync/thread.js';
import {
  GITS_BASER_TYPE_COLLECTION, GITS_BASER_TYPE_DEVICE, gitsCbaserAddress, itsCmdBufferSize, makeGicrPendbaser, makeGicrPropbaser, makeGitsBaser,
  makeGitsCbaser, makeLpiProp,
} from '../../dist/src/uapi/gic-fields.js';
import {
  GITS_BASER, GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CWRITER, GITS_IIDR,
} from '../../dist/src/uapi/gits.js';
import { packL1e } from '../../dist/src/uapi/its-abi.js';
import { encodeItsCommand, ITS_CMD_BYTES, type ItsCommand } from '../../dist/src/uapi/its-cmd.js';
import { ItsCache } from '../../dist/src/vgic/its-cache.js';
import { GICD_CTLR_ENABLE_G1, GICR_CTLR_ENABLE_LPIS, Vgic } from '../../dist/src/vgic/vgic.js';
import {
  C_GICR_CTLR, D_GICD_CTLR, D_NR_ITS, F_ENABLED, F_PENDING, L_FLAGS, L_PRIORITY, L_REFS, L_TARGET, MAX_ITS, NR_INTIDS,
  NR_LPIS, VgicState,
} from '../../dist/src/vgic/vgic-state.js';
import { Its, type ItsCommandTrace, type ItsSnapshot } from '../../dist/src/vgic/its/its.js';

const ZERO_PAGE = Buffer.alloc(4096);

export const HARNESS_RAM = 0x4000_0000;
export const HARNESS_RAM_SIZE = 16 * 1024 * 1024;
export const HARNESS_PROP_TABLE = HARNESS_RAM;
/** Priority byte every LPI gets in the default property table (Enable set). */
export const HARNESS_LPI_PRIORITY = 0xa0;

export function harnessPendTable(vcpu: number): number {
  return HARNESS_RAM + 0x1_0000 * (1 + vcpu);
}
export function harnessItsArea(its: number): number {
  return HARNESS_RAM + 0x10_0000 * (1 + its);
}
export function harnessCmdQueue(its: number): number {
  return harnessItsArea(its);
}
export function harnessDeviceTable(its: number): number {
  return harnessItsArea(its) + 0x1_0000;
}
export function harnessCollectionTable(its: number): number {
  return harnessItsArea(its) + 0x2_0000;
}
/** Default ITT of `deviceId` (256 bytes: up to 32 events; pass a larger area yourself for more). */
export function harnessItt(its: number, deviceId: number): number {
  return harnessItsArea(its) + 0x4_0000 + (deviceId % 3072) * 0x100;
}

export interface ItsHarnessOptions {
  /** vCPUs (vcpu_ids 0..n-1). Default 4, at most 8 with the default layout. */
  nrVcpus?: number;
  /** ITSs. Default 1. */
  nrIts?: number;
  movallAllLpis?: boolean;
  /** Guest memory. Default 16 MiB at 0x4000_0000. */
  memory?: MemslotSpec[];
  /** Program PROPBASER (IDbits 15), the property table, PENDBASERs, EnableLPIs and GICD_CTLR. Default true. */
  programRedistributors?: boolean;
  /** Translation-cache entries per ITS. Default 256. */
  cacheCapacity?: number;
}

export interface ItsEnableOptions {
  /** CBASER Size field (4 KiB pages - 1). Default 15 (64 KiB). */
  cbaserSize?: number;
  /** CBASER address. Default harnessCmdQueue(n). */
  cmdQueue?: number;
  /** Value written to BASER0 (default: flat device table, 64 KiB, Valid). */
  baser0?: bigint;
  /** Value written to BASER1 (default: collection table, 64 KiB, Valid). */
  baser1?: bigint;
  /** Write GITS_CTLR.Enable. Default true. */
  enable?: boolean;
}

export class ItsHarness {
  readonly arena: LockArena;
  readonly thread: ThreadContext;
  readonly mem: GuestMemory;
  readonly st: VgicState;
  readonly vcpus: VcpuBlock;
  readonly vgic: Vgic;
  readonly cache: ItsCache;
  readonly its: Its[] = [];
  /** The options this harness was built with (fresh() builds a sibling from them). */
  readonly options: ItsHarnessOptions;
  /** Handler results of the commands run by the last run() call. */
  lastResults: number[] = [];
  private readonly traces: ItsCommandTrace[] = [];

  constructor(o: ItsHarnessOptions = {}) {
    this.options = o;
    const nrVcpus = o.nrVcpus ?? 4;
    const nrIts = o.nrIts ?? 1;
    if (!Number.isInteger(nrIts) || nrIts < 1 || nrIts > Math.min(MAX_ITS, 14)) throw new RangeError('nrIts must be 1..14');
    this.arena = LockArena.create({}, 'counts');
    this.thread = new ThreadContext(this.arena, this.arena.registerThread('other', 0, 'its-harness'));
    this.mem = new GuestMemory(allocateMemslots(o.memory ?? [{ gpa: HARNESS_RAM, size: HARNESS_RAM_SIZE }])).withDirtyLog();
    this.st = new VgicState(VgicState.create({ nrVcpus, cacheCapacity: o.cacheCapacity ?? 256 }));
    this.vcpus = new VcpuBlock(VcpuBlock.create(nrVcpus, 16));
    this.vgic = new Vgic(this.st, this.vcpus, this.mem, this.thread.tid);
    this.cache = new ItsCache(this.st, this.thread.tid);
    for (let n = 0; n < nrIts; n++) {
      const its = new Its({
        index: n, vgic: this.vgic, cache: this.cache, mem: this.mem,
        cmdLock: this.thread.mutex(this.arena.allocLock(ITS_CMD_LOCK, n)),
        itsLock: this.thread.mutex(this.arena.allocLock(ITS_ITS_LOCK, n)),
        movallAllLpis: o.movallAllLpis ?? false,
      });
      its.onCommand = (t) => this.traces.push(t);
      this.its.push(its);
    }
    Atomics.store(this.st.i32, D_NR_ITS, nrIts);
    if (o.programRedistributors ?? true) this.programRedistributors();
  }

  /** PROPBASER (IDbits 15), every property byte enabled, PENDBASERs, EnableLPIs on every vCPU, GICD_CTLR.EnableGrp1. */
  programRedistributors(): void {
    this.st.setPropbaser(makeGicrPropbaser({ address: HARNESS_PROP_TABLE, idBits: 15 }));
    this.mem.write(HARNESS_PROP_TABLE, new Uint8Array(NR_LPIS).fill(makeLpiProp(HARNESS_LPI_PRIORITY, true)));
    for (let v = 0; v < this.st.nrVcpus; v++) {
      this.st.setPendbaser(v, makeGicrPendbaser({ address: harnessPendTable(v) }));
      this.setLpisEnabled(v, true);
    }
    Atomics.store(this.st.i32, D_GICD_CTLR, GICD_CTLR_ENABLE_G1);
  }

  /** GICR_CTLR.EnableLPIs of vCPU `v`, set directly (no pending-table sync, no cache invalidation). */
  setLpisEnabled(v: number, on: boolean): void {
    Atomics.store(this.st.i32, this.st.cpu(v) + C_GICR_CTLR, on ? GICR_CTLR_ENABLE_LPIS : 0);
  }

  /** The LPI property byte of `intid` in the default table. */
  setLpiProp(intid: number, priority: number, enabled: boolean): void {
    this.mem.write8(HARNESS_PROP_TABLE + intid - 8192, makeLpiProp(priority, enabled));
  }

  /**
   * (Re)program ITS `n`: disable it, write CBASER (which empties the queue),
   * BASER0 and BASER1 (defaults: valid tables in the default layout), then
   * enable it.
   */
  enable(n = 0, o: ItsEnableOptions = {}): Its {
    const its = this.its[n]!;
    if (its.enabled) its.mmioWrite(GITS_CTLR, 4, 0n);
    its.mmioWrite(GITS_CBASER, 8, makeGitsCbaser({ valid: true, address: o.cmdQueue ?? harnessCmdQueue(n), size: o.cbaserSize ?? 15 }));
    its.mmioWrite(GITS_BASER, 8, o.baser0 ?? makeGitsBaser({
      valid: true, type: GITS_BASER_TYPE_DEVICE, entrySize: 8, address: harnessDeviceTable(n), size: 0,
    }));
    its.mmioWrite(GITS_BASER + 8, 8, o.baser1 ?? makeGitsBaser({
      valid: true, type: GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: harnessCollectionTable(n), size: 0,
    }));
    if (o.enable ?? true) its.mmioWrite(GITS_CTLR, 4, BigInt(GITS_CTLR_ENABLE));
    return its;
  }

  /**
   * Write `cmds` into ITS `n`'s queue at CWRITER (wrapping at the queue end)
   * and advance CWRITER once: the ITS runs them if enabled. Returns the
   * handler results of the commands the ITS dispatched during the write.
   */
  run(n: number, ...cmds: ItsCommand[]): number[] {
    const its = this.its[n]!;
    const base = gitsCbaserAddress(its.cbaser);
    const size = itsCmdBufferSize(its.cbaser);
    let at = its.cwriter;
    const b = new Uint8Array(ITS_CMD_BYTES);
    for (const c of cmds) {
      encodeItsCommand(c, b);
      this.mem.write(base + at, b);
      at = (at + ITS_CMD_BYTES) % size;
    }
    return this.advance(n, at);
  }

  /** Write raw 32-byte commands (e.g. random bytes) and advance CWRITER. */
  runRaw(n: number, raw: Uint8Array): number[] {
    const its = this.its[n]!;
    const base = gitsCbaserAddress(its.cbaser);
    const size = itsCmdBufferSize(its.cbaser);
    let at = its.cwriter;
    for (let i = 0; i + ITS_CMD_BYTES <= raw.length; i += ITS_CMD_BYTES) {
      this.mem.write(base + at, raw.subarray(i, i + ITS_CMD_BYTES));
      at = (at + ITS_CMD_BYTES) % size;
    }
    return this.advance(n, at);
  }

  /** GITS_CWRITER := offset (64-bit store); the results of the commands it ran. */
  advance(n: number, offset: number): number[] {
    this.traces.length = 0;
    this.its[n]!.mmioWrite(GITS_CWRITER, 8, BigInt(offset));
    this.lastResults = this.traces.map((t) => t.result);
    return this.lastResults;
  }

  /** Result of a single command (throws if it was not dispatched exactly once: a test bug). */
  run1(n: number, cmd: ItsCommand): number {
    const r = this.run(n, cmd);
    if (r.length !== 1) throw new Error(`expected one dispatched command, got ${r.length}`);
    return r[0]!;
  }

  // ---- userspace ioctls, as its-ioctl.ts calls them ------------------------------------------

  /**
   * Run `fn` the way the lock protocol runs SAVE/RESTORE/RESET: with ITS
   * `n`'s its_lock held (taken with tryLock: the harness is single-threaded,
   * so it must be free; a method that tried to take it again would hang).
   */
  withItsLock<T>(n: number, fn: (its: Its) => T): T {
    const its = this.its[n]!;
    const r = its.itsLock.tryLock();
    if (r !== 0) throw new Error(`its_lock of ITS ${n} not free (${r})`);
    try {
      return fn(its);
    } finally {
      its.itsLock.unlock();
    }
  }

  /** KVM_DEV_ARM_ITS_SAVE_TABLES on ITS `n`, its_lock held. */
  save(n = 0): number {
    return this.withItsLock(n, (its) => its.saveTables());
  }

  /** KVM_DEV_ARM_ITS_RESTORE_TABLES on ITS `n`, its_lock held. */
  restore(n = 0): number {
    return this.withItsLock(n, (its) => its.restoreTables());
  }

  /** KVM_DEV_ARM_ITS_CTRL_RESET on ITS `n`, its_lock held. */
  reset(n = 0): void {
    this.withItsLock(n, (its) => its.reset());
  }

  /** A new harness with the same options (fresh guest memory, vGIC state and ITSs). */
  fresh(): ItsHarness {
    return new ItsHarness(this.options);
  }

  /**
   * Copy every memslot's bytes into `dst` (same memory layout): "load guest
   * RAM" on a destination. Pages that are zero on both sides are skipped, so
   * a fresh destination only gets the pages the source uses (much faster).
   */
  copyMemoryTo(dst: ItsHarness): void {
    const a = this.mem.slots, b = dst.mem.slots;
    if (a.length !== b.length) throw new Error('copyMemoryTo: different memory layouts');
    a.forEach((s, i) => {
      const d = b[i]!;
      if (s.gpa !== d.gpa || s.size !== d.size) throw new Error('copyMemoryTo: different memory layouts');
      const from = Buffer.from(s.data), to = Buffer.from(d.data);
      for (let off = 0; off < s.size; off += ZERO_PAGE.length) {
        const src = from.subarray(off, off + ZERO_PAGE.length), dstPage = to.subarray(off, off + ZERO_PAGE.length);
        if (src.equals(ZERO_PAGE) && dstPage.equals(ZERO_PAGE)) continue;
        dstPage.set(src);
      }
    });
  }

  /** A copy of guest RAM [gpa, gpa+len) (default: the first memslot), e.g. to compare two saves byte for byte. */
  memoryImage(gpa = this.mem.slots[0]!.gpa, len = this.mem.slots[0]!.size): Uint8Array {
    const b = new Uint8Array(len);
    if (this.mem.readInto(gpa, b) !== 0) throw new Error(`memoryImage: [${gpa.toString(16)}, +${len.toString(16)}) is not RAM`);
    return b;
  }

  /** Reference count of LPI `intid` (0: the LPI does not exist). */
  lpiRefs(intid: number): number {
    return Atomics.load(this.st.i32, this.st.lpi(intid) + L_REFS);
  }

  /** The state of LPI `intid`, or undefined if it does not exist. */
  lpiState(intid: number): { refs: number; target: number; priority: number; enabled: boolean; pending: boolean } | undefined {
    const l = this.st.lpi(intid);
    const refs = Atomics.load(this.st.i32, l + L_REFS);
    if (refs === 0) return undefined;
    const f = Atomics.load(this.st.i32, l + L_FLAGS);
    return {
      refs,
      target: Atomics.load(this.st.i32, l + L_TARGET),
      priority: Atomics.load(this.st.i32, l + L_PRIORITY),
      enabled: (f & F_ENABLED) !== 0,
      pending: (f & F_PENDING) !== 0,
    };
  }

  /** Every existing LPI (ascending). */
  liveLpis(): number[] {
    const out: number[] = [];
    for (let intid = 8192; intid < NR_INTIDS; intid++) if (this.lpiRefs(intid) > 0) out.push(intid);
    return out;
  }

  /** The LPI pending bit of `intid` in vCPU `v`'s pending table (harness layout). */
  pendingBit(v: number, intid: number): boolean {
    return (this.mem.read8(harnessPendTable(v) + (intid >> 3)) & (1 << (intid & 7))) !== 0;
  }

  setPendingBit(v: number, intid: number, on: boolean): void {
    const gpa = harnessPendTable(v) + (intid >> 3);
    const b = this.mem.read8(gpa);
    this.mem.write8(gpa, on ? b | (1 << (intid & 7)) : b & ~(1 << (intid & 7)));
  }

  /** Every ITS lock is free. */
  locksFree(): boolean {
    return this.its.every((its) => its.cmdLock.owner() === 0 && its.itsLock.owner() === 0);
  }
}

/** Command builders (fields as the ITS sees them; `eventIdBits` is Size + 1). */
export const itsCmd = {
  mapd: (deviceId: number, eventIdBits: number, ittAddr: number, valid = true): ItsCommand =>
    ({ cmd: 'MAPD', deviceId, size: eventIdBits - 1, ittAddr, valid }),
  mapc: (icid: number, rdbase: number, valid = true): ItsCommand => ({ cmd: 'MAPC', icid, rdbase, valid }),
  mapti: (deviceId: number, eventId: number, pintid: number, icid: number): ItsCommand =>
    ({ cmd: 'MAPTI', deviceId, eventId, pintid, icid }),
  mapi: (deviceId: number, eventId: number, icid: number): ItsCommand => ({ cmd: 'MAPI', deviceId, eventId, icid }),
  movi: (deviceId: number, eventId: number, icid: number): ItsCommand => ({ cmd: 'MOVI', deviceId, eventId, icid }),
  discard: (deviceId: number, eventId: number): ItsCommand => ({ cmd: 'DISCARD', deviceId, eventId }),
  clear: (deviceId: number, eventId: number): ItsCommand => ({ cmd: 'CLEAR', deviceId, eventId }),
  int: (deviceId: number, eventId: number): ItsCommand => ({ cmd: 'INT', deviceId, eventId }),
  inv: (deviceId: number, eventId: number): ItsCommand => ({ cmd: 'INV', deviceId, eventId }),
  invall: (icid: number): ItsCommand => ({ cmd: 'INVALL', icid }),
  movall: (rdbase1: number, rdbase2: number): ItsCommand => ({ cmd: 'MOVALL', rdbase1, rdbase2 }),
  sync: (rdbase = 0): ItsCommand => ({ cmd: 'SYNC', rdbase }),
  unknown: (opcode: number): ItsCommand => ({ cmd: 'UNKNOWN', opcode }),
};

// ---------------------------------------------------------------------------
// Guest tables and migration helpers

/** A device-table BASER0 value (flat unless `indirect`; `size` = 64 KiB pages - 1). */
export function deviceBaser(address: number, size = 0, o: { indirect?: boolean; valid?: boolean } = {}): bigint {
  return makeGitsBaser({
    valid: o.valid ?? true, indirect: o.indirect ?? false, type: GITS_BASER_TYPE_DEVICE, entrySize: 8, address, size,
  });
}

/** A collection-table BASER1 value. */
export function collectionBaser(address: number, size = 0, o: { valid?: boolean } = {}): bigint {
  return makeGitsBaser({ valid: o.valid ?? true, type: GITS_BASER_TYPE_COLLECTION, entrySize: 8, address, size });
}

/**
 * Write a level-1 device table at `l1` whose entries `index -> l2Page`
 * (64 KiB-aligned) are valid; other entries of the first `entries` are zero.
 */
export function writeL1Table(mem: GuestMemory, l1: number, pages: Readonly<Record<number, number>>, entries = 8): void {
  for (let i = 0; i < entries; i++) {
    const l2 = pages[i];
    mem.write64(l1 + 8 * i, l2 === undefined ? 0n : packL1e({ valid: true, l2Addr: l2 }));
  }
}

/** The registers the VMM saves for an ITS, read through GRP_ITS_REGS (QEMU's list). */
export interface ItsRegisterImage {
  ctlr: bigint;
  iidr: bigint;
  cbaser: bigint;
  creadr: bigint;
  cwriter: bigint;
  baser0: bigint;
  baser1: bigint;
}

export function readItsRegisters(its: Its): ItsRegisterImage {
  const rd = (off: number): bigint => {
    const { ret, value } = its.uaccessRead(off);
    if (ret !== 0) throw new Error(`uaccessRead(${off.toString(16)}) = ${ret}`);
    return value!;
  };
  return {
    ctlr: rd(GITS_CTLR), iidr: rd(GITS_IIDR), cbaser: rd(GITS_CBASER), creadr: rd(GITS_CREADR),
    cwriter: rd(GITS_CWRITER), baser0: rd(GITS_BASER), baser1: rd(GITS_BASER + 8),
  };
}

export interface ItsRestoreOptions {
  /** Skip the CREADR write (a wrong order: CTLR then replays the queue, spec 9.29). */
  skipCreadr?: boolean;
}

/**
 * The destination half of the documented ITS restore sequence (spec 6.4) on
 * ITS `n` of `dst`, whose guest RAM and redistributors are already loaded:
 * CBASER, CWRITER, CREADR, BASER0/1, IIDR through GRP_ITS_REGS, then
 * RESTORE_TABLES (its_lock held), then CTLR. Returns RESTORE_TABLES' result
 * (CTLR is written only if it is 0). Throws on any failing register write.
 */
export function restoreIts(dst: ItsHarness, n: number, regs: ItsRegisterImage, o: ItsRestoreOptions = {}): number {
  const its = dst.its[n]!;
  const wr = (off: number, v: bigint): void => {
    const r = its.uaccessWrite(off, v);
    if (r !== 0) throw new Error(`uaccessWrite(${off.toString(16)}) = ${r}`);
  };
  wr(GITS_CBASER, regs.cbaser);
  wr(GITS_CWRITER, regs.cwriter);
  if (!o.skipCreadr) wr(GITS_CREADR, regs.creadr);
  wr(GITS_BASER, regs.baser0);
  wr(GITS_BASER + 8, regs.baser1);
  wr(GITS_IIDR, regs.iidr);
  const r = dst.restore(n);
  if (r === 0) wr(GITS_CTLR, regs.ctlr);
  return r;
}

export interface RoundTrip {
  saveRet: number;
  restoreRet: number;
  dst: ItsHarness;
  before: ItsSnapshot;
  after: ItsSnapshot;
}

/**
 * Migrate ITS `n` of `src` into a fresh harness: read its registers, SAVE_TABLES,
 * copy guest RAM, then restoreIts(). The destination is returned even when a
 * step failed (restoreRet is then not meaningful if saveRet != 0).
 */
export function roundTrip(src: ItsHarness, n = 0, o: ItsRestoreOptions = {}): RoundTrip {
  const before = src.its[n]!.snapshot();
  const regs = readItsRegisters(src.its[n]!);
  const saveRet = src.save(n);
  const dst = src.fresh();
  src.copyMemoryTo(dst);
  const restoreRet = saveRet === 0 ? restoreIts(dst, n, regs, o) : saveRet;
  return { saveRet, restoreRet, dst, before, after: dst.its[n]!.snapshot() };
}
