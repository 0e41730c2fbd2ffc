/**
 * KVM_DEV_ARM_ITS_SAVE_TABLES / RESTORE_TABLES for save/restore ABI
 * revision 0 (spec 5.1-5.3): the device table (flat or two-level) with each
 * device's ITT, and the collection table, as 8-byte little-endian entries in
 * guest memory.
 *
 * Both entry points are called with the lock protocol's locks held by the
 * caller (its-ioctl.ts: kvm.lock, every vcpu.mutex, config_lock and this
 * ITS's its_lock under today's order; cmd_lock is NOT held) and take none of
 * them themselves. They run on the ITS actor's thread, which owns the
 * translation state.
 *
 * Table contents are guest-controlled: nothing here throws on any bit
 * pattern; every outcome is 0 or the kernel's -errno.
 *
 * Hot loops write and read through a DataView on the guest-memory slot
 * (GuestMemory.span), two 32-bit little-endian accesses per entry, no BigInt;
 * pages written that way are marked in the dirty log after their last write,
 * as KVM's vgic_write_guest_lock marks them.
 */
import type { GuestMemory } from '../../mem/guest-memory.js';
import { EEXIST, EFAULT, EINVAL } from '../../uapi/errno.js';
import {
  GIC_LPI_MAX_INTID, GIC_LPI_OFFSET, gitsBaserAddress, gitsBaserIndirect, gitsBaserTableBytes, gitsBaserValid,
} from '../../uapi/gic-fields.js';
import { VITS_TYPER_IDBITS } from '../../uapi/gits.js';
import {
  ABI_0_ESZ, COLLECTION_NOT_MAPPED, VITS_DTE_MAX_DEVID_OFFSET, VITS_DTES_PER_L2_PAGE, VITS_ITE_MAX_EVENTID_OFFSET,
  VITS_L2_PAGE_SIZE,
} from '../../uapi/its-abi.js';
import type { Vgic } from '../vgic.js';
import { itsCheckEventId, itsCheckId } from './its-tables.js';
import { ICID_NULL } from './its-ite-store.js';
import type { ItsDevice, ItsTranslation } from './its-translation.js';

/** What save/restore needs from an ITS (the Its class provides it). */
export interface ItsTablesHost {
  readonly mem: GuestMemory;
  readonly vgic: Vgic;
  readonly tr: ItsTranslation;
  /** GITS_BASER0 (device table). */
  readonly baserDevice: bigint;
  /** GITS_BASER1 (collection table). */
  readonly baserCollection: bigint;
  readonly dteEsz: number;
  readonly iteEsz: number;
  readonly cteEsz: number;
}

const ESZ = ABI_0_ESZ;
const PAGE_SIZE = 4096;
const TWO_POW_27 = 0x800_0000;
const TWO_POW_32 = 0x1_0000_0000;
/** Bit 63 of an entry, seen in its upper 32-bit half: V of a DTE/CTE/L1 entry. */
const HI_VALID = 0x8000_0000;

// ---------------------------------------------------------------------------
// Entry I/O

/**
 * Reads and writes 8-byte entries as two 32-bit LE halves. `window()` maps a
 * whole table (or ITT range) once when it lies in one memslot; entries
 * outside the window are looked up one by one, and an entry that is not
 * wholly backed gives -EFAULT, as kvm_read_guest/kvm_write_guest do.
 */
class EntryIo {
  /** Halves of the last entry read. */
  lo = 0;
  hi = 0;
  private dv: DataView | null = null;
  private start = 0;
  private end = 0;
  private delta = 0;
  /** Page written last and not yet marked dirty (-1: none), and a GPA in it. */
  private dirtyPage = -1;
  private dirtyGpa = 0;
  private readonly tmp = new Uint8Array(ESZ);
  private readonly tmpView = new DataView(this.tmp.buffer);

  constructor(private readonly mem: GuestMemory) {}

  window(gpa: number, len: number): void {
    const s = len > 0 ? this.mem.span(gpa, len) : undefined;
    if (s === undefined) {
      this.dv = null;
      return;
    }
    this.dv = s.dv;
    this.start = gpa;
    this.end = gpa + len;
    this.delta = s.offset - gpa;
  }

  /** Read the entry at `gpa` into lo/hi: 0 or -EFAULT. */
  read(gpa: number): number {
    if (this.dv !== null && gpa >= this.start && gpa + ESZ <= this.end) {
      const o = gpa + this.delta;
      this.lo = this.dv.getUint32(o, true);
      this.hi = this.dv.getUint32(o + 4, true);
      return 0;
    }
    const s = this.mem.span(gpa, ESZ);
    if (s !== undefined) {
      this.lo = s.dv.getUint32(s.offset, true);
      this.hi = s.dv.getUint32(s.offset + 4, true);
      return 0;
    }
    // Straddling two adjacent memslots (never for aligned tables), or unbacked.
    if (this.mem.readInto(gpa, this.tmp) !== 0) return -EFAULT;
    this.lo = this.tmpView.getUint32(0, true);
    this.hi = this.tmpView.getUint32(4, true);
    return 0;
  }

  /** Write the entry (lo, hi) at `gpa`: 0 or -EFAULT (nothing written then). */
  write(gpa: number, lo: number, hi: number): number {
    let dv: DataView, o: number;
    if (this.dv !== null && gpa >= this.start && gpa + ESZ <= this.end) {
      dv = this.dv;
      o = gpa + this.delta;
    } else {
      const s = this.mem.span(gpa, ESZ);
      if (s === undefined) {
        this.tmpView.setUint32(0, lo, true);
        this.tmpView.setUint32(4, hi, true);
        return this.mem.write(gpa, this.tmp); // dirty-logs by itself
      }
      dv = s.dv;
      o = s.offset;
    }
    dv.setUint32(o, lo, true);
    dv.setUint32(o + 4, hi, true);
    this.wrote(gpa);
    return 0;
  }

  /**
   * For a loop that writes entries itself through the window's DataView
   * (SAVE_TABLES' ITT pass): the DataView (null: no window), and the offset
   * in it of a GPA is gpa + windowDelta.
   */
  get windowView(): DataView | null {
    return this.dv;
  }

  get windowDelta(): number {
    return this.delta;
  }

  /**
   * The entry at `gpa` was written (by write(), or by such a loop): track
   * its page for the dirty log, marking the page tracked before. Returns the end GPA of that page (Infinity without a dirty log):
   * further writes at ascending GPAs below it need no call.
   */
  wrote(gpa: number): number {
    if (!this.mem.dirtyLog) return Infinity;
    const page = Math.floor(gpa / PAGE_SIZE);
    if (page !== this.dirtyPage) {
      this.flush();
      this.dirtyPage = page;
      this.dirtyGpa = gpa;
    }
    return (page + 1) * PAGE_SIZE;
  }

  /**
   * Mark the page written last as dirty. Marking after the page's last write
   * (not before its first) keeps the log exact even if the VMM harvests it
   * concurrently: the final contents are always covered by a later mark.
   */
  flush(): void {
    if (this.dirtyPage < 0) return;
    this.mem.markDirty(this.dirtyGpa, 1);
    this.dirtyPage = -1;
  }
}

// ---------------------------------------------------------------------------
// Entry encodings (spec 5.1), as 32-bit halves

/** ITE: next[63:48] | pINTID[47:16] | ICID[15:0]. */
function iteLo(icid: number, pintid: number): number {
  return ((icid & 0xffff) | ((pintid & 0xffff) << 16)) >>> 0;
}
function iteHi(next: number, pintid: number): number {
  return (((next & 0xffff) << 16) | ((pintid >>> 16) & 0xffff)) >>> 0;
}

/** DTE: V[63] | next[62:49] | ITT_addr[51:8] at [48:5] | Size[4:0]. */
function dteLo(ittAddr: number, eventIdBits: number): number {
  const field = Math.floor(ittAddr / 256);
  return ((field % TWO_POW_27) * 32 + ((eventIdBits - 1) & 0x1f)) >>> 0;
}
function dteHi(next: number, ittAddr: number): number {
  const field = Math.floor(ittAddr / 256);
  return (HI_VALID | ((next & 0x3fff) << 17) | (Math.floor(field / TWO_POW_27) & 0x1ffff)) >>> 0;
}

/** CTE: V[63] | RES0 | RDBase[47:16] (the 32-bit target) | ICID[15:0]. */
function cteLo(icid: number, target: number): number {
  return ((icid & 0xffff) | ((target & 0xffff) << 16)) >>> 0;
}
function cteHi(target: number): number {
  return (HI_VALID | ((target >>> 16) & 0xffff)) >>> 0;
}

// ---------------------------------------------------------------------------
// Save (spec 5.2)

/**
 * vgic_its_save_tables_v0: device tables (each device's ITT first, then its
 * DTE), then the collection table. 0, -EINVAL (a device's DTE slot fails
 * check_id; an ITE whose collection was removed), or -EFAULT (a guest
 * write failed). Entries written before an error stay written, as in KVM.
 * Nothing is written for gaps; saving twice writes the same bytes.
 */
export function itsSaveTablesV0(h: ItsTablesHost): number {
  const tableIo = new EntryIo(h.mem);
  const ittIo = new EntryIo(h.mem);
  try {
    const r = saveDeviceTables(h, tableIo, ittIo);
    if (r !== 0) return r;
    return saveCollectionTable(h, tableIo);
  } finally {
    tableIo.flush();
    ittIo.flush();
  }
}

/** Numeric ascending sort of `n` IDs in `a` (already-sorted input, the common case, costs one pass). */
function sortIds(a: Float64Array, n: number): Float64Array {
  const v = a.subarray(0, n);
  for (let i = 1; i < n; i++) {
    if (v[i - 1]! > v[i]!) {
      v.sort();
      break;
    }
  }
  return v;
}

function saveDeviceTables(h: ItsTablesHost, tableIo: EntryIo, ittIo: EntryIo): number {
  const baser = h.baserDevice;
  if (!gitsBaserValid(baser)) return 0;
  const devices = h.tr.devices;
  const n = devices.size;
  const ids = new Float64Array(Math.max(n, 1));
  let k = 0;
  for (const id of devices.keys()) ids[k++] = id;
  const sorted = sortIds(ids, n);
  // A flat table is one span; for a two-level table entries fall back to per-entry lookups.
  if (!gitsBaserIndirect(baser)) tableIo.window(gitsBaserAddress(baser), gitsBaserTableBytes(baser));
  for (let i = 0; i < n; i++) {
    const id = sorted[i]!;
    const dev = devices.get(id)!;
    const gpa = itsCheckId(h.mem, baser, id);
    if (gpa < 0) return -EINVAL;
    const r = saveItt(h, dev, ittIo);
    if (r !== 0) return r;
    const next = i + 1 < n ? Math.min(sorted[i + 1]! - id, VITS_DTE_MAX_DEVID_OFFSET) : 0;
    const w = tableIo.write(gpa, dteLo(dev.ittAddr, dev.eventIdBits), dteHi(next, dev.ittAddr));
    if (w !== 0) return w;
  }
  return 0;
}

/**
 * The kernel composes an ITE from ite->collection->collection_id without a
 * NULL check, so an ITE whose collection MAPC V=0 (or BASER1 Valid=0) removed
 * would oops there (spec 5.2 hazard, UNVERIFIED upstream beyond that). Our
 * defined outcome: -EINVAL at that ITE; the ITEs before it stay written.
 */
const SAVE_ITE_NO_COLLECTION = -EINVAL;

/**
 * vgic_its_save_itt: the device's ITEs in ascending EventID order at
 * itt_addr + EventID * 8, each with the distance to its successor: one pass
 * over the device's ITE store, which keeps them in that order.
 */
function saveItt(h: ItsTablesHost, dev: ItsDevice, io: EntryIo): number {
  const store = dev.ites;
  const n = store.size;
  if (n === 0) return 0;
  const { eventIds, intids, icids } = store;
  const esz = h.iteEsz;
  const itt = dev.ittAddr;
  const ev0 = eventIds[0]!;
  const first = itt + ev0 * esz;
  const bytes = (eventIds[n - 1]! - ev0 + 1) * esz;
  io.window(first, bytes);
  const dv = io.windowView;
  const off0 = first + io.windowDelta;
  // The whole run lies in one memslot (at offsets that are int32s): write it directly.
  if (dv !== null && off0 + bytes <= 0x7fff_ffff) return saveIttRun(io, dv, off0 | 0, esz, eventIds, intids, icids, n);
  return saveIttEntries(io, itt, esz, eventIds, intids, icids, n);
}

/**
 * saveItt's ITEs written through the window's DataView, the first at slot
 * offset off0, in ascending GPA order (offsets are small integers; the GPAs
 * are often beyond V8's small-integer range), each page tracked for the
 * dirty log as EntryIo.write does.
 */
function saveIttRun(io: EntryIo, dv: DataView, off0: number, esz: number, eventIds: Int32Array, intids: Int32Array,
  icids: Int32Array, n: number): number {
  const delta = io.windowDelta;
  const ev0 = eventIds[0]!;
  let pageEnd = -1; // the end of the page tracked, as a slot offset
  let ev = ev0;
  for (let i = 0; i < n; i++) {
    const icid = icids[i]!;
    if (icid === ICID_NULL) return SAVE_ITE_NO_COLLECTION;
    const nextEv = i + 1 < n ? eventIds[i + 1]! : ev;
    const next = Math.min(nextEv - ev, VITS_ITE_MAX_EVENTID_OFFSET);
    const intid = intids[i]!;
    const o = off0 + (ev - ev0) * esz;
    dv.setUint32(o, iteLo(icid, intid), true);
    dv.setUint32(o + 4, iteHi(next, intid), true);
    if (o >= pageEnd) pageEnd = Math.min(io.wrote(o - delta) + delta, 0x7fff_ffff);
    ev = nextEv;
  }
  return 0;
}

/** saveItt entry by entry, each looked up on its own (a run not in one memslot; -EFAULT at an unbacked one). */
function saveIttEntries(io: EntryIo, itt: number, esz: number, eventIds: Int32Array, intids: Int32Array, icids: Int32Array,
  n: number): number {
  let ev = eventIds[0]!;
  for (let i = 0; i < n; i++) {
    const icid = icids[i]!;
    if (icid === ICID_NULL) return SAVE_ITE_NO_COLLECTION;
    const nextEv = i + 1 < n ? eventIds[i + 1]! : ev;
    const next = Math.min(nextEv - ev, VITS_ITE_MAX_EVENTID_OFFSET);
    const intid = intids[i]!;
    const r = io.write(itt + ev * esz, iteLo(icid, intid), iteHi(next, intid));
    if (r !== 0) return r;
    ev = nextEv;
  }
  return 0;
}

/**
 * vgic_its_save_collection_table: collections in creation order at
 * consecutive slots from the table base, then one all-zero terminator unless
 * exactly the whole table was filled. (A BASER1 shrunk after the collections
 * were created can leave more collections than slots: KVM then writes past
 * the table, terminator included, and so do we; guest memory permitting.)
 */
function saveCollectionTable(h: ItsTablesHost, io: EntryIo): number {
  const baser = h.baserCollection;
  if (!gitsBaserValid(baser)) return 0;
  const esz = h.cteEsz;
  const max = gitsBaserTableBytes(baser);
  let gpa = gitsBaserAddress(baser);
  let filled = 0;
  io.window(gpa, max);
  for (const [icid, target] of h.tr.collections) {
    const r = io.write(gpa, cteLo(icid, target), cteHi(target));
    if (r !== 0) return r;
    gpa += esz;
    filled += esz;
  }
  if (filled === max) return 0;
  return io.write(gpa, 0, 0);
}

// ---------------------------------------------------------------------------
// Restore (spec 5.3)

/**
 * vgic_its_restore_tables_v0: the collection table, then the device tables.
 * 0, or -EINVAL / -EEXIST / -EFAULT (spec 5.3, 5.4).
 *
 * All or nothing: on any error every device (dropping the LPI references its
 * ITEs took) and every collection of this ITS is freed, so the ITS is left
 * with no mappings. Today's kernel frees the devices and the collections
 * on a device-table error, but on a collection-table error only the
 * collections; the two agree whenever the ITS was empty before the call
 * (the documented restore sequence). Pending bits consumed from the pending
 * tables by LPIs created before the error are not put back (nor does KVM).
 *
 * Restoring into an ITS that already has mappings is not refused (KVM does
 * not check): a CTE naming an existing ICID gives -EEXIST (KVM); a DTE naming
 * an existing DeviceID gives -EEXIST too, our defined outcome (KVM would add
 * a second device with that ID to its list, shadowed by the first for every
 * lookup: a state a DeviceID-keyed model cannot represent).
 */
export function itsRestoreTablesV0(h: ItsTablesHost): number {
  let r = restoreCollectionTable(h);
  if (r === 0) r = restoreDeviceTables(h);
  if (r !== 0) {
    h.tr.freeAllDevices();
    h.tr.freeAllCollections();
  }
  return r;
}

/** Called for each entry of a scan: > 0 = step in entries, 0 = last entry, < 0 = error. */
type EntryFn = (id: number, lo: number, hi: number) => number;

/**
 * scan_its_table (today): read the entry at `base`, hand it to `fn`, step
 * as it says; 1 if the walk ran off the end of the `size`-byte table without
 * seeing a last entry, else fn's 0 or error (or -EFAULT from a read).
 */
function scanTable(mem: GuestMemory, base: number, size: number, startId: number, fn: EntryFn): number {
  const io = new EntryIo(mem);
  io.window(base, size);
  let len = size, id = startId, gpa = base;
  for (;;) {
    const rd = io.read(gpa);
    if (rd !== 0) return rd;
    const next = fn(id, io.lo, io.hi);
    if (next <= 0) return next;
    const step = next * ESZ;
    if (step >= len) return 1;
    id += next;
    gpa += step;
    len -= step;
  }
}

/**
 * vgic_its_restore_collection_table: consecutive CTEs from the table base
 * until one with V=0 or the end of the table (both success).
 */
function restoreCollectionTable(h: ItsTablesHost): number {
  const baser = h.baserCollection;
  if (!gitsBaserValid(baser)) return 0;
  const esz = h.cteEsz;
  const max = gitsBaserTableBytes(baser);
  let gpa = gitsBaserAddress(baser);
  const io = new EntryIo(h.mem);
  io.window(gpa, max);
  for (let read = 0; read < max; read += esz, gpa += esz) {
    const rd = io.read(gpa);
    if (rd !== 0) return rd;
    const r = restoreCte(h, baser, io.lo, io.hi);
    if (r <= 0) return r;
  }
  return 0; // a full table with no terminator (v4.12 returned +1 here)
}

/** vgic_its_restore_cte: 1 = created (look at the next slot), 0 = V=0 (end of list), or -errno. */
function restoreCte(h: ItsTablesHost, baser: bigint, lo: number, hi: number): number {
  if ((hi & HI_VALID) === 0) return 0;
  const target = ((lo >>> 16) | ((hi & 0xffff) << 16)) >>> 0; // bits 47:16
  const icid = lo & 0xffff;
  if (target !== COLLECTION_NOT_MAPPED && !h.vgic.vcpuExists(target)) return -EINVAL;
  if (h.tr.collections.has(icid)) return -EEXIST;
  if (itsCheckId(h.mem, baser, icid) < 0) return -EINVAL;
  h.tr.collections.set(icid, target);
  return 1;
}

/**
 * vgic_its_restore_device_tables: scan the flat table, or the level-1 table
 * whose valid entries each lead to a 64 KiB level-2 page of 8192 DTEs
 * starting at DeviceID index * 8192. A DTE with next = 0 ends the whole
 * scan; running off the end is success too.
 */
function restoreDeviceTables(h: ItsTablesHost): number {
  const baser = h.baserDevice;
  if (!gitsBaserValid(baser)) return 0;
  const base = gitsBaserAddress(baser);
  const size = gitsBaserTableBytes(baser);
  const run = new IteRun();
  const dte: EntryFn = (id, lo, hi) => restoreDte(h, baser, run, id, lo, hi);
  const r = gitsBaserIndirect(baser)
    ? scanTable(h.mem, base, size, 0, (index, lo, hi) => handleL1(h, index, lo, hi, dte))
    : scanTable(h.mem, base, size, 0, dte);
  return r > 0 ? 0 : r;
}

/** handle_l1_dte: V=0 -> next L1 entry; else the level-2 page's scan result (0 stops everything). */
function handleL1(h: ItsTablesHost, index: number, lo: number, hi: number, dte: EntryFn): number {
  if ((hi & HI_VALID) === 0) return 1;
  const l2 = (hi & 0xfffff) * TWO_POW_32 + ((lo & 0xffff_0000) >>> 0); // bits 51:16
  return scanTable(h.mem, l2, VITS_L2_PAGE_SIZE, index * VITS_DTES_PER_L2_PAGE, dte);
}

/** vgic_its_restore_dte: 1 = invalid slot (look at the next), else the DTE's next (0 = last), or -errno. */
function restoreDte(h: ItsTablesHost, baser: bigint, run: IteRun, id: number, lo: number, hi: number): number {
  if ((hi & HI_VALID) === 0) return 1;
  const next = (hi >>> 17) & 0x3fff;
  const eventIdBits = (lo & 0x1f) + 1;
  const ittAddr = ((hi & 0x1ffff) * TWO_POW_27 + (lo >>> 5)) * 256;
  if (itsCheckId(h.mem, baser, id) < 0) return -EINVAL;
  // KVM does not check Size on restore; above 16 bits the ITT scan size
  // overflows the scanner's int argument. Our defined outcome: -EINVAL.
  if (eventIdBits > VITS_TYPER_IDBITS) return -EINVAL;
  // Our defined outcome for an existing DeviceID (see itsRestoreTablesV0).
  if (h.tr.devices.has(id)) return -EEXIST;
  const dev = h.tr.addDevice(id, ittAddr, eventIdBits);
  const r = restoreItt(h, dev, run);
  if (r !== 0) {
    h.tr.freeDevice(dev);
    return r;
  }
  return next;
}

/**
 * The ITEs one ITT scan created, in EventID order, before they are linked
 * into the device's store in one copy (reused across the devices of a restore).
 */
class IteRun {
  eventIds: Int32Array = new Int32Array(256);
  intids: Int32Array = new Int32Array(256);
  icids: Int32Array = new Int32Array(256);
  n = 0;

  push(eventId: number, icid: number, intid: number): void {
    const n = this.n;
    if (n === this.eventIds.length) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(n * 2);
        b.set(a);
        return b;
      };
      this.eventIds = grow(this.eventIds);
      this.intids = grow(this.intids);
      this.icids = grow(this.icids);
    }
    this.eventIds[n] = eventId;
    this.intids[n] = intid;
    this.icids[n] = icid;
    this.n = n + 1;
  }
}

/**
 * vgic_its_restore_itt: scan 2^bits ITE slots from EventID 0; running off
 * the end is success. The ITEs created are linked to the device when the
 * scan ends, whatever its outcome (after an error restoreDte frees the
 * device, dropping their LPI references, as before).
 */
function restoreItt(h: ItsTablesHost, dev: ItsDevice, run: IteRun): number {
  const ids = 2 ** dev.eventIdBits;
  const size = ids * h.iteEsz;
  const io = new EntryIo(h.mem);
  io.window(dev.ittAddr, size);
  // check_event_id probes each slot's memslot: when the whole ITT lies in
  // one memslot, every slot the scan reaches (EventID < 2^bits) is backed.
  const oneSlot = io.windowView !== null;
  run.n = 0;
  // scanTable's walk, calling restoreIte directly (one call site, inlined).
  let r: number;
  for (let len = size, eventId = 0, gpa = dev.ittAddr; ;) {
    r = io.read(gpa);
    if (r !== 0) break;
    const next = restoreIte(h, dev, ids, run, oneSlot, eventId, io.lo, io.hi);
    if (next <= 0) {
      r = next;
      break;
    }
    const step = next * ESZ;
    if (step >= len) {
      r = 1;
      break;
    }
    eventId += next;
    gpa += step;
    len -= step;
  }
  dev.ites.appendRun(run.eventIds, run.intids, run.icids, run.n);
  return r > 0 ? 0 : r;
}

/**
 * vgic_its_restore_ite: pINTID 0 = invalid slot (1: next slot); else create
 * the ITE and get (or create) its LPI, targeting the collection's vCPU if the
 * collection is mapped. A new LPI reads its config byte and consumes its
 * pending bit from the target's pending table (spec 5.6). Returns next.
 * `ids` = 2^bits; `oneSlot`: the ITT lies in one memslot (see restoreItt).
 */
function restoreIte(h: ItsTablesHost, dev: ItsDevice, ids: number, run: IteRun, oneSlot: boolean, eventId: number,
  lo: number, hi: number): number {
  const pintid = ((lo >>> 16) | ((hi & 0xffff) << 16)) >>> 0; // bits 47:16
  if (pintid === 0) return 1;
  if (pintid < GIC_LPI_OFFSET) return -EINVAL;
  const next = hi >>> 16;
  if (eventId + next >= ids) return -EINVAL;
  const icid = lo & 0xffff;
  const target = h.tr.collections.get(icid);
  if (target === undefined) return -EINVAL;
  if (!oneSlot && itsCheckEventId(h.mem, dev, eventId, h.iteEsz) < 0) return -EINVAL;
  // KVM checks no upper bound here (spec 5.3, observed) and would create any
  // 32-bit INTID; this model's LPI space is 16 bits (INTIDs up to 65535), so
  // a larger pINTID is -EINVAL: our defined outcome.
  if (pintid > GIC_LPI_MAX_INTID) return -EINVAL;
  const r = h.vgic.getLpi(pintid, h.tr.lpiTargetOf(target));
  if (r < 0) return r; // the ITE was not created: nothing to undo
  run.push(eventId, icid, pintid);
  return next;
}
