/**
 * Field layouts of the GICv3 base registers KVM emulates for the ITS and the
 * LPI side of the redistributor (GITS_BASER<n>, GITS_CBASER, GITS_CWRITER/
 * CREADR, GICR_CTLR/TYPER/PROPBASER/PENDBASER), KVM's sanitisation and write
 * transforms, and the LPI property byte. Mirrors include/linux/irqchip/
 * arm-gic-v3.h plus the sanitisers of arch/arm64/kvm/vgic/vgic-mmio-v3.c.
 */
import { bit64, genmask64, updateHalf64 } from './reg64.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const TWO_POW_48 = 2 ** 48;

// ---------------------------------------------------------------------------
// Cacheability / shareability encodings common to every GIC base register.

export const GIC_BASER_CACHE_nCnB = 0;
export const GIC_BASER_CACHE_nC = 1;
export const GIC_BASER_CACHE_RaWt = 2;
export const GIC_BASER_CACHE_RaWb = 3;
export const GIC_BASER_CACHE_WaWt = 4;
export const GIC_BASER_CACHE_WaWb = 5;
export const GIC_BASER_CACHE_RaWaWt = 6;
export const GIC_BASER_CACHE_RaWaWb = 7;
/** Outer-cacheability encoding 0 means "same as inner", not nCnB. */
export const GIC_BASER_CACHE_SameAsInner = 0;

export const GIC_BASER_NonShareable = 0;
export const GIC_BASER_InnerShareable = 1;
export const GIC_BASER_OuterShareable = 2;

/** Where the three sanitised fields sit in one family of base registers. */
export interface GicBaseRegLayout {
  readonly innerCacheShift: bigint;
  readonly outerCacheShift: bigint;
  readonly shareabilityShift: bigint;
}

/** GITS_BASER<n> and GITS_CBASER. */
export const GITS_BASEREG_LAYOUT: GicBaseRegLayout = Object.freeze({
  innerCacheShift: 59n, outerCacheShift: 53n, shareabilityShift: 10n,
});
/** GICR_PROPBASER and GICR_PENDBASER: cacheability fields live elsewhere. */
export const GICR_BASEREG_LAYOUT: GicBaseRegLayout = Object.freeze({
  innerCacheShift: 7n, outerCacheShift: 56n, shareabilityShift: 10n,
});

/** KVM does not model outer shareability; it degrades to inner. */
export function vgicSanitiseShareability(field: number): number {
  return field === GIC_BASER_OuterShareable ? GIC_BASER_InnerShareable : field;
}

/** Non-cacheable inner attributes are upgraded: KVM's accesses are always cacheable. */
export function vgicSanitiseInnerCacheability(field: number): number {
  return field === GIC_BASER_CACHE_nCnB || field === GIC_BASER_CACHE_nC ? GIC_BASER_CACHE_RaWb : field;
}

export function vgicSanitiseOuterCacheability(field: number): number {
  return field === GIC_BASER_CACHE_SameAsInner || field === GIC_BASER_CACHE_nC
    ? field : GIC_BASER_CACHE_SameAsInner;
}

/**
 * The spec 1.3 sanitisation (shareability, inner and outer cacheability) of any
 * GIC base register, given where its fields are. Other bits are untouched.
 */
export function vgicSanitiseBaseReg(reg: bigint, layout: GicBaseRegLayout): bigint {
  const sh = Number((reg >> layout.shareabilityShift) & 3n);
  const ic = Number((reg >> layout.innerCacheShift) & 7n);
  const oc = Number((reg >> layout.outerCacheShift) & 7n);
  reg &= ~((3n << layout.shareabilityShift) | (7n << layout.innerCacheShift) | (7n << layout.outerCacheShift));
  return reg
    | (BigInt(vgicSanitiseShareability(sh)) << layout.shareabilityShift)
    | (BigInt(vgicSanitiseInnerCacheability(ic)) << layout.innerCacheShift)
    | (BigInt(vgicSanitiseOuterCacheability(oc)) << layout.outerCacheShift);
}

// ---------------------------------------------------------------------------
// GITS_BASER<n>

export const GITS_BASER_NR_REGS = 8;
export const GITS_BASER_VALID = bit64(63);
export const GITS_BASER_INDIRECT = bit64(62);
export const GITS_BASER_INNER_CACHEABILITY_SHIFT = 59;
export const GITS_BASER_TYPE_SHIFT = 56;
export const GITS_BASER_TYPE_MASK = genmask64(58, 56);
export const GITS_BASER_OUTER_CACHEABILITY_SHIFT = 53;
export const GITS_BASER_ENTRY_SIZE_SHIFT = 48;
export const GITS_BASER_ENTRY_SIZE_MASK = genmask64(52, 48);
/** PA bits 51:48 of a 64K-page table live in register bits 15:12. */
export const GITS_BASER_PHYS_52_TO_48_MASK = genmask64(15, 12);
export const GITS_BASER_ADDR_47_TO_16_MASK = genmask64(47, 16);
export const GITS_BASER_SHAREABILITY_SHIFT = 10;
export const GITS_BASER_PAGE_SIZE_SHIFT = 8;
export const GITS_BASER_PAGE_SIZE_4K = 0n << 8n;
export const GITS_BASER_PAGE_SIZE_16K = 1n << 8n;
export const GITS_BASER_PAGE_SIZE_64K = 2n << 8n;
export const GITS_BASER_PAGE_SIZE_MASK = 3n << 8n;
export const GITS_BASER_SIZE_MASK = 0xffn;
/** Fields the guest cannot change: Type and Entry_Size. */
export const GITS_BASER_RO_MASK = GITS_BASER_TYPE_MASK | GITS_BASER_ENTRY_SIZE_MASK;

export const GITS_BASER_TYPE_NONE = 0;
export const GITS_BASER_TYPE_DEVICE = 1;
export const GITS_BASER_TYPE_VCPU = 2;
export const GITS_BASER_TYPE_RESERVED3 = 3;
export const GITS_BASER_TYPE_COLLECTION = 4;

export function gitsBaserValid(baser: bigint): boolean {
  return (baser & GITS_BASER_VALID) !== 0n;
}
export function gitsBaserIndirect(baser: bigint): boolean {
  return (baser & GITS_BASER_INDIRECT) !== 0n;
}
export function gitsBaserType(baser: bigint): number {
  return Number((baser >> 56n) & 7n);
}
/** Entry size in bytes (field + 1). */
export function gitsBaserEntrySize(baser: bigint): number {
  return Number((baser >> 48n) & 0x1fn) + 1;
}
export function gitsBaserInnerCache(baser: bigint): number {
  return Number((baser >> 59n) & 7n);
}
export function gitsBaserOuterCache(baser: bigint): number {
  return Number((baser >> 53n) & 7n);
}
export function gitsBaserShareability(baser: bigint): number {
  return Number((baser >> 10n) & 3n);
}
/** Page size in bytes; the reserved encoding 3 is treated as 64K, as the architecture allows. */
export function gitsBaserPageSize(baser: bigint): number {
  const f = Number((baser >> 8n) & 3n);
  return f === 0 ? SZ_4K : f === 1 ? 0x4000 : SZ_64K;
}
/** Raw Size field (pages - 1). */
export function gitsBaserSize(baser: bigint): number {
  return Number(baser & 0xffn);
}
/** Table bytes as KVM computes them: PageSize is forced to 64K, so (Size+1) * 64K. */
export function gitsBaserTableBytes(baser: bigint): number {
  return (Number(baser & 0xffn) + 1) * SZ_64K;
}
/** Table base PA with the 52-bit encoding (bits 15:12 hold PA[51:48]). */
export function gitsBaserAddress(baser: bigint): number {
  return Number(baser & GITS_BASER_ADDR_47_TO_16_MASK) + Number((baser >> 12n) & 0xfn) * TWO_POW_48;
}
/** Encode a 64K-aligned PA (< 2^52) into BASER address bits. */
export function gitsBaserEncodeAddress(pa: number): bigint {
  const hi4 = Math.floor(pa / TWO_POW_48) & 0xf;
  const low = BigInt(pa % TWO_POW_48) & GITS_BASER_ADDR_47_TO_16_MASK;
  return low | (BigInt(hi4) << 12n);
}

export interface GitsBaserFields {
  valid?: boolean;
  indirect?: boolean;
  type: number;
  /** Bytes per entry (1..32); stored as bytes - 1. */
  entrySize: number;
  /** 64K-aligned table (or level-1 table) PA. */
  address: number;
  /** Raw Size field: number of pages - 1 (0..255). */
  size: number;
  innerCache?: number;
  outerCache?: number;
  shareability?: number;
  /** One of GITS_BASER_PAGE_SIZE_* (shifted); default 64K. */
  pageSize?: bigint;
}

/** Compose a GITS_BASER value (defaults: RaWb, SameAsInner, InnerShareable, 64K). */
export function makeGitsBaser(f: GitsBaserFields): bigint {
  return (f.valid ? GITS_BASER_VALID : 0n)
    | (f.indirect ? GITS_BASER_INDIRECT : 0n)
    | (BigInt((f.innerCache ?? GIC_BASER_CACHE_RaWb) & 7) << 59n)
    | (BigInt(f.type & 7) << 56n)
    | (BigInt((f.outerCache ?? GIC_BASER_CACHE_SameAsInner) & 7) << 53n)
    | (BigInt((f.entrySize - 1) & 0x1f) << 48n)
    | gitsBaserEncodeAddress(f.address)
    | (BigInt((f.shareability ?? GIC_BASER_InnerShareable) & 3) << 10n)
    | ((f.pageSize ?? GITS_BASER_PAGE_SIZE_64K) & GITS_BASER_PAGE_SIZE_MASK)
    | (BigInt(f.size & 0xff));
}

/** KVM's BASER sanitiser: field sanitisation plus PageSize forced to 64K. */
export function vgicSanitiseItsBaser(reg: bigint): bigint {
  reg = vgicSanitiseBaseReg(reg, GITS_BASEREG_LAYOUT);
  return (reg & ~GITS_BASER_PAGE_SIZE_MASK) | GITS_BASER_PAGE_SIZE_64K;
}

/** The BASER type KVM exposes per register index; other indices are RAZ/WI. */
export function vgicItsBaserTableType(index: number): number {
  return index === 0 ? GITS_BASER_TYPE_DEVICE : index === 1 ? GITS_BASER_TYPE_COLLECTION : GITS_BASER_TYPE_NONE;
}

/** Creation/reset value of BASER<index> for entry size `esz` (before Valid is ever set). */
export function vgicItsBaserInitialValue(index: number, esz = 8): bigint {
  const type = vgicItsBaserTableType(index);
  if (type === GITS_BASER_TYPE_NONE) return 0n;
  return (BigInt(GIC_BASER_CACHE_RaWb) << 59n)
    | (BigInt(GIC_BASER_CACHE_SameAsInner) << 53n)
    | (BigInt(GIC_BASER_InnerShareable) << 10n)
    | GITS_BASER_PAGE_SIZE_64K
    | (BigInt(esz - 1) << 48n)
    | (BigInt(type) << 56n);
}

/**
 * New value of BASER<index> after a guest/userspace write of `len` bytes at
 * byte offset `offset` of the register (only bit 2 matters), while the ITS is
 * disabled (the caller checks that). BASER2..7 stay 0. The collection table
 * cannot be indirect in KVM, so BASER1 drops Indirect; Type and Entry_Size are
 * re-imposed so they read back unchanged.
 */
export function vgicItsBaserWrite(index: number, old: bigint, offset: number, len: number,
  value: bigint | number, esz = 8): bigint {
  const type = vgicItsBaserTableType(index);
  if (type === GITS_BASER_TYPE_NONE) return 0n;
  let reg = updateHalf64(old, offset, len, value);
  reg &= ~GITS_BASER_RO_MASK;
  if (index === 1) reg &= ~GITS_BASER_INDIRECT;
  reg |= (BigInt(esz - 1) << 48n) | (BigInt(type) << 56n);
  return vgicSanitiseItsBaser(reg);
}

// ---------------------------------------------------------------------------
// GITS_CBASER, GITS_CWRITER, GITS_CREADR

export const GITS_CBASER_VALID = bit64(63);
export const GITS_CBASER_INNER_CACHEABILITY_SHIFT = 59;
export const GITS_CBASER_OUTER_CACHEABILITY_SHIFT = 53;
export const GITS_CBASER_SHAREABILITY_SHIFT = 10;
export const GITS_CBASER_ADDRESS_MASK = genmask64(51, 12);
export const GITS_CBASER_SIZE_MASK = 0xffn;
/** KVM forces a 64K-aligned command queue by clearing these bits on write. */
export const GITS_CBASER_KVM_CLEAR_MASK = genmask64(15, 12);

/** CWRITER/CREADR command offset (32-byte granule, up to 1 MiB). */
export const ITS_CMD_OFFSET_MASK = 0xfffe0;
export const ITS_CMD_SIZE = 32;
export const GITS_CWRITER_RETRY = 1n;
export const GITS_CREADR_STALLED = 1n;

export function gitsCbaserValid(cbaser: bigint): boolean {
  return (cbaser & GITS_CBASER_VALID) !== 0n;
}
/** Queue base PA (bits 51:12 of the stored value). */
export function gitsCbaserAddress(cbaser: bigint): number {
  return Number(cbaser & GITS_CBASER_ADDRESS_MASK);
}
/** Raw Size field: number of 4K pages - 1. */
export function gitsCbaserSize(cbaser: bigint): number {
  return Number(cbaser & 0xffn);
}
/** Command queue size in bytes: (Size+1) * 4 KiB, at most 1 MiB. */
export function itsCmdBufferSize(cbaser: bigint): number {
  return (Number(cbaser & 0xffn) + 1) * SZ_4K;
}
/** Offset field of a CWRITER/CREADR value (Retry/Stalled and RES0 dropped). */
export function itsCmdOffset(reg: bigint | number): number {
  return (typeof reg === 'bigint' ? Number(reg & 0xfffe0n) : reg & ITS_CMD_OFFSET_MASK);
}

export interface GitsCbaserFields {
  valid?: boolean;
  address: number;
  /** Raw Size field: 4K pages - 1 (0..255). */
  size: number;
  innerCache?: number;
  outerCache?: number;
  shareability?: number;
}

/** Compose a GITS_CBASER value (defaults: RaWb, SameAsInner, InnerShareable). */
export function makeGitsCbaser(f: GitsCbaserFields): bigint {
  return (f.valid ? GITS_CBASER_VALID : 0n)
    | (BigInt((f.innerCache ?? GIC_BASER_CACHE_RaWb) & 7) << 59n)
    | (BigInt((f.outerCache ?? GIC_BASER_CACHE_SameAsInner) & 7) << 53n)
    | (BigInt(f.address) & GITS_CBASER_ADDRESS_MASK)
    | (BigInt((f.shareability ?? GIC_BASER_InnerShareable) & 3) << 10n)
    | BigInt(f.size & 0xff);
}

/** KVM's CBASER sanitiser: field sanitisation and a 64K-aligned base. */
export function vgicSanitiseItsCbaser(reg: bigint): bigint {
  return vgicSanitiseBaseReg(reg, GITS_BASEREG_LAYOUT) & ~GITS_CBASER_KVM_CLEAR_MASK;
}

/** New CBASER after a write (caller checks "ITS disabled" and resets CREADR/CWRITER). */
export function vgicItsCbaserWrite(old: bigint, offset: number, len: number, value: bigint | number): bigint {
  return vgicSanitiseItsCbaser(updateHalf64(old, offset, len, value));
}

// ---------------------------------------------------------------------------
// Distributor registers (GICD frame offsets) and the fields KVM presents.

export const GICD_CTLR = 0x0000, GICD_TYPER = 0x0004, GICD_IIDR = 0x0008, GICD_TYPER2 = 0x000c, GICD_PIDR2 = 0xffe8;
/** GICD_CTLR with affinity routing and a single security state, as KVM presents it. */
export const GICD_CTLR_ENABLE_G1 = 1 << 1;
export const GICD_CTLR_ARE_NS = 1 << 4;
export const GICD_CTLR_RWP = 0x8000_0000;
/** GICD_TYPER.LPIS and IDbits (23:19, INTID bits - 1). */
export const GICD_TYPER_LPIS = 1 << 17;
export const GICD_TYPER_IDBITS_SHIFT = 19;

// ---------------------------------------------------------------------------
// Redistributor registers (RD_base frame offsets).

export const GICR_CTLR = 0x0000;
export const GICR_IIDR = 0x0004;
export const GICR_TYPER = 0x0008;
export const GICR_STATUSR = 0x0010;
export const GICR_WAKER = 0x0014;
export const GICR_SETLPIR = 0x0040;
export const GICR_CLRLPIR = 0x0048;
export const GICR_PROPBASER = 0x0070;
export const GICR_PENDBASER = 0x0078;
export const GICR_INVLPIR = 0x00a0;
export const GICR_INVALLR = 0x00b0;
export const GICR_SYNCR = 0x00c0;
export const GICR_PIDR2 = 0xffe8;
/** SGI_base frame follows RD_base. */
export const GICR_SGI_BASE_OFFSET = SZ_64K;

export const GICR_CTLR_ENABLE_LPIS = 1 << 0;
export const GICR_CTLR_CES = 1 << 1;
export const GICR_CTLR_IR = 1 << 2;
export const GICR_CTLR_RWP = 1 << 3;

export const GICR_TYPER_PLPIS = bit64(0);
export const GICR_TYPER_VLPIS = bit64(1);
export const GICR_TYPER_DIRTY = bit64(2);
export const GICR_TYPER_DirectLPIS = bit64(3);
export const GICR_TYPER_LAST = bit64(4);
export const GICR_TYPER_PROCNUM_SHIFT = 8;
export const GICR_TYPER_PROCNUM_MASK = genmask64(23, 8);
export const GICR_TYPER_COMMON_LPIAFF_MASK = genmask64(25, 24);
export const GICR_TYPER_AFFINITY_SHIFT = 32;

/**
 * Aff2:Aff1:Aff0 (bits 23:0) of the MPIDR KVM gives a vCPU by default:
 * Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12] (16 vCPUs per cluster,
 * matching the GICv3 SGI target-list width).
 */
export function kvmVcpuDefaultMpidrAff(vcpuId: number): number {
  return (vcpuId & 0xf) | (((vcpuId >>> 4) & 0xff) << 8) | (((vcpuId >>> 12) & 0xff) << 16);
}

export interface GicrTyperFields {
  vcpuId: number;
  /** Last redistributor of its contiguous region. */
  last: boolean;
  /** The VM has an ITS, so the redistributor advertises physical LPIs. */
  hasIts: boolean;
  /** MPIDR Aff2:Aff1:Aff0 (bits 23:0); defaults to KVM's reset MPIDR for vcpuId. */
  mpidrAff?: number;
}

/** GICR_TYPER as KVM reads it (Processor_Number = vcpu_id, no VLPIS/CommonLPIAff). */
export function gicrTyperValue(f: GicrTyperFields): bigint {
  const aff = (f.mpidrAff ?? kvmVcpuDefaultMpidrAff(f.vcpuId)) & 0xff_ffff;
  return (BigInt(aff) << 32n)
    | (BigInt(f.vcpuId & 0xffff) << 8n)
    | (f.last ? GICR_TYPER_LAST : 0n)
    | (f.hasIts ? GICR_TYPER_PLPIS : 0n);
}
export function gicrTyperProcessorNumber(typer: bigint): number {
  return Number((typer >> 8n) & 0xffffn);
}

// GICR_PROPBASER
export const GICR_PROPBASER_IDBITS_MASK = 0x1fn;
export const GICR_PROPBASER_ADDRESS_MASK = genmask64(51, 12);
export const GICR_PROPBASER_INNER_CACHEABILITY_SHIFT = 7;
export const GICR_PROPBASER_OUTER_CACHEABILITY_SHIFT = 56;
export const GICR_PROPBASER_SHAREABILITY_SHIFT = 10;
export const GICR_PROPBASER_RES0_MASK = genmask64(63, 59) | genmask64(55, 52) | genmask64(6, 5);
/** VM-wide PROPBASER KVM installs when an ITS is created: RaWb, SameAsInner, InnerShareable. */
export const INITIAL_PROPBASER_VALUE = (BigInt(GIC_BASER_CACHE_RaWb) << 7n)
  | (BigInt(GIC_BASER_CACHE_SameAsInner) << 56n)
  | (BigInt(GIC_BASER_InnerShareable) << 10n);

/** First LPI INTID; also the size in bits of the pending-table area KVM never touches. */
export const GIC_LPI_OFFSET = 8192;
/** KVM's LPI INTID space is 16 bits wide whatever the guest programs. */
export const INTERRUPT_ID_BITS_ITS = 16;
export const GIC_LPI_MAX_INTID = (1 << INTERRUPT_ID_BITS_ITS) - 1;

/** Raw IDbits field (INTID bits - 1). */
export function gicrPropbaserIdBits(propbaser: bigint): number {
  return Number(propbaser & 0x1fn);
}
export function gicrPropbaserAddress(propbaser: bigint): number {
  return Number(propbaser & GICR_PROPBASER_ADDRESS_MASK);
}
/** Exclusive upper bound on the pINTIDs MAPTI/MAPI accept: 1 << min(IDbits+1, 16). */
export function maxLpisPropbaser(propbaser: bigint): number {
  return 1 << Math.min(gicrPropbaserIdBits(propbaser) + 1, INTERRUPT_ID_BITS_ITS);
}
export function vgicSanitisePropbaser(reg: bigint): bigint {
  return vgicSanitiseBaseReg(reg, GICR_BASEREG_LAYOUT) & ~GICR_PROPBASER_RES0_MASK;
}
/** New PROPBASER after a write (caller ignores writes while the vCPU has LPIs enabled). */
export function vgicPropbaserWrite(old: bigint, offset: number, len: number, value: bigint | number): bigint {
  return vgicSanitisePropbaser(updateHalf64(old, offset, len, value));
}

export interface GicrPropbaserFields {
  address: number;
  /** Raw IDbits field (INTID bits - 1). */
  idBits: number;
  innerCache?: number;
  outerCache?: number;
  shareability?: number;
}
export function makeGicrPropbaser(f: GicrPropbaserFields): bigint {
  return (BigInt((f.innerCache ?? GIC_BASER_CACHE_RaWb) & 7) << 7n)
    | (BigInt((f.outerCache ?? GIC_BASER_CACHE_SameAsInner) & 7) << 56n)
    | (BigInt((f.shareability ?? GIC_BASER_InnerShareable) & 3) << 10n)
    | (BigInt(f.address) & GICR_PROPBASER_ADDRESS_MASK)
    | BigInt(f.idBits & 0x1f);
}

// GICR_PENDBASER
export const GICR_PENDBASER_PTZ = bit64(62);
export const GICR_PENDBASER_ADDRESS_MASK = genmask64(51, 16);
export const GICR_PENDBASER_INNER_CACHEABILITY_SHIFT = 7;
export const GICR_PENDBASER_OUTER_CACHEABILITY_SHIFT = 56;
export const GICR_PENDBASER_SHAREABILITY_SHIFT = 10;
export const GICR_PENDBASER_RES0_MASK = bit64(63) | genmask64(61, 59) | genmask64(55, 52)
  | genmask64(15, 12) | genmask64(6, 0);

export function gicrPendbaserAddress(pendbaser: bigint): number {
  return Number(pendbaser & GICR_PENDBASER_ADDRESS_MASK);
}
export function gicrPendbaserPtz(pendbaser: bigint): boolean {
  return (pendbaser & GICR_PENDBASER_PTZ) !== 0n;
}
export function vgicSanitisePendbaser(reg: bigint): bigint {
  return vgicSanitiseBaseReg(reg, GICR_BASEREG_LAYOUT) & ~GICR_PENDBASER_RES0_MASK;
}
/** New stored PENDBASER after a write (PTZ is kept internally). */
export function vgicPendbaserWrite(old: bigint, offset: number, len: number, value: bigint | number): bigint {
  return vgicSanitisePendbaser(updateHalf64(old, offset, len, value));
}
/** What a read returns: PTZ always reads as 0. */
export function vgicPendbaserReadValue(stored: bigint): bigint {
  return stored & ~GICR_PENDBASER_PTZ;
}

export interface GicrPendbaserFields {
  address: number;
  ptz?: boolean;
  innerCache?: number;
  outerCache?: number;
  shareability?: number;
}
export function makeGicrPendbaser(f: GicrPendbaserFields): bigint {
  return (f.ptz ? GICR_PENDBASER_PTZ : 0n)
    | (BigInt((f.innerCache ?? GIC_BASER_CACHE_RaWb) & 7) << 7n)
    | (BigInt((f.outerCache ?? GIC_BASER_CACHE_SameAsInner) & 7) << 56n)
    | (BigInt((f.shareability ?? GIC_BASER_InnerShareable) & 3) << 10n)
    | (BigInt(f.address) & GICR_PENDBASER_ADDRESS_MASK);
}

// ---------------------------------------------------------------------------
// LPI configuration (property) table and pending table.

export const LPI_PROP_ENABLED = 1 << 0;
/** Ignored by KVM: LPIs are always group 1. */
export const LPI_PROP_GROUP1 = 1 << 1;
export const LPI_PROP_PRIORITY_MASK = 0xfc;

export function lpiPropPriority(byte: number): number {
  return byte & LPI_PROP_PRIORITY_MASK;
}
export function lpiPropEnabled(byte: number): boolean {
  return (byte & LPI_PROP_ENABLED) !== 0;
}
export function makeLpiProp(priority: number, enabled: boolean): number {
  return (priority & LPI_PROP_PRIORITY_MASK) | LPI_PROP_GROUP1 | (enabled ? LPI_PROP_ENABLED : 0);
}
/** Byte offset of an LPI's config byte from the PROPBASER address. */
export function lpiPropOffset(intid: number): number {
  return intid - GIC_LPI_OFFSET;
}
/** Byte offset of an INTID's pending bit from the PENDBASER address. */
export function lpiPendByteOffset(intid: number): number {
  return intid >>> 3;
}
/** Bit mask of an INTID's pending bit within its byte. */
export function lpiPendBitMask(intid: number): number {
  return 1 << (intid & 7);
}
/** Pending-table bytes KVM never reads or writes (INTIDs 0..8191). */
export const LPI_PENDTABLE_RESERVED_BYTES = GIC_LPI_OFFSET / 8;
