/**
 * ITS save/restore ABI revision 0: the 8-byte DTE, CTE, ITE and level-1
 * device-table entries KVM writes into guest memory, with DataView and bigint
 * codecs, the `next` caps, and the table-geometry arithmetic of check_id.
 * Mirrors the KVM_ITS_* masks of arch/arm64/kvm/vgic/vgic.h and
 * Documentation/virt/kvm/devices/arm-vgic-its.rst.
 */
import { bit64, genmask64 } from './reg64.js';
import {
  GITS_BASER_TYPE_COLLECTION, GITS_BASER_TYPE_DEVICE, gitsBaserAddress, gitsBaserIndirect,
  gitsBaserTableBytes, gitsBaserType,
} from './gic-fields.js';

/** Revisions KVM knows; creation selects the latest (NR_ITS_ABIS - 1). */
export const NR_ITS_ABIS = 1;
export const ITS_ABI_LATEST = NR_ITS_ABIS - 1;
/** Every ABI 0 entry (DTE, CTE, ITE, L1) is 8 bytes. */
export const ABI_0_ESZ = 8;

export interface ItsAbi { readonly cteEsz: number; readonly dteEsz: number; readonly iteEsz: number }
export const ITS_TABLE_ABI_VERSIONS: readonly ItsAbi[] = Object.freeze([
  Object.freeze({ cteEsz: ABI_0_ESZ, dteEsz: ABI_0_ESZ, iteEsz: ABI_0_ESZ }),
]);

/** `next` field caps: real gaps beyond them are bridged by walking invalid slots. */
export const VITS_DTE_MAX_DEVID_OFFSET = (1 << 14) - 1;
export const VITS_ITE_MAX_EVENTID_OFFSET = (1 << 16) - 1;

/** KVM only supports 64K level-2 device-table pages. */
export const VITS_L2_PAGE_SIZE = 0x10000;
export const VITS_DTES_PER_L2_PAGE = VITS_L2_PAGE_SIZE / ABI_0_ESZ;

export const KVM_ITS_CTE_VALID_SHIFT = 63;
export const KVM_ITS_CTE_VALID_MASK = bit64(63);
export const KVM_ITS_CTE_RDBASE_SHIFT = 16;
export const KVM_ITS_CTE_ICID_MASK = genmask64(15, 0);
export const KVM_ITS_ITE_NEXT_SHIFT = 48;
export const KVM_ITS_ITE_PINTID_SHIFT = 16;
export const KVM_ITS_ITE_PINTID_MASK = genmask64(47, 16);
export const KVM_ITS_ITE_ICID_MASK = genmask64(15, 0);
export const KVM_ITS_DTE_VALID_SHIFT = 63;
export const KVM_ITS_DTE_VALID_MASK = bit64(63);
export const KVM_ITS_DTE_NEXT_SHIFT = 49;
export const KVM_ITS_DTE_NEXT_MASK = genmask64(62, 49);
export const KVM_ITS_DTE_ITTADDR_SHIFT = 5;
export const KVM_ITS_DTE_ITTADDR_MASK = genmask64(48, 5);
export const KVM_ITS_DTE_SIZE_MASK = genmask64(4, 0);
export const KVM_ITS_L1E_VALID_MASK = bit64(63);
export const KVM_ITS_L1E_ADDR_MASK = genmask64(51, 16);

/** Collection target saved for a collection that was never MAPC'd. */
export const COLLECTION_NOT_MAPPED = 0xffff_ffff;

/**
 * Distance from `cur` to the successor `next` for a saved entry, capped; 0
 * when there is no successor (the entry is the last one).
 */
export function itsNextOffset(cur: number, next: number | undefined, cap: number): number {
  return next === undefined ? 0 : Math.min(next - cur, cap);
}

const TWO_POW_27 = 0x800_0000;
const TWO_POW_32 = 0x1_0000_0000;

// ---------------------------------------------------------------------------
// DTE: V[63] | next[62:49] | ITT_addr[51:8] at [48:5] | Size[4:0]

export interface ItsDte {
  valid: boolean;
  /** DeviceID distance to the next saved DTE (0 = last), at most 16383. */
  next: number;
  /** 256-byte aligned ITT GPA (< 2^52). */
  ittAddr: number;
  /** EventID bits - 1. */
  size: number;
}

function dteFromHalves(lo: number, hi: number): ItsDte {
  return {
    valid: hi >>> 31 === 1,
    next: (hi >>> 17) & 0x3fff,
    ittAddr: ((hi & 0x1ffff) * TWO_POW_27 + (lo >>> 5)) * 256,
    size: lo & 0x1f,
  };
}
function dteHalves(e: ItsDte): [number, number] {
  const field = Math.floor(e.ittAddr / 256) % 2 ** 44;
  const lo = ((field % TWO_POW_27) * 32 + (e.size & 0x1f)) >>> 0;
  const hi = ((e.valid ? 0x8000_0000 : 0) | ((e.next & 0x3fff) << 17) | Math.floor(field / TWO_POW_27)) >>> 0;
  return [lo, hi];
}

export function readDte(v: DataView, off: number): ItsDte {
  return dteFromHalves(v.getUint32(off, true), v.getUint32(off + 4, true));
}
export function writeDte(v: DataView, off: number, e: ItsDte): void {
  const [lo, hi] = dteHalves(e);
  v.setUint32(off, lo, true); v.setUint32(off + 4, hi, true);
}
export function unpackDte(val: bigint): ItsDte {
  return dteFromHalves(Number(val & 0xffff_ffffn), Number((val >> 32n) & 0xffff_ffffn));
}
export function packDte(e: ItsDte): bigint {
  const [lo, hi] = dteHalves(e);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// ---------------------------------------------------------------------------
// CTE: V[63] | RES0 | RDBase (32 bits used, [47:16]) | ICID[15:0]

export interface ItsCte {
  valid: boolean;
  /** Target vcpu_id, or COLLECTION_NOT_MAPPED. */
  rdbase: number;
  icid: number;
}

function cteFromHalves(lo: number, hi: number): ItsCte {
  return { valid: hi >>> 31 === 1, rdbase: ((lo >>> 16) | ((hi & 0xffff) << 16)) >>> 0, icid: lo & 0xffff };
}
function cteHalves(e: ItsCte): [number, number] {
  const lo = ((e.icid & 0xffff) | ((e.rdbase & 0xffff) << 16)) >>> 0;
  const hi = ((e.valid ? 0x8000_0000 : 0) | ((e.rdbase >>> 16) & 0xffff)) >>> 0;
  return [lo, hi];
}

export function readCte(v: DataView, off: number): ItsCte {
  return cteFromHalves(v.getUint32(off, true), v.getUint32(off + 4, true));
}
export function writeCte(v: DataView, off: number, e: ItsCte): void {
  const [lo, hi] = cteHalves(e);
  v.setUint32(off, lo, true); v.setUint32(off + 4, hi, true);
}
export function unpackCte(val: bigint): ItsCte {
  return cteFromHalves(Number(val & 0xffff_ffffn), Number((val >> 32n) & 0xffff_ffffn));
}
export function packCte(e: ItsCte): bigint {
  const [lo, hi] = cteHalves(e);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// ---------------------------------------------------------------------------
// ITE: next[63:48] | pINTID[47:16] | ICID[15:0]; pINTID 0 = invalid slot.

export interface ItsIte {
  /** EventID distance to the next saved ITE (0 = last), at most 65535. */
  next: number;
  pintid: number;
  icid: number;
}

function iteFromHalves(lo: number, hi: number): ItsIte {
  return { next: hi >>> 16, pintid: ((lo >>> 16) | ((hi & 0xffff) << 16)) >>> 0, icid: lo & 0xffff };
}
function iteHalves(e: ItsIte): [number, number] {
  const lo = ((e.icid & 0xffff) | ((e.pintid & 0xffff) << 16)) >>> 0;
  const hi = (((e.next & 0xffff) << 16) | ((e.pintid >>> 16) & 0xffff)) >>> 0;
  return [lo, hi];
}

export function readIte(v: DataView, off: number): ItsIte {
  return iteFromHalves(v.getUint32(off, true), v.getUint32(off + 4, true));
}
export function writeIte(v: DataView, off: number, e: ItsIte): void {
  const [lo, hi] = iteHalves(e);
  v.setUint32(off, lo, true); v.setUint32(off + 4, hi, true);
}
export function unpackIte(val: bigint): ItsIte {
  return iteFromHalves(Number(val & 0xffff_ffffn), Number((val >> 32n) & 0xffff_ffffn));
}
export function packIte(e: ItsIte): bigint {
  const [lo, hi] = iteHalves(e);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// ---------------------------------------------------------------------------
// Level-1 entry of an indirect device table: V[63] | L2 page PA[51:16].

export interface ItsL1e {
  valid: boolean;
  /** 64K-aligned PA of a level-2 page of 8192 DTEs. */
  l2Addr: number;
}

function l1eFromHalves(lo: number, hi: number): ItsL1e {
  return { valid: hi >>> 31 === 1, l2Addr: (hi & 0xfffff) * TWO_POW_32 + ((lo & 0xffff0000) >>> 0) };
}
function l1eHalves(e: ItsL1e): [number, number] {
  const lo = (e.l2Addr % TWO_POW_32 & 0xffff0000) >>> 0;
  const hi = ((e.valid ? 0x8000_0000 : 0) | (Math.floor(e.l2Addr / TWO_POW_32) & 0xfffff)) >>> 0;
  return [lo, hi];
}

export function readL1e(v: DataView, off: number): ItsL1e {
  return l1eFromHalves(v.getUint32(off, true), v.getUint32(off + 4, true));
}
export function writeL1e(v: DataView, off: number, e: ItsL1e): void {
  const [lo, hi] = l1eHalves(e);
  v.setUint32(off, lo, true); v.setUint32(off + 4, hi, true);
}
export function unpackL1e(val: bigint): ItsL1e {
  return l1eFromHalves(Number(val & 0xffff_ffffn), Number((val >> 32n) & 0xffff_ffffn));
}
export function packL1e(e: ItsL1e): bigint {
  const [lo, hi] = l1eHalves(e);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Cheap validity probes (no allocation) for table scans. */
export function entryValidBit(v: DataView, off: number): boolean {
  return (v.getUint8(off + 7) & 0x80) !== 0;
}
/** True when an ITE slot holds a mapping (pINTID != 0). */
export function iteSlotUsed(v: DataView, off: number): boolean {
  return v.getUint16(off + 2, true) !== 0 || v.getUint16(off + 4, true) !== 0;
}

// ---------------------------------------------------------------------------
// Table geometry (the memory-free part of check_id, spec 2.3).

export type ItsTableLookup =
  | { ok: false }
  /** Flat table: the entry lives at `entryGpa`. */
  | { ok: true; indirect: false; entryGpa: number }
  /**
   * Indirect table: read the L1 entry at `l1Gpa`; if valid, the entry is at
   * `l2Addr + l2Offset` (see itsL2EntryGpa). Fail if the L1 read fails or V=0.
   */
  | { ok: true; indirect: true; l1Gpa: number; l2Offset: number };

/**
 * Locate the guest-table slot of `id` for BASER value `baser` (Valid is not
 * consulted, as in KVM). The caller still has to do the L1 read for indirect
 * tables and check the final GPA lies in a memslot.
 */
export function itsTableLookup(baser: bigint, id: number, esz = ABI_0_ESZ): ItsTableLookup {
  const type = gitsBaserType(baser);
  if (type === GITS_BASER_TYPE_DEVICE) {
    if (id > 0xffff) return { ok: false };
  } else if (type === GITS_BASER_TYPE_COLLECTION) {
    if (id >= 0x10000) return { ok: false };
  } else {
    return { ok: false };
  }
  const base = gitsBaserAddress(baser);
  const bytes = gitsBaserTableBytes(baser);
  if (!gitsBaserIndirect(baser)) {
    if (id >= bytes / esz) return { ok: false };
    return { ok: true, indirect: false, entryGpa: base + id * esz };
  }
  const perPage = VITS_L2_PAGE_SIZE / esz;
  const index = Math.floor(id / perPage);
  if (index >= bytes / ABI_0_ESZ) return { ok: false };
  return { ok: true, indirect: true, l1Gpa: base + index * ABI_0_ESZ, l2Offset: (id % perPage) * esz };
}

/** Final entry GPA for an indirect lookup, or undefined if the L1 entry is invalid. */
export function itsL2EntryGpa(l1: ItsL1e, l2Offset: number): number | undefined {
  return l1.valid ? l1.l2Addr + l2Offset : undefined;
}
