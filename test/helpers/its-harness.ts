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
import { GITS_BASER, GITS_CBASER, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CWRITER } from '../../dist/src/uapi/gits.js';
import { encodeItsCommand, ITS_CMD_BYTES, type ItsCommand } from '../../dist/src/uapi/its-cmd.js';
import { ItsCache } from '../../dist/src/vgic/its-cache.js';
import { GICD_CTLR_ENABLE_G1, GICR_CTLR_ENABLE_LPIS, Vgic } from '../../dist/src/vgic/vgic.js';
import { C_GICR_CTLR, D_GICD_CTLR, D_NR_ITS, MAX_ITS, NR_LPIS, VgicState } from '../../dist/src/vgic/vgic-state.js';
import { Its, type ItsCommandTrace } from '../../dist/src/vgic/its/its.js';

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
  /** Handler results of the commands run by the last run() call. */
  lastResults: number[] = [];
  private readonly traces: ItsCommandTrace[] = [];

  constructor(o: ItsHarnessOptions = {}) {
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
