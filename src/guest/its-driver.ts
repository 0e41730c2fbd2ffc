/**
 * Guest ITS driver: what a guest OS does with one ITS frame. Probes
 * GITS_TYPER/PIDR2, quiesces the ITS if enabled, allocates in guest RAM and
 * programs the device table (flat, or two-level: one L1 page plus 64 KiB L2
 * pages allocated on demand per DeviceID range, Indirect=1) and the collection
 * table through GITS_BASER<n> (reading each BASER first to learn Type,
 * EntrySize and PageSize, and back after writing), the command queue
 * (GITS_CBASER), then GITS_CTLR.Enable; one method per ITS command (ITTs
 * allocated per device at MAPD, 256-byte aligned, sized from the EventID
 * bits). Errors are negative errno returns plus `error`; nothing throws.
 *
 * Mirrors its_probe_one / its_alloc_tables / its_setup_baser / its_alloc_device_table /
 * its_create_device / its_send_* of Linux irq-gic-v3-its.c, and lib/arm64/gic_v3_its.c.
 *
 * Usage (one vCPU, any number of ITSs each with its own driver):
 *   const its = new ItsDriver(guest, { base: defaultItsBase(0), alloc });
 *   its.init(); its.enable();
 *   its.mapc(0, 0); its.mapd(devId, 4); its.mapti(devId, 0, 8192, 0); its.wait();
 */
import type { Guest } from '../kvm/guest-api.js';
import { EFAULT, EINVAL, ENODEV, ETIMEDOUT } from '../uapi/errno.js';
import {
  GITS_BASER_NR_REGS, GITS_BASER_TYPE_COLLECTION, GITS_BASER_TYPE_DEVICE, GITS_CBASER_VALID, gitsBaserType, gitsCbaserAddress,
  gitsCbaserSize, makeGitsCbaser,
} from '../uapi/gic-fields.js';
import {
  GIC_PIDR2_ARCH_GICv3, GIC_PIDR2_ARCH_GICv4, GIC_PIDR2_ARCH_MASK, GITS_CBASER, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CWRITER,
  GITS_CTLR_QUIESCENT, GITS_PIDR2, GITS_TYPER, GITS_TYPER_CIDBITS_SHIFT, GITS_TYPER_CIL, GITS_TYPER_PLPIS, GITS_TYPER_PTA,
  gitsBaserOffset,
} from '../uapi/gits.js';
import { packL1e, unpackL1e } from '../uapi/its-abi.js';
import type { ItsCommand } from '../uapi/its-cmd.js';
import { GICR_BASE, GICR_STRIDE } from '../vgic/layout.js';
import type { GpaAllocator } from './alloc.js';
import { DriverBase, fillGuest, hex, pollRelax, type DriverError } from './driver-util.js';
import { ItsCmdQueue } from './its-queue.js';
import { setupItsBaser, type ItsTableInfo } from './its-tables.js';

export type { ItsTableInfo } from './its-tables.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x1_0000;
/** ITT alignment the architecture requires. */
export const ITS_ITT_ALIGN = 256;
/** Default command queue size (Linux's ITS_CMD_QUEUE_SZ). */
export const ITS_DEFAULT_QUEUE_BYTES = SZ_64K;

/** How an ItsDriver lays out its tables and queue. Only `base` and `alloc` are required. */
export interface ItsDriverOptions {
  /** GPA of the ITS control frame. */
  base: number;
  /** Where tables, the queue, L2 pages and ITTs are allocated. */
  alloc: GpaAllocator;
  /** Two-level device table (Indirect=1) with on-demand 64 KiB L2 pages. Default false (flat). */
  twoLevel?: boolean;
  /** DeviceID bits the device table covers. Default and cap: GITS_TYPER.Devbits + 1. */
  deviceIdBits?: number;
  /** Collection table size in bytes. Default one 64 KiB page. */
  collectionTableBytes?: number;
  /** Command queue bytes: a multiple of 4 KiB, 4 KiB..1 MiB. Default 64 KiB. */
  queueBytes?: number;
  /** GITS_CREADR / GITS_CTLR reads per bounded poll. Default 100000. */
  pollLimit?: number;
  /**
   * GICR_TYPER.Processor_Number of each vCPU (index = vcpu): the RDbase
   * operand when PTA=0. Default: the vcpu number itself.
   */
  processorNumbers?: readonly number[];
  /** Overrides the RDbase operand for vCPU n (MAPC, MOVALL, SYNC). Default: per PTA, see rdTarget(). */
  rdTarget?: (vcpu: number) => number;
  /** Name used in errors. Default 'ITS@<base>'. */
  name?: string;
}

/** A device as the driver mapped it (MAPD). */
export interface ItsDeviceInfo {
  /** The DeviceID. */
  deviceId: number;
  /** EventID bits its ITT covers (MAPD Size + 1). */
  eventIdBits: number;
  /** ITT GPA (256-byte aligned). */
  itt: number;
  /** ITT size in bytes. */
  ittBytes: number;
  /** False after an unmapping MAPD (valid = false); the ITT is kept for a remap. */
  mapped: boolean;
}

/** A block of guest RAM. */
export interface GpaRange {
  /** Guest-physical address. */
  gpa: number;
  /** Length in bytes. */
  bytes: number;
}

/** An ITS table's memory as the driver allocated it for a GITS_BASER. */
export interface ItsTableArea extends GpaRange {
  /** Bytes per entry (GITS_BASER.Entry_Size + 1). */
  entrySize: number;
  /** GITS_BASER.Page_Size in bytes. */
  pageSize: number;
  /** IDs (DeviceIDs, collection IDs) the table covers. */
  ids: number;
}

/** What an ItsDriver did, structured-cloneable. */
export interface ItsSummary {
  /** GPA of the ITS control frame. */
  base: number;
  /** GITS_TYPER, hex. */
  typer: string;
  /** GITS_BASER0..7 as read back, hex. */
  baser: string[];
  /** GITS_CBASER as read back, hex. */
  cbaser: string;
  /** The device table (with its L2 pages when two-level), once allocated. */
  deviceTable?: ItsTableArea & {
    /** Two-level (GITS_BASER.Indirect). */
    indirect: boolean;
    /** GPAs of the level-2 pages allocated so far. */
    l2Pages: number[];
  };
  /** The collection table, once allocated. */
  collectionTable?: ItsTableArea;
  /** The command queue, once allocated. */
  queue?: GpaRange;
  /** Commands written to the queue. */
  commands: number;
  /** Every device mapped so far. */
  devices: ItsDeviceInfo[];
  /** The first failure, if any. */
  error?: DriverError;
}

/**
 * One ITS, driven the way a guest OS drives it: `init()` (probe, tables,
 * queue), `enable()`, one method per command, `wait()` for completion.
 * Methods return 0 (or a value) or a negative errno; `error` keeps the first failure.
 */
export class ItsDriver extends DriverBase {
  /** GPA of the ITS control frame. */
  readonly base: number;
  /** Name used in errors ('ITS@<base>' by default). */
  readonly name: string;
  private readonly alloc: GpaAllocator;
  private readonly opts: ItsDriverOptions;
  /** GITS_CREADR / GITS_CTLR reads per bounded poll. */
  readonly pollLimit: number;
  /** GITS_TYPER, once probed. */
  typer = 0n;
  /** Bytes per ITT entry (GITS_TYPER.ITT_entry_size + 1). */
  ittEntrySize = 8;
  /** Max EventID bits the ITS supports (GITS_TYPER.ID_bits + 1). */
  eventIdBits = 0;
  /** Max DeviceID bits (GITS_TYPER.Devbits + 1). */
  devBits = 0;
  /** Collection ID bits (16 unless GITS_TYPER.CIL). */
  cidBits = 0;
  /** GITS_TYPER.PTA: MAPC/SYNC/MOVALL target redistributor addresses, not processor numbers. */
  pta = false;
  /** The device table, once allocated. */
  deviceTable: ItsTableInfo | undefined;
  /** The collection table, once allocated. */
  collectionTable: ItsTableInfo | undefined;
  /** @internal The command queue. */
  queue: ItsCmdQueue | undefined;
  /** GITS_CBASER as read back. */
  cbaser = 0n;
  /** GPAs of the two-level device table's L2 pages, in allocation order. */
  readonly l2Pages: number[] = [];
  /** Devices mapped so far, by DeviceID. */
  readonly devices = new Map<number, ItsDeviceInfo>();

  constructor(guest: Guest, opts: ItsDriverOptions) {
    super(guest);
    this.opts = opts;
    this.base = opts.base;
    this.alloc = opts.alloc;
    this.name = opts.name ?? `ITS@${hex(opts.base)}`;
    this.pollLimit = opts.pollLimit ?? 100_000;
  }

  // ---- bring-up -------------------------------------------------------------

  /** Read GITS_PIDR2 and GITS_TYPER: -ENODEV if this is not an ITS with physical LPIs. */
  probe(): number {
    const pidr2 = this.guest.mmioRead32(this.base + GITS_PIDR2) & GIC_PIDR2_ARCH_MASK;
    if (pidr2 !== GIC_PIDR2_ARCH_GICv3 && pidr2 !== GIC_PIDR2_ARCH_GICv4) {
      return this.fail(-ENODEV, `${this.name} PIDR2`, `architecture ${hex(pidr2)} is not GICv3/v4: no ITS here`);
    }
    const t = this.guest.mmioRead64(this.base + GITS_TYPER);
    this.typer = t;
    if ((t & GITS_TYPER_PLPIS) === 0n) return this.fail(-ENODEV, `${this.name} TYPER`, `PLPIS=0 (${hex(t)})`);
    this.ittEntrySize = Number((t >> 4n) & 0xfn) + 1;
    this.eventIdBits = Number((t >> 8n) & 0x1fn) + 1;
    this.devBits = Number((t >> 13n) & 0x1fn) + 1;
    this.pta = (t & GITS_TYPER_PTA) !== 0n;
    this.cidBits = (t & GITS_TYPER_CIL) !== 0n ? Number((t >> BigInt(GITS_TYPER_CIDBITS_SHIFT)) & 0xfn) + 1 : 16;
    return 0;
  }

  /** probe(), quiesce, device + collection tables, command queue. Does not enable. */
  init(): number {
    let r = this.probe();
    if (r === 0) r = this.disable();
    if (r === 0) r = this.allocTables();
    if (r === 0) r = this.setupQueue();
    return r;
  }

  /** GITS_CTLR.Enable = 0, then wait (bounded) for Quiescent. */
  disable(): number {
    const ctlr = this.guest.mmioRead32(this.base + GITS_CTLR);
    if ((ctlr & GITS_CTLR_ENABLE) !== 0) {
      this.guest.mmioWrite32(this.base + GITS_CTLR, ctlr & ~(GITS_CTLR_ENABLE | GITS_CTLR_QUIESCENT));
    }
    let last = 0;
    const n = pollRelax(this.guest, this.pollLimit, () => {
      last = this.guest.mmioRead32(this.base + GITS_CTLR);
      return (last & GITS_CTLR_ENABLE) === 0 && (last & GITS_CTLR_QUIESCENT) !== 0;
    });
    return n < 0 ? this.fail(-ETIMEDOUT, `${this.name} CTLR`, `not disabled and quiescent (${hex(last)})`) : 0;
  }

  /** GITS_CTLR.Enable = 1 and check it reads back (KVM refuses without valid BASERs/CBASER). */
  enable(): number {
    const ctlr = this.guest.mmioRead32(this.base + GITS_CTLR);
    this.guest.mmioWrite32(this.base + GITS_CTLR, (ctlr | GITS_CTLR_ENABLE) & ~GITS_CTLR_QUIESCENT);
    const back = this.guest.mmioRead32(this.base + GITS_CTLR);
    if ((back & GITS_CTLR_ENABLE) === 0) {
      return this.fail(-EINVAL, `${this.name} CTLR`, `Enabled reads 0 after enabling (${hex(back)})`);
    }
    return 0;
  }

  /** Walk BASER0..7: program every Device and Collection table. Both must exist. */
  allocTables(): number {
    for (let n = 0; n < GITS_BASER_NR_REGS; n++) {
      const val = this.guest.mmioRead64(this.base + gitsBaserOffset(n));
      const type = gitsBaserType(val);
      if (type !== GITS_BASER_TYPE_DEVICE && type !== GITS_BASER_TYPE_COLLECTION) continue;
      const t = setupItsBaser(this.guest, this.alloc, {
        itsBase: this.base, n, initial: val, where: `${this.name} BASER${n}`, twoLevel: this.opts.twoLevel === true,
        deviceIdBits: Math.min(this.opts.deviceIdBits ?? this.devBits, this.devBits), cidBits: this.cidBits,
        collectionTableBytes: this.opts.collectionTableBytes ?? SZ_64K,
      }, (e, w, d) => this.fail(e, w, d));
      if (typeof t === 'number') return t;
      if (type === GITS_BASER_TYPE_DEVICE) this.deviceTable = t;
      else this.collectionTable = t;
    }
    if (this.deviceTable === undefined || this.collectionTable === undefined) {
      return this.fail(-ENODEV, `${this.name} BASER`, `no ${this.deviceTable === undefined ? 'device' : 'collection'} table BASER`);
    }
    return 0;
  }

  /** Allocate the queue (64 KiB aligned), program GITS_CBASER, check it, reset CWRITER. */
  setupQueue(): number {
    const bytes = this.opts.queueBytes ?? ITS_DEFAULT_QUEUE_BYTES;
    const where = `${this.name} CBASER`;
    if (!Number.isInteger(bytes) || bytes < SZ_4K || bytes > 256 * SZ_4K || bytes % SZ_4K !== 0) {
      return this.fail(-EINVAL, where, `queue size ${bytes} is not a multiple of 4 KiB in 4 KiB..1 MiB`);
    }
    const gpa = this.alloc.alloc(bytes, SZ_64K);
    if (gpa < 0) return this.fail(gpa, where, `cannot allocate ${bytes} bytes`);
    if (fillGuest(this.guest, gpa, bytes) !== 0) return this.fail(-EFAULT, where, `${hex(gpa)} is not guest RAM`);
    const want = makeGitsCbaser({ valid: true, address: gpa, size: bytes / SZ_4K - 1 });
    this.guest.mmioWrite64(this.base + GITS_CBASER, want);
    const back = this.guest.mmioRead64(this.base + GITS_CBASER);
    this.cbaser = back;
    if ((back & GITS_CBASER_VALID) === 0n || gitsCbaserAddress(back) !== gpa || gitsCbaserSize(back) !== bytes / SZ_4K - 1) {
      return this.fail(-EINVAL, where, `wrote ${hex(want)}, read back ${hex(back)}`);
    }
    this.queue = new ItsCmdQueue(this.guest, this.base, gpa, bytes, this.pollLimit,
      (e, w, d) => this.fail(e, w, d), this.name);
    // CBASER resets CREADR/CWRITER in KVM; a guest driver writes CWRITER = 0 anyway.
    this.guest.mmioWrite64(this.base + GITS_CWRITER, 0n);
    const creadr = this.queue.readCreadr();
    if (creadr < 0) return creadr;
    if (creadr !== 0) return this.fail(-EINVAL, `${this.name} CREADR`, `${hex(creadr)} after a CBASER write (expected 0)`);
    return 0;
  }

  // ---- commands ---------------------------------------------------------------

  /** The RDbase operand for `vcpu`: its Processor_Number if PTA=0, its RD_base >> 16 if PTA=1. */
  rdTarget(vcpu: number): number {
    if (this.opts.rdTarget !== undefined) return this.opts.rdTarget(vcpu);
    if (this.pta) return Math.floor((GICR_BASE + vcpu * GICR_STRIDE) / SZ_64K);
    return this.opts.processorNumbers?.[vcpu] ?? vcpu;
  }

  /** @internal Queue any command, unvalidated (also for deliberately malformed ones). */
  send(cmd: ItsCommand): number {
    if (this.queue === undefined) return this.fail(-EINVAL, `${this.name} ${cmd.cmd}`, 'command queue not set up');
    return this.queue.send(cmd);
  }

  /** Hold GITS_CWRITER writes until flush() (a batch). */
  begin(): void {
    this.queue?.begin();
  }
  /** Publish the commands held since begin() with one GITS_CWRITER write. */
  flush(): void {
    this.queue?.flush();
  }
  /** Publish pending commands and poll GITS_CREADR until the ITS has consumed them. */
  wait(): number {
    if (this.queue === undefined) return this.fail(-EINVAL, `${this.name} wait`, 'command queue not set up');
    return this.queue.wait();
  }
  /** Commands written to the queue so far. */
  get commands(): number {
    return this.queue?.commands ?? 0;
  }

  /**
   * MAPD: valid=true makes sure the device-table slot exists (allocating an
   * L2 page for two-level tables) and the device has an ITT of at least
   * 2^eventIdBits entries (allocating one, 256-byte aligned, zeroed).
   * valid=false unmaps (ITT kept for a later remap).
   */
  mapd(deviceId: number, eventIdBits: number, valid = true): number {
    const where = `${this.name} MAPD`;
    if (!valid) {
      const d = this.devices.get(deviceId);
      if (d !== undefined) d.mapped = false;
      return this.send({ cmd: 'MAPD', deviceId, size: 0, ittAddr: 0, valid: false });
    }
    if (!Number.isInteger(eventIdBits) || eventIdBits < 1 || eventIdBits > this.eventIdBits) {
      return this.fail(-EINVAL, where, `eventIdBits ${eventIdBits} not in 1..${this.eventIdBits}`);
    }
    const r = this.ensureDeviceSlot(deviceId);
    if (r < 0) return r;
    let dev = this.devices.get(deviceId);
    const ittBytes = Math.max(2 ** eventIdBits * this.ittEntrySize, ITS_ITT_ALIGN);
    if (dev === undefined || dev.ittBytes < ittBytes) {
      const itt = this.alloc.alloc(ittBytes, ITS_ITT_ALIGN);
      if (itt < 0) return this.fail(itt, where, `cannot allocate a ${ittBytes}-byte ITT for device ${deviceId}`);
      if (fillGuest(this.guest, itt, ittBytes) !== 0) return this.fail(-EFAULT, where, `ITT ${hex(itt)} is not guest RAM`);
      dev = { deviceId, eventIdBits, itt, ittBytes, mapped: false };
      this.devices.set(deviceId, dev);
    }
    dev.eventIdBits = eventIdBits;
    dev.mapped = true;
    return this.send({ cmd: 'MAPD', deviceId, size: eventIdBits - 1, ittAddr: dev.itt, valid: true });
  }

  /** Make the device-table slot of `deviceId` exist (two-level: an L2 page behind its L1 entry). */
  private ensureDeviceSlot(deviceId: number): number {
    const t = this.deviceTable;
    const where = `${this.name} MAPD`;
    if (t === undefined) return this.fail(-EINVAL, where, 'no device table');
    if (!Number.isInteger(deviceId) || deviceId < 0 || deviceId >= t.ids) {
      return this.fail(-EINVAL, where, `DeviceID ${deviceId} beyond the device table (${t.ids} IDs)`);
    }
    if (!t.indirect) return 0;
    const l1 = t.gpa + Math.floor(deviceId / (t.pageSize / t.entrySize)) * 8;
    const e = this.guest.read64(l1);
    if (e < 0n) return this.fail(-EFAULT, where, `L1 entry ${hex(l1)} is not guest RAM`);
    if (unpackL1e(e).valid) return 0;
    const page = this.alloc.alloc(t.pageSize, SZ_64K);
    if (page < 0) return this.fail(page, where, `cannot allocate an L2 page for device ${deviceId}`);
    if (fillGuest(this.guest, page, t.pageSize) !== 0) return this.fail(-EFAULT, where, `L2 page ${hex(page)} is not guest RAM`);
    if (this.guest.write64(l1, packL1e({ valid: true, l2Addr: page })) !== 0) {
      return this.fail(-EFAULT, where, `L1 entry ${hex(l1)} is not guest RAM`);
    }
    this.l2Pages.push(page);
    return 0;
  }

  /** MAPC: collection `icid` targets `vcpu`'s redistributor (valid = false unmaps it). */
  mapc(icid: number, vcpu: number, valid = true): number {
    return this.send({ cmd: 'MAPC', icid, rdbase: this.rdTarget(vcpu), valid });
  }
  /** MAPTI: (deviceId, eventId) -> LPI `intid` in collection `icid`. */
  mapti(deviceId: number, eventId: number, intid: number, icid: number): number {
    return this.send({ cmd: 'MAPTI', deviceId, eventId, pintid: intid, icid });
  }
  /** MAPI: (deviceId, eventId) -> LPI `eventId` in collection `icid`. */
  mapi(deviceId: number, eventId: number, icid: number): number {
    return this.send({ cmd: 'MAPI', deviceId, eventId, icid });
  }
  /** MOVI: move the event's LPI to collection `icid`. */
  movi(deviceId: number, eventId: number, icid: number): number {
    return this.send({ cmd: 'MOVI', deviceId, eventId, icid });
  }
  /** DISCARD: unmap the event (its LPI's pending state is dropped). */
  discard(deviceId: number, eventId: number): number {
    return this.send({ cmd: 'DISCARD', deviceId, eventId });
  }
  /** CLEAR: clear the event's LPI pending state. */
  clear(deviceId: number, eventId: number): number {
    return this.send({ cmd: 'CLEAR', deviceId, eventId });
  }
  /** INT: make the event's LPI pending, as an MSI would. */
  int(deviceId: number, eventId: number): number {
    return this.send({ cmd: 'INT', deviceId, eventId });
  }
  /** INV: reload the event's LPI configuration (priority, enable) from the property table. */
  inv(deviceId: number, eventId: number): number {
    return this.send({ cmd: 'INV', deviceId, eventId });
  }
  /** INVALL: reload the configuration of every LPI of collection `icid`. */
  invall(icid: number): number {
    return this.send({ cmd: 'INVALL', icid });
  }
  /** MOVALL: move every LPI of `fromVcpu`'s redistributor to `toVcpu`'s. */
  movall(fromVcpu: number, toVcpu: number): number {
    return this.send({ cmd: 'MOVALL', rdbase1: this.rdTarget(fromVcpu), rdbase2: this.rdTarget(toVcpu) });
  }
  /** The SYNC command (targets vCPU `vcpu`'s redistributor); see wait() for completion. */
  sync(vcpu: number): number {
    return this.send({ cmd: 'SYNC', rdbase: this.rdTarget(vcpu) });
  }

  /** What the driver did, as plain data (structured-cloneable: a guest can return it). */
  summary(): ItsSummary {
    const dt = this.deviceTable;
    const ct = this.collectionTable;
    const s: ItsSummary = {
      base: this.base,
      typer: hex(this.typer),
      baser: [dt, ct].filter((t) => t !== undefined).map((t) => hex(t.value)),
      cbaser: hex(this.cbaser),
      commands: this.commands,
      devices: [...this.devices.values()].map((d) => ({ ...d })),
    };
    if (dt !== undefined) {
      s.deviceTable = { gpa: dt.gpa, bytes: dt.bytes, indirect: dt.indirect, entrySize: dt.entrySize, pageSize: dt.pageSize, ids: dt.ids, l2Pages: [...this.l2Pages] };
    }
    if (ct !== undefined) s.collectionTable = { gpa: ct.gpa, bytes: ct.bytes, entrySize: ct.entrySize, pageSize: ct.pageSize, ids: ct.ids };
    if (this.queue !== undefined) s.queue = { gpa: this.queue.gpa, bytes: this.queue.bytes };
    if (this.error !== undefined) s.error = { ...this.error };
    return s;
  }
}
