/**
 * The twelve ITS commands KVM implements (spec 2.3/2.4), one handler each,
 * plus the MSI resolution shared by INT and the MSI slow path (spec 4.2).
 * Every handler runs with this ITS's its_lock held (the queue processor takes
 * it around each command) and returns what KVM's handler returns: 0, a
 * positive E_ITS_* code, or a negative errno. The processor only counts it.
 *
 * Command fields come straight from guest memory: handlers validate in the
 * kernel's order and never throw on any bit pattern.
 */
import type { GuestMemory } from '../../mem/guest-memory.js';
import { EBUSY, ENODEV } from '../../uapi/errno.js';
import { GIC_LPI_OFFSET, maxLpisPropbaser } from '../../uapi/gic-fields.js';
import { VITS_TYPER_IDBITS } from '../../uapi/gits.js';
import { COLLECTION_NOT_MAPPED } from '../../uapi/its-abi.js';
import {
  E_ITS_CLEAR_UNMAPPED_INTERRUPT, E_ITS_DISCARD_UNMAPPED_INTERRUPT, E_ITS_INT_UNMAPPED_INTERRUPT,
  E_ITS_INV_UNMAPPED_INTERRUPT, E_ITS_INVALL_UNMAPPED_COLLECTION, E_ITS_MAPC_COLLECTION_OOR, E_ITS_MAPC_PROCNUM_OOR,
  E_ITS_MAPD_DEVICE_OOR, E_ITS_MAPD_ITTSIZE_OOR, E_ITS_MAPTI_ID_OOR, E_ITS_MAPTI_PHYSICALID_OOR,
  E_ITS_MAPTI_UNMAPPED_DEVICE, E_ITS_MOVALL_PROCNUM_OOR, E_ITS_MOVI_UNMAPPED_COLLECTION,
  E_ITS_MOVI_UNMAPPED_INTERRUPT, GITS_CMD_CLEAR, GITS_CMD_DISCARD, GITS_CMD_INT, GITS_CMD_INV, GITS_CMD_INVALL,
  GITS_CMD_MAPC, GITS_CMD_MAPD, GITS_CMD_MAPI, GITS_CMD_MAPTI, GITS_CMD_MOVALL, GITS_CMD_MOVI, GITS_CMD_SYNC,
  itsCmdGetCollection, itsCmdGetCommand, itsCmdGetDeviceId, itsCmdGetId, itsCmdGetIttAddr, itsCmdGetPhysicalId,
  itsCmdGetSize, itsCmdGetTargetAddr, itsCmdGetTargetAddr2, itsCmdGetValidBit,
} from '../../uapi/its-cmd.js';
import type { ItsCache } from '../its-cache.js';
import type { Vgic } from '../vgic.js';
import { itsCheckEventId, itsCheckId } from './its-tables.js';
import type { ItsTranslation } from './its-translation.js';

/** What the handlers need from their ITS (the Its class provides it). */
export interface ItsCommandHost {
  readonly index: number;
  readonly vgic: Vgic;
  readonly cache: ItsCache;
  readonly mem: GuestMemory;
  readonly tr: ItsTranslation;
  /** MOVALL moves every LPI of the VM (quirk of the [ITS-new] snapshot), not only RDbase1's. */
  readonly movallAllLpis: boolean;
  readonly enabled: boolean;
  /** GITS_BASER0 (device table). */
  readonly baserDevice: bigint;
  /** GITS_BASER1 (collection table). */
  readonly baserCollection: bigint;
  /** Entry sizes of the selected save/restore ABI. */
  readonly dteEsz: number;
  readonly iteEsz: number;
}

/**
 * vgic_its_handle_command's dispatch (called with its_lock held): run the
 * command at byte `off` of `v`. SYNC does nothing (the model is always
 * synchronous); unknown opcodes, GICv4 ones included, give -ENODEV.
 */
export function itsExecuteCommand(h: ItsCommandHost, v: DataView, off: number): number {
  switch (itsCmdGetCommand(v, off)) {
    case GITS_CMD_MAPD: return cmdMapd(h, v, off);
    case GITS_CMD_MAPC: return cmdMapc(h, v, off);
    case GITS_CMD_MAPTI: return cmdMapti(h, v, off, false);
    case GITS_CMD_MAPI: return cmdMapti(h, v, off, true);
    case GITS_CMD_MOVI: return cmdMovi(h, v, off);
    case GITS_CMD_DISCARD: return cmdDiscard(h, v, off);
    case GITS_CMD_CLEAR: return cmdClear(h, v, off);
    case GITS_CMD_INT: return itsTriggerMsi(h, itsCmdGetDeviceId(v, off), itsCmdGetId(v, off));
    case GITS_CMD_INV: return cmdInv(h, v, off);
    case GITS_CMD_INVALL: return cmdInvall(h, v, off);
    case GITS_CMD_MOVALL: return cmdMovall(h, v, off);
    case GITS_CMD_SYNC: return 0;
    default: return -ENODEV;
  }
}

/**
 * vgic_its_resolve_lpi + vgic_its_trigger_msi (called with its_lock held):
 * the INT command and the MSI slow path. -EBUSY if the ITS is disabled or the
 * target vCPU has LPIs disabled; E_ITS_INT_UNMAPPED_INTERRUPT if there is no
 * ITE, its collection is gone or unmapped, or no vCPU has the target id.
 * Otherwise cache the translation, latch pending and queue: 0.
 * The LPI's own enable bit is not consulted: a disabled LPI latches pending.
 */
export function itsTriggerMsi(h: ItsCommandHost, deviceId: number, eventId: number): number {
  if (!h.enabled) return -EBUSY;
  const ites = h.tr.devices.get(deviceId)?.ites;
  const i = ites === undefined ? -1 : ites.indexOf(eventId);
  if (ites === undefined || i < 0) return E_ITS_INT_UNMAPPED_INTERRUPT;
  const target = h.tr.mappedTarget(ites.icidAt(i));
  if (target === undefined || !h.vgic.vcpuExists(target)) return E_ITS_INT_UNMAPPED_INTERRUPT;
  if (!h.vgic.lpisEnabled(target)) return -EBUSY;
  const intid = ites.intidAt(i);
  h.cache.insert(h.index, deviceId, eventId, intid);
  h.vgic.setPending(intid);
  return 0;
}

/** MAPD DeviceID, Size, ITT_addr, V. */
function cmdMapd(h: ItsCommandHost, v: DataView, o: number): number {
  const deviceId = itsCmdGetDeviceId(v, o);
  const valid = itsCmdGetValidBit(v, o);
  const eventIdBits = itsCmdGetSize(v, o) + 1;
  const ittAddr = itsCmdGetIttAddr(v, o);
  // The slot must exist even to unmap (V=0).
  const dteGpa = itsCheckId(h.mem, h.baserDevice, deviceId);
  if (dteGpa < 0) return E_ITS_MAPD_DEVICE_OOR;
  if (valid && eventIdBits > VITS_TYPER_IDBITS) return E_ITS_MAPD_ITTSIZE_OOR;
  // Remapping a mapped device is a teardown followed by a fresh mapping.
  const old = h.tr.devices.get(deviceId);
  if (old !== undefined) h.tr.freeDevice(old);
  if (!valid) {
    // Today's KVM also clears the device's DTE in the guest table; the write's
    // result is the handler's (and is discarded like every other).
    // UNVERIFIED in which release this was added (absent in [ITS-mid]); we model today's behaviour.
    return zeroEntry(h.mem, dteGpa, h.dteEsz);
  }
  // The ITT address is not validated here; EventIDs are checked against it at MAPTI time.
  h.tr.addDevice(deviceId, ittAddr, eventIdBits);
  return 0;
}

/** MAPC ICID, RDbase, V. RDbase is a vcpu_id (GITS_TYPER.PTA = 0). */
function cmdMapc(h: ItsCommandHost, v: DataView, o: number): number {
  const icid = itsCmdGetCollection(v, o);
  const target = itsCmdGetTargetAddr(v, o);
  if (!itsCmdGetValidBit(v, o)) {
    // Today the RDbase is not checked for V=0 (older kernels did check it first;
    // when that moved is UNVERIFIED): removing an absent collection is fine too.
    h.tr.freeCollection(icid);
    h.cache.invalidate(h.index);
    return 0;
  }
  if (!h.vgic.vcpuExists(target)) return E_ITS_MAPC_PROCNUM_OOR;
  if (!h.tr.collections.has(icid)) {
    if (itsCheckId(h.mem, h.baserCollection, icid) < 0) return E_ITS_MAPC_COLLECTION_OOR;
    h.tr.collections.set(icid, target);
    return 0;
  }
  // Remap (also of a collection MAPTI created unmapped): Map.set keeps the creation order.
  h.tr.collections.set(icid, target);
  h.tr.updateAffinityCollection(icid);
  return 0;
}

/** MAPTI DeviceID, EventID, pINTID, ICID; MAPI uses the EventID as pINTID. */
function cmdMapti(h: ItsCommandHost, v: DataView, o: number, mapi: boolean): number {
  const deviceId = itsCmdGetDeviceId(v, o);
  const eventId = itsCmdGetId(v, o);
  const icid = itsCmdGetCollection(v, o);
  const intid = mapi ? eventId : itsCmdGetPhysicalId(v, o);
  const dev = h.tr.devices.get(deviceId);
  if (dev === undefined) return E_ITS_MAPTI_UNMAPPED_DEVICE;
  if (itsCheckEventId(h.mem, dev, eventId, h.iteEsz) < 0) return E_ITS_MAPTI_ID_OOR;
  if (intid < GIC_LPI_OFFSET || intid >= maxLpisPropbaser(h.vgic.st.propbaser())) return E_ITS_MAPTI_PHYSICALID_OOR;
  // Remapping a mapped event is UNPREDICTABLE architecturally; KVM keeps the old ITE and reports success.
  if (dev.ites.has(eventId)) return 0;
  let created = false;
  if (!h.tr.collections.has(icid)) {
    if (itsCheckId(h.mem, h.baserCollection, icid) < 0) return E_ITS_MAPC_COLLECTION_OOR;
    h.tr.collections.set(icid, COLLECTION_NOT_MAPPED);
    created = true;
  }
  dev.ites.add(eventId, icid, intid);
  // Get (or create, reading its config byte and consuming its pending bit) the LPI.
  const r = h.vgic.getLpi(intid, h.tr.lpiTargetFor(icid));
  if (r < 0) {
    // Undo: the ITE holds no LPI reference yet, and a collection we just made goes again.
    if (created) h.tr.freeCollection(icid);
    dev.ites.delete(eventId);
    return r;
  }
  return 0;
}

/** MOVI DeviceID, EventID, ICID. */
function cmdMovi(h: ItsCommandHost, v: DataView, o: number): number {
  const ites = h.tr.devices.get(itsCmdGetDeviceId(v, o))?.ites;
  const i = ites === undefined ? -1 : ites.indexOf(itsCmdGetId(v, o));
  if (ites === undefined || i < 0) return E_ITS_MOVI_UNMAPPED_INTERRUPT;
  if (h.tr.mappedTarget(ites.icidAt(i)) === undefined) return E_ITS_MOVI_UNMAPPED_COLLECTION;
  const icid = itsCmdGetCollection(v, o);
  if (h.tr.mappedTarget(icid) === undefined) return E_ITS_MOVI_UNMAPPED_COLLECTION;
  ites.setIcidAt(i, icid);
  h.cache.invalidate(h.index);
  // Pending state travels with the LPI object.
  h.vgic.retarget(ites.intidAt(i), h.tr.lpiTargetFor(icid));
  return 0;
}

/** DISCARD DeviceID, EventID: only for an ITE whose collection is mapped. */
function cmdDiscard(h: ItsCommandHost, v: DataView, o: number): number {
  const eventId = itsCmdGetId(v, o);
  const dev = h.tr.devices.get(itsCmdGetDeviceId(v, o));
  const ite = dev?.ites.get(eventId);
  if (dev === undefined || ite === undefined || h.tr.mappedTarget(ite.icid) === undefined) {
    return E_ITS_DISCARD_UNMAPPED_INTERRUPT;
  }
  h.cache.invalidate(h.index);
  // Dropping the ITE's reference may free the LPI, and its pending state with it.
  h.tr.freeIte(dev, eventId);
  // Today's KVM also zeroes the ITT slot (release UNVERIFIED; we model today's behaviour).
  return zeroEntry(h.mem, dev.ittAddr + eventId * h.iteEsz, h.iteEsz);
}

/** CLEAR DeviceID, EventID: drop the pending latch; no re-queue, collection not checked. */
function cmdClear(h: ItsCommandHost, v: DataView, o: number): number {
  const ite = h.tr.findIte(itsCmdGetDeviceId(v, o), itsCmdGetId(v, o));
  if (ite === undefined) return E_ITS_CLEAR_UNMAPPED_INTERRUPT;
  h.vgic.clearPending(ite.intid);
  return 0;
}

/** INV DeviceID, EventID: re-read the LPI's config byte (0 or -EFAULT). */
function cmdInv(h: ItsCommandHost, v: DataView, o: number): number {
  const ite = h.tr.findIte(itsCmdGetDeviceId(v, o), itsCmdGetId(v, o));
  if (ite === undefined) return E_ITS_INV_UNMAPPED_INTERRUPT;
  return h.vgic.reloadConfig(ite.intid);
}

/**
 * INVALL ICID: re-read the config of every LPI of the VM (any ITS) that
 * targets the collection's vCPU. Per-LPI read failures are ignored, as in KVM.
 */
function cmdInvall(h: ItsCommandHost, v: DataView, o: number): number {
  const t = h.tr.mappedTarget(itsCmdGetCollection(v, o));
  if (t === undefined) return E_ITS_INVALL_UNMAPPED_COLLECTION;
  const vcpu = h.tr.vcpuOf(t);
  if (vcpu < 0) return 0; // unreachable: mapped collections name existing vCPUs
  for (const intid of h.vgic.lpis(vcpu)) h.vgic.reloadConfig(intid);
  return 0;
}

/**
 * MOVALL RDbase1, RDbase2: move the LPIs of the VM that target vCPU RDbase1
 * to RDbase2 (architected; with movallAllLpis every LPI of the VM moves, the
 * [ITS-new] snapshot's behaviour, UNVERIFIED upstream), then empty this ITS's
 * cache. Collections keep their targets.
 */
function cmdMovall(h: ItsCommandHost, v: DataView, o: number): number {
  const from = itsCmdGetTargetAddr(v, o);
  const to = itsCmdGetTargetAddr2(v, o);
  if (!h.vgic.vcpuExists(from) || !h.vgic.vcpuExists(to)) return E_ITS_MOVALL_PROCNUM_OOR;
  if (from === to) return 0;
  for (const intid of h.movallAllLpis ? h.vgic.lpis() : h.vgic.lpis(from)) h.vgic.retarget(intid, to);
  h.cache.invalidate(h.index);
  return 0;
}

/** vgic_its_write_entry: store an all-zero table entry; 0 or -EFAULT. */
function zeroEntry(mem: GuestMemory, gpa: number, esz: number): number {
  return esz === 8 ? mem.write64(gpa, 0n) : mem.write(gpa, new Uint8Array(esz));
}
