/**
 * One virtual ITS: its register frame, command queue and translation state,
 * owned by one actor thread (the ITS actor), which is where every method
 * here runs. What other threads need lives in shared memory: LPI state (Vgic),
 * this ITS's translation cache (ItsCache, probed lock-free by MSI injectors)
 * and the ITS record (I_ENABLED, kept up to date here).
 *
 * Locks, as KVM takes them (spec 7.3), on this thread:
 *   GITS_CTLR read/write, GITS_CBASER write, GITS_CWRITER write: cmd_lock;
 *   the queue drain (under cmd_lock): its_lock around each command;
 *   GITS_BASER write leaving Valid = 0: its_lock;
 *   MSI slow path: its_lock;
 *   every other read: no lock.
 * Locks are released in finally blocks: a bug that throws never leaves one held.
 *
 * Guest-controlled input (register values, command bytes, table contents,
 * addresses) never throws; it gets the outcome KVM gives it.
 */
import type { GuestMemory } from '../../mem/guest-memory.js';
import type { Mutex } from '../../sync/mutex.js';
import { EINVAL, EOWNERDEAD } from '../../uapi/errno.js';
import {
  GITS_BASER_ENTRY_SIZE_MASK, GITS_BASER_ENTRY_SIZE_SHIFT, GITS_BASER_VALID, gitsBaserValid, gitsCbaserAddress,
  gitsCbaserValid, itsCmdBufferSize, itsCmdOffset, vgicItsBaserWrite, vgicItsCbaserWrite,
} from '../../uapi/gic-fields.js';
import {
  extractBytes64, GITS_BASER0_RESET_VALUE, GITS_BASER1_RESET_VALUE, GITS_CTLR_ENABLE,
  gitsBaserIndex, gitsCtlrValue, gitsIdregValue, gitsIidrValue, gitsRegionAt, gitsTyperValue, mmioAccessAllowed,
  updateHalf64,
} from '../../uapi/gits.js';
import { ITS_ABI_LATEST, ITS_TABLE_ABI_VERSIONS, type ItsAbi } from '../../uapi/its-abi.js';
import { ITS_CMD_BYTES, itsCmdGetCommand } from '../../uapi/its-cmd.js';
import type { ItsCache } from '../its-cache.js';
import type { Vgic } from '../vgic.js';
import { I_ENABLED } from '../vgic-state.js';
import { itsRestoreTablesV0, itsSaveTablesV0, type ItsTablesHost } from './its-abi-v0.js';
import { itsExecuteCommand, itsTriggerMsi, type ItsCommandHost } from './its-commands.js';
import { createItsStats, recordItsCommand, recordItsMsi, type ItsStats } from './its-stats.js';
import { ItsTranslation } from './its-translation.js';
import { itsUaccessHas, itsUaccessRead, itsUaccessWrite, type ItsUaccessHost } from './its-uaccess.js';

export interface ItsOptions {
  /** This ITS's number in the VM: its translation-cache slot and its ITS record. */
  index: number;
  vgic: Vgic;
  cache: ItsCache;
  /** Guest memory as device code writes it (rt.devMem: dirty-logged). */
  mem: GuestMemory;
  /** This thread's handle on its->cmd_lock. */
  cmdLock: Mutex;
  /** This thread's handle on its->its_lock. */
  itsLock: Mutex;
  /** MOVALL moves every LPI of the VM (the [ITS-new] snapshot's quirk), not only RDbase1's. */
  movallAllLpis: boolean;
}

/** One ITE in a snapshot. */
export interface ItsIteSnapshot {
  /** The EventID this ITE translates. */
  eventId: number;
  /** The LPI it maps to. */
  intid: number;
  /** null: the ITE's collection was removed (MAPC V=0 / BASER1 Valid=0). */
  icid: number | null;
}

/** One mapped device (MAPD) in a snapshot. */
export interface ItsDeviceSnapshot {
  /** The DeviceID. */
  deviceId: number;
  /** Guest-physical address of its ITT. */
  ittAddr: number;
  /** EventID width (the ITT has 2^eventIdBits entries). */
  eventIdBits: number;
  /** Ascending EventID. */
  ites: ItsIteSnapshot[];
}

/** One mapped collection (MAPC) in a snapshot. */
export interface ItsCollectionSnapshot {
  /** The collection ID. */
  icid: number;
  /** vcpu_id, or COLLECTION_NOT_MAPPED (0xFFFF_FFFF). */
  target: number;
}

/** A copy of an ITS's registers and translation state (nothing in it aliases the live state). */
export interface ItsSnapshot {
  /** The ITS's index in the VM. */
  index: number;
  /** GITS_CTLR.Enabled. */
  enabled: boolean;
  /** GITS_CBASER. */
  cbaser: bigint;
  /** GITS_CREADR (byte offset into the command queue). */
  creadr: number;
  /** GITS_CWRITER (byte offset into the command queue). */
  cwriter: number;
  /** GITS_BASER0 (device table) and GITS_BASER1 (collection table). */
  baser: [bigint, bigint];
  /** The save/restore ABI revision (GITS_IIDR.Revision). */
  abiRev: number;
  /** Ascending DeviceID. */
  devices: ItsDeviceSnapshot[];
  /** Creation order (the order save writes them in). */
  collections: ItsCollectionSnapshot[];
}

/** One dispatched command, for an optional observer (tests, demo, equivalence checker). */
export interface ItsCommandTrace {
  /** Queue offset the command was read from. */
  offset: number;
  opcode: number;
  /** The handler's result: 0, E_ITS_* (positive) or -errno. */
  result: number;
}

/** lock() that tolerates a dead previous owner (-EOWNERDEAD: acquired anyway) and nothing else. */
function acquire(m: Mutex): void {
  const r = m.lock();
  if (r !== 0 && r !== -EOWNERDEAD) throw new Error(`ITS: acquiring lock ${m.index} failed (${r})`);
}

export class Its implements ItsCommandHost, ItsTablesHost, ItsUaccessHost {
  readonly index: number;
  readonly vgic: Vgic;
  readonly cache: ItsCache;
  readonly mem: GuestMemory;
  readonly cmdLock: Mutex;
  readonly itsLock: Mutex;
  readonly movallAllLpis: boolean;
  /** Devices, ITEs, collections: change only under its_lock, from this ITS's thread. */
  readonly tr: ItsTranslation;
  readonly stats: ItsStats = createItsStats();
  /** Called after every dispatched command (with its_lock released, cmd_lock held). */
  onCommand: ((t: ItsCommandTrace) => void) | null = null;

  private _enabled = false;
  private _cbaser = 0n;
  private _creadr = 0;
  private _cwriter = 0;
  private readonly _baser: [bigint, bigint];
  /** Save/restore ABI revision (IIDR.Revision); creation selects the latest; a userspace IIDR write selects one. */
  private _abiRev = ITS_ABI_LATEST;
  private abi: ItsAbi;
  private readonly cmdBuf = new Uint8Array(ITS_CMD_BYTES);
  private readonly cmdView = new DataView(this.cmdBuf.buffer);

  constructor(o: ItsOptions) {
    this.index = o.index;
    this.vgic = o.vgic;
    this.cache = o.cache;
    this.mem = o.mem;
    this.cmdLock = o.cmdLock;
    this.itsLock = o.itsLock;
    this.movallAllLpis = o.movallAllLpis;
    this.tr = new ItsTranslation(o.index, o.vgic, o.cache);
    this.abi = ITS_TABLE_ABI_VERSIONS[this._abiRev]!;
    this._baser = [GITS_BASER0_RESET_VALUE, GITS_BASER1_RESET_VALUE];
    Atomics.store(this.vgic.st.i32, this.vgic.st.its(this.index) + I_ENABLED, 0);
  }

  // ---- register values (read-only views) -------------------------------------

  get enabled(): boolean { return this._enabled; }
  get cbaser(): bigint { return this._cbaser; }
  get creadr(): number { return this._creadr; }
  get cwriter(): number { return this._cwriter; }
  get baserDevice(): bigint { return this._baser[0]; }
  get baserCollection(): bigint { return this._baser[1]; }
  get abiRev(): number { return this._abiRev; }
  get dteEsz(): number { return this.abi.dteEsz; }
  get cteEsz(): number { return this.abi.cteEsz; }
  get iteEsz(): number { return this.abi.iteEsz; }
  get iidr(): number { return gitsIidrValue(this._abiRev); }
  get typer(): bigint { return gitsTyperValue(this.abi.iteEsz); }

  // ---- guest MMIO ----------------------------------------------------------------

  /**
   * A guest load of `size` bytes at `offset` in the 128 KiB frame. Accesses
   * no register honours (wrong size, misaligned, no register there, the
   * GITS_TRANSLATER page) read 0.
   */
  mmioRead(offset: number, size: number): bigint {
    const region = gitsRegionAt(offset);
    if (!Number.isInteger(offset) || !mmioAccessAllowed(region, offset, size)) return 0n;
    switch (region!.name) {
      case 'GITS_CTLR': return BigInt(this.readCtlr());
      case 'GITS_IIDR': return BigInt(this.iidr);
      case 'GITS_TYPER': return extractBytes64(this.typer, offset, size);
      case 'GITS_CBASER': return extractBytes64(this._cbaser, offset, size);
      case 'GITS_CWRITER': return extractBytes64(BigInt(this._cwriter), offset, size);
      case 'GITS_CREADR': return extractBytes64(BigInt(this._creadr), offset, size);
      case 'GITS_BASER': {
        const n = gitsBaserIndex(offset);
        return n < 2 ? extractBytes64(this._baser[n]!, offset, size) : 0n;
      }
      case 'GITS_IDREGS': return BigInt(gitsIdregValue(offset));
    }
  }

  /**
   * A guest store of `size` bytes at `offset`. Accesses no register honours
   * are dropped; IIDR, TYPER, CREADR and the ID registers ignore guest
   * stores; GITS_TRANSLATER is not emulated (no effect).
   */
  mmioWrite(offset: number, size: number, value: bigint): void {
    const region = gitsRegionAt(offset);
    if (!Number.isInteger(offset) || !mmioAccessAllowed(region, offset, size)) return;
    const v = BigInt.asUintN(size * 8, value);
    switch (region!.name) {
      case 'GITS_CTLR': this.writeCtlr(Number(v)); return;
      case 'GITS_CBASER': this.writeCbaser(offset, size, v); return;
      case 'GITS_CWRITER': this.writeCwriter(offset, size, v); return;
      case 'GITS_BASER': this.writeBaser(offset, size, v); return;
      default: return; // IIDR, TYPER, CREADR, ID registers: guest writes ignored
    }
  }

  /** GITS_CTLR read, under cmd_lock: Quiescent iff CREADR == CWRITER, plus Enabled. */
  private readCtlr(): number {
    acquire(this.cmdLock);
    try {
      return gitsCtlrValue(this._enabled, this._creadr, this._cwriter);
    } finally {
      this.cmdLock.unlock();
    }
  }

  /**
   * GITS_CTLR write, under cmd_lock. Enabling while BASER0, BASER1 or CBASER
   * is not Valid is refused (the whole write is ignored). Disabling empties
   * this ITS's translation cache. Either way, queued commands are then drained
   * (a no-op unless enabled), so enabling runs what was queued while disabled.
   */
  private writeCtlr(val: number): void {
    acquire(this.cmdLock);
    try {
      const enable = (val & GITS_CTLR_ENABLE) !== 0;
      if (!this._enabled && enable
        && (!gitsBaserValid(this._baser[0]) || !gitsBaserValid(this._baser[1]) || !gitsCbaserValid(this._cbaser))) {
        return;
      }
      this.setEnabled(enable);
      if (!enable) this.cache.invalidate(this.index);
      this.processCommands();
    } finally {
      this.cmdLock.unlock();
    }
  }

  /** GITS_CBASER write: ignored while enabled (tested before taking cmd_lock); empties the queue. */
  private writeCbaser(offset: number, size: number, value: bigint): void {
    if (this._enabled) return;
    acquire(this.cmdLock);
    try {
      this._cbaser = vgicItsCbaserWrite(this._cbaser, offset, size, value);
      this._creadr = 0;
      this._cwriter = 0;
    } finally {
      this.cmdLock.unlock();
    }
  }

  /** GITS_CWRITER write, under cmd_lock: an offset beyond the queue is dropped; else store and drain. */
  private writeCwriter(offset: number, size: number, value: bigint): void {
    acquire(this.cmdLock);
    try {
      const next = itsCmdOffset(updateHalf64(BigInt(this._cwriter), offset, size, value));
      if (next >= itsCmdBufferSize(this._cbaser)) return;
      this._cwriter = next;
      this.processCommands();
    } finally {
      this.cmdLock.unlock();
    }
  }

  /**
   * GITS_BASER<n> write: ignored while enabled; BASER2..7 are RAZ/WI. Type and
   * Entry_Size are re-imposed, BASER1 loses Indirect, fields are sanitised.
   * A result with Valid = 0 frees every device (BASER0) or collection
   * (BASER1) of this ITS, under its_lock.
   */
  private writeBaser(offset: number, size: number, value: bigint): void {
    if (this._enabled) return;
    const n = gitsBaserIndex(offset);
    if (n > 1) return;
    const esz = n === 0 ? this.abi.dteEsz : this.abi.cteEsz;
    const reg = vgicItsBaserWrite(n, this._baser[n]!, offset, size, value, esz);
    this._baser[n] = reg;
    if (gitsBaserValid(reg)) return;
    acquire(this.itsLock);
    try {
      if (n === 0) this.tr.freeAllDevices();
      else this.tr.freeAllCollections();
    } finally {
      this.itsLock.unlock();
    }
  }

  private setEnabled(on: boolean): void {
    this._enabled = on;
    Atomics.store(this.vgic.st.i32, this.vgic.st.its(this.index) + I_ENABLED, on ? 1 : 0);
  }

  // ---- command queue -------------------------------------------------------------------

  /**
   * vgic_its_process_commands, called with cmd_lock held: if enabled, run
   * every command from CREADR up to CWRITER, synchronously. A command whose
   * 32 bytes cannot be read is skipped; CREADR advances past every command
   * and wraps at the queue size. Nothing stalls.
   */
  private processCommands(): void {
    if (!this._enabled) return;
    const base = gitsCbaserAddress(this._cbaser);
    const size = itsCmdBufferSize(this._cbaser);
    while (this._cwriter !== this._creadr) {
      const at = this._creadr;
      if (this.mem.readInto(base + at, this.cmdBuf) === 0) this.handleCommand(at);
      else this.stats.unreadable++;
      this._creadr = at + ITS_CMD_BYTES;
      // KVM wraps on equality; CREADR can never pass the queue size (CBASER
      // writes reset it), ">=" only guarantees termination if that ever broke.
      if (this._creadr >= size) this._creadr = 0;
    }
  }

  /** vgic_its_handle_command, called with cmd_lock held: one command under its_lock. */
  private handleCommand(offset: number): void {
    const opcode = itsCmdGetCommand(this.cmdView, 0);
    let result: number;
    acquire(this.itsLock);
    try {
      result = itsExecuteCommand(this, this.cmdView, 0);
    } finally {
      this.itsLock.unlock();
    }
    recordItsCommand(this.stats, opcode, result);
    this.onCommand?.({ offset, opcode, result });
  }

  // ---- MSI slow path ------------------------------------------------------------------

  /**
   * vgic_its_inject_msi after the caller's lock-free cache probe missed
   * (spec 4.2 steps 3-4), under its_lock: 1 when the LPI was made pending (the
   * translation is now cached); 0 when guest state blocks it (no ITE,
   * collection gone or unmapped, no such vCPU); -EBUSY when this ITS or the
   * target's LPIs are disabled. IDs out of range simply find no ITE.
   */
  injectMsi(deviceId: number, eventId: number): number {
    let r: number;
    acquire(this.itsLock);
    try {
      r = itsTriggerMsi(this, deviceId, eventId);
    } finally {
      this.itsLock.unlock();
    }
    const result = r < 0 ? r : r > 0 ? 0 : 1;
    recordItsMsi(this.stats, result);
    return result;
  }

  // ---- userspace ioctls (its-ioctl.ts calls these under the VM's lock protocol) -----------

  /**
   * KVM_DEV_ARM_ITS_SAVE_TABLES with the selected ABI (only revision 0
   * exists): 0, -EINVAL or -EFAULT (its-abi-v0.ts). Called with kvm.lock,
   * every vcpu.mutex, config_lock and its_lock held (not cmd_lock); takes none.
   */
  saveTables(): number {
    switch (this._abiRev) {
      case 0: return itsSaveTablesV0(this);
      default: return -EINVAL; // unreachable: setAbi accepts only known revisions
    }
  }

  /**
   * KVM_DEV_ARM_ITS_RESTORE_TABLES with the selected ABI: 0, -EINVAL, -EEXIST
   * or -EFAULT; on error the ITS is left with no devices and no collections
   * (its-abi-v0.ts). Called with kvm.lock, every vcpu.mutex, config_lock and
   * its_lock held (not cmd_lock); takes none.
   */
  restoreTables(): number {
    switch (this._abiRev) {
      case 0: return itsRestoreTablesV0(this);
      default: return -EINVAL;
    }
  }

  /**
   * KVM_DEV_ARM_ITS_CTRL_RESET (vgic_its_reset, spec 6.2, 9.33): clear Valid
   * in BASER0/BASER1 keeping every other field (ABI entry size, type,
   * address, Indirect, Size), zero CBASER/CREADR/CWRITER, disable, free every
   * device (dropping LPI references) and collection, empty this ITS's
   * translation cache. The ABI revision is unchanged. Called with kvm.lock,
   * every vcpu.mutex, config_lock and its_lock held (not cmd_lock: no vCPU
   * can be inside a register access while their mutexes are held); takes none.
   */
  reset(): void {
    this._baser[0] &= ~GITS_BASER_VALID;
    this._baser[1] &= ~GITS_BASER_VALID;
    this._cbaser = 0n;
    this._creadr = 0;
    this._cwriter = 0;
    this.setEnabled(false);
    this.tr.freeAllDevices();
    this.tr.freeAllCollections();
    // Freeing a device empties the cache; KVM's reset does nothing more. An
    // ITS without devices has no cached translation either, so this only
    // makes "no cached state" (the documented guarantee) independent of that.
    this.cache.invalidate(this.index);
  }

  /**
   * GRP_ITS_REGS get (its-uaccess.ts): ret 0 and the value a guest read
   * returns, or ret -ENXIO. Called with kvm.lock, every vcpu.mutex and
   * config_lock held, after the alignment and base checks.
   */
  uaccessRead(offset: number): { ret: number; value: bigint } {
    return itsUaccessRead(this, offset);
  }

  /**
   * GRP_ITS_REGS set (its-uaccess.ts): 0 or -errno (-ENXIO, -EINVAL, -EBUSY).
   * Called with kvm.lock, every vcpu.mutex and config_lock held, after the
   * alignment and base checks; takes cmd_lock / its_lock as a guest write would.
   */
  uaccessWrite(offset: number, value: bigint): number {
    return itsUaccessWrite(this, offset, value);
  }

  /** GRP_ITS_REGS has_attr: -EINVAL (misaligned), -ENXIO (no register) or 0. No locks, no state. */
  uaccessHas(offset: number): number {
    return itsUaccessHas(offset);
  }

  /**
   * vgic_its_set_abi + the revision's commit: select ABI `rev` (a known
   * revision; its-uaccess.ts checks) and rewrite the Entry_Size fields of
   * BASER0/BASER1 to its DTE/CTE sizes (8 bytes for revision 0), whatever
   * the enable state. 0, or -EINVAL for an unknown revision.
   */
  setAbi(rev: number): number {
    const abi = ITS_TABLE_ABI_VERSIONS[rev];
    if (abi === undefined) return -EINVAL;
    this._abiRev = rev;
    this.abi = abi;
    const esz = (n: number) => BigInt(n - 1) << BigInt(GITS_BASER_ENTRY_SIZE_SHIFT);
    this._baser[0] = (this._baser[0] & ~GITS_BASER_ENTRY_SIZE_MASK) | esz(abi.dteEsz);
    this._baser[1] = (this._baser[1] & ~GITS_BASER_ENTRY_SIZE_MASK) | esz(abi.cteEsz);
    return 0;
  }

  /** Store CREADR (the userspace CREADR write, its-uaccess.ts). Called with cmd_lock held, offset checked. */
  setCreadr(offset: number): void {
    this._creadr = offset;
  }

  // ---- lifetime --------------------------------------------------------------------------

  /**
   * vgic_its_destroy: under its_lock, free every device (dropping LPI
   * references) and collection and empty the cache. The ITS is unusable after.
   */
  destroy(): void {
    acquire(this.itsLock);
    try {
      this.tr.freeAllDevices();
      this.tr.freeAllCollections();
      this.cache.invalidate(this.index);
    } finally {
      this.itsLock.unlock();
    }
    this.setEnabled(false);
  }

  // ---- inspection ---------------------------------------------------------------------------

  /** A deep copy of the registers and translation state; devices and ITEs sorted by ID. */
  snapshot(): ItsSnapshot {
    const devices: ItsDeviceSnapshot[] = [...this.tr.devices.values()]
      .sort((a, b) => a.deviceId - b.deviceId)
      .map((d) => ({
        deviceId: d.deviceId,
        ittAddr: d.ittAddr,
        eventIdBits: d.eventIdBits,
        ites: [...d.ites.entries()].map(([eventId, ite]) => ({ eventId, intid: ite.intid, icid: ite.icid })),
      }));
    return {
      index: this.index,
      enabled: this._enabled,
      cbaser: this._cbaser,
      creadr: this._creadr,
      cwriter: this._cwriter,
      baser: [this._baser[0], this._baser[1]],
      abiRev: this._abiRev,
      devices,
      collections: [...this.tr.collections.entries()].map(([icid, target]) => ({ icid, target })),
    };
  }

  /** GITS_CTLR as a read would return it, without taking cmd_lock (for inspection only). */
  peekCtlr(): number {
    return gitsCtlrValue(this._enabled, this._creadr, this._cwriter);
  }
}

