/**
 * The ITS control frame as KVM presents it: GITS_* offsets and bits, the
 * constant register values (TYPER, IIDR, ID registers, reset values), and the
 * register table that decides which guest/userspace accesses are honoured.
 * Mirrors include/linux/irqchip/arm-gic-v3.h and the its_registers[] table of
 * arch/arm64/kvm/vgic/vgic-its.c (as data, no handlers).
 */
import { bit64 } from './reg64.js';
import { vgicItsBaserInitialValue } from './gic-fields.js';

export { updateHalf64, extractBytes64, read32Of64, genmask64, bit64, splitU64, joinU64, U32_MASK, U64_MASK }
  from './reg64.js';

// Control frame offsets (relative to the ITS base): GRP_ITS_REGS attributes.
/** GITS_CTLR: Enabled, Quiescent (32-bit). */
export const GITS_CTLR = 0x0000;
/** GITS_IIDR: implementer and revision; the Revision field selects the table ABI (32-bit). */
export const GITS_IIDR = 0x0004;
/** GITS_TYPER: what the ITS supports (read-only, 64-bit). */
export const GITS_TYPER = 0x0008;
export const GITS_MPIDR = 0x0018;
/** GITS_CBASER: the command queue's base and size (64-bit). */
export const GITS_CBASER = 0x0080;
/** GITS_CWRITER: where the next command will be written (64-bit). */
export const GITS_CWRITER = 0x0088;
/** GITS_CREADR: where the ITS reads the next command (64-bit; userspace-writable for migration). */
export const GITS_CREADR = 0x0090;
/** GITS_BASER0: the first of the eight table registers (see gitsBaserOffset). */
export const GITS_BASER = 0x0100;
export const GITS_IDREGS_BASE = 0xffd0;
export const GITS_PIDR4 = 0xffd0;
export const GITS_PIDR0 = 0xffe0;
export const GITS_PIDR1 = 0xffe4;
export const GITS_PIDR2 = 0xffe8;
export const GITS_CIDR0 = 0xfff0;
export const GITS_CIDR1 = 0xfff4;
export const GITS_CIDR2 = 0xfff8;
export const GITS_CIDR3 = 0xfffc;
/** In the second 64K frame; KVM registers no region here (see spec 1.2). */
export const GITS_TRANSLATER = 0x10040;

/** Offset of GITS_BASER<n>. */
export function gitsBaserOffset(n: number): number {
  return GITS_BASER + 8 * n;
}

// GITS_CTLR (32-bit register, number-valued).
/** GITS_CTLR.Enabled. */
export const GITS_CTLR_ENABLE = 1 << 0;
export const GITS_CTLR_ImDe = 1 << 1;
/** GITS_CTLR.Quiescent: the command queue is empty. */
export const GITS_CTLR_QUIESCENT = 0x8000_0000;
/** Creation/reset read value: disabled and (empty queue) quiescent. */
export const GITS_CTLR_RESET_VALUE = GITS_CTLR_QUIESCENT;

/** What a GITS_CTLR read returns. */
export function gitsCtlrValue(enabled: boolean, creadr: number, cwriter: number): number {
  return ((creadr === cwriter ? GITS_CTLR_QUIESCENT : 0) | (enabled ? GITS_CTLR_ENABLE : 0)) >>> 0;
}

// GITS_TYPER fields.
export const GITS_TYPER_PLPIS = bit64(0);
export const GITS_TYPER_VLPIS = bit64(1);
export const GITS_TYPER_ITT_ENTRY_SIZE_SHIFT = 4;
export const GITS_TYPER_IDBITS_SHIFT = 8;
export const GITS_TYPER_DEVBITS_SHIFT = 13;
export const GITS_TYPER_PTA = bit64(19);
export const GITS_TYPER_HCC_SHIFT = 24;
export const GITS_TYPER_CIDBITS_SHIFT = 32;
export const GITS_TYPER_CIL = bit64(36);
export const GITS_TYPER_VMOVP = bit64(37);

/** EventID and DeviceID widths KVM advertises. */
export const VITS_TYPER_IDBITS = 16;
export const VITS_TYPER_DEVBITS = 16;

/**
 * GITS_TYPER as KVM builds it: physical LPIs only, 16-bit EventIDs/DeviceIDs,
 * ITT entry size from the ABI, PTA=0 (RDbase operands are vCPU ids), no HCC,
 * CIL=0 (16-bit collection IDs).
 */
export function gitsTyperValue(iteEsz = 8): bigint {
  return GITS_TYPER_PLPIS
    | (BigInt(VITS_TYPER_DEVBITS - 1) << BigInt(GITS_TYPER_DEVBITS_SHIFT))
    | (BigInt(VITS_TYPER_IDBITS - 1) << BigInt(GITS_TYPER_IDBITS_SHIFT))
    | (BigInt(iteEsz - 1) << BigInt(GITS_TYPER_ITT_ENTRY_SIZE_SHIFT));
}
/** 0x1EF71 for ABI revision 0. */
export const GITS_TYPER_VALUE: bigint = gitsTyperValue(8);

// GITS_IIDR.
export const GITS_IIDR_REV_SHIFT = 12;
export const GITS_IIDR_REV_MASK = 0xf << GITS_IIDR_REV_SHIFT;
export const GITS_IIDR_PRODUCTID_SHIFT = 24;
/** 'K'. */
export const PRODUCT_ID_KVM = 0x4b;
/** JEP106 code of ARM. */
export const IMPLEMENTER_ARM = 0x43b;

/** IIDR value: the Revision field carries the save/restore ABI revision. */
export function gitsIidrValue(abiRev: number): number {
  return ((PRODUCT_ID_KVM << GITS_IIDR_PRODUCTID_SHIFT) | ((abiRev & 0xf) << GITS_IIDR_REV_SHIFT)
    | IMPLEMENTER_ARM) >>> 0;
}
/** Revision field of a written IIDR (userspace selects the ABI with it). */
export function gitsIidrRevision(iidr: number | bigint): number {
  return (Number(BigInt.asUintN(32, BigInt(iidr))) & GITS_IIDR_REV_MASK) >>> GITS_IIDR_REV_SHIFT;
}

// ID registers.
export const GIC_PIDR2_ARCH_MASK = 0xf0;
export const GIC_PIDR2_ARCH_GICv3 = 0x30;
export const GIC_PIDR2_ARCH_GICv4 = 0x40;

const ITS_IDREG_VALUES: Readonly<Record<number, number>> = {
  [GITS_PIDR0]: 0x92,
  [GITS_PIDR1]: 0xb4,
  [GITS_PIDR2]: GIC_PIDR2_ARCH_GICv3 | 0x0b,
  [GITS_PIDR4]: 0x40,
  [GITS_CIDR0]: 0x0d,
  [GITS_CIDR1]: 0xf0,
  [GITS_CIDR2]: 0x05,
  [GITS_CIDR3]: 0xb1,
};

/** Value of the ID register at `offset` (0xFFD0..0xFFFC); unlisted offsets read 0. */
export function gitsIdregValue(offset: number): number {
  return ITS_IDREG_VALUES[offset & 0xffff] ?? 0;
}

// Reset values of the BASERs for ABI revision 0 (8-byte entries).
export const GITS_BASER0_RESET_VALUE: bigint = vgicItsBaserInitialValue(0, 8);
export const GITS_BASER1_RESET_VALUE: bigint = vgicItsBaserInitialValue(1, 8);

// ---------------------------------------------------------------------------
// Register table.

/** Allowed access widths, as a mask whose bit values are the byte sizes. */
export const ACCESS_SIZE_4 = 4;
export const ACCESS_SIZE_8 = 8;

export type GitsRegionName =
  | 'GITS_CTLR' | 'GITS_IIDR' | 'GITS_TYPER' | 'GITS_CBASER' | 'GITS_CWRITER'
  | 'GITS_CREADR' | 'GITS_BASER' | 'GITS_IDREGS';

export interface GitsRegion {
  readonly name: GitsRegionName;
  readonly offset: number;
  /** Bytes covered; accesses anywhere inside [offset, offset+length) hit this region. */
  readonly length: number;
  /** OR of ACCESS_SIZE_4 / ACCESS_SIZE_8. */
  readonly accessSizes: number;
  /** False: guest writes are ignored (WI). True may still be conditional, see notes. */
  readonly guestWritable: boolean;
  /**
   * How a KVM_DEV_ARM_VGIC_GRP_ITS_REGS write is handled: 'guest' = same
   * handler as a guest store; 'uaccess' = a userspace-only handler with its own
   * checks (IIDR, CREADR); 'wi' = accepted and ignored.
   */
  readonly uaccessWrite: 'guest' | 'uaccess' | 'wi';
  readonly notes: string;
}

const A4 = ACCESS_SIZE_4;
const A48 = ACCESS_SIZE_4 | ACCESS_SIZE_8;

/** Sorted by offset; there is deliberately no region for GITS_MPIDR or GITS_TRANSLATER. */
export const GITS_REGIONS: readonly GitsRegion[] = Object.freeze([
  { name: 'GITS_CTLR', offset: GITS_CTLR, length: 4, accessSizes: A4, guestWritable: true, uaccessWrite: 'guest',
    notes: 'Enable RW (enabling refused unless BASER0/BASER1/CBASER Valid; enabling drains the queue); Quiescent RO' },
  { name: 'GITS_IIDR', offset: GITS_IIDR, length: 4, accessSizes: A4, guestWritable: false, uaccessWrite: 'uaccess',
    notes: 'guest WI; userspace write selects the ABI revision (Revision >= NR_ITS_ABIS -> -EINVAL)' },
  { name: 'GITS_TYPER', offset: GITS_TYPER, length: 8, accessSizes: A48, guestWritable: false, uaccessWrite: 'wi',
    notes: 'RO constant' },
  { name: 'GITS_CBASER', offset: GITS_CBASER, length: 8, accessSizes: A48, guestWritable: true, uaccessWrite: 'guest',
    notes: 'ignored while enabled; a write resets CREADR and CWRITER to 0' },
  { name: 'GITS_CWRITER', offset: GITS_CWRITER, length: 8, accessSizes: A48, guestWritable: true, uaccessWrite: 'guest',
    notes: 'offset >= queue size ignored; otherwise stored and commands processed if enabled' },
  { name: 'GITS_CREADR', offset: GITS_CREADR, length: 8, accessSizes: A48, guestWritable: false, uaccessWrite: 'uaccess',
    notes: 'guest WI; userspace write: -EBUSY while enabled, -EINVAL if offset >= queue size' },
  { name: 'GITS_BASER', offset: GITS_BASER, length: 0x40, accessSizes: A48, guestWritable: true, uaccessWrite: 'guest',
    notes: 'BASER0 device, BASER1 collection, BASER2..7 RAZ/WI; ignored while enabled; Valid=0 frees mappings' },
  { name: 'GITS_IDREGS', offset: GITS_IDREGS_BASE, length: 0x30, accessSizes: A4, guestWritable: false, uaccessWrite: 'wi',
    notes: 'PIDR/CIDR constants, other offsets read 0' },
].map((r) => Object.freeze(r as GitsRegion)));

/** The region covering `offset` (relative to the ITS base), or undefined. */
export function gitsRegionAt(offset: number): GitsRegion | undefined {
  for (let i = 0; i < GITS_REGIONS.length; i++) {
    const r = GITS_REGIONS[i]!;
    if (offset < r.offset) return undefined;
    if (offset < r.offset + r.length) return r;
  }
  return undefined;
}

/**
 * Guest MMIO rule: an access is honoured only if its width is allowed by the
 * region and it is naturally aligned; otherwise the access behaves as if no
 * register were there (reads 0, writes dropped). `offset` may be relative to
 * the ITS base or absolute: the base is 64K aligned either way.
 */
export function mmioAccessAllowed(region: GitsRegion | undefined, offset: number, size: number): boolean {
  if (region === undefined) return false;
  if (size !== 4 && size !== 8) return false;
  return (region.accessSizes & size) !== 0 && (offset & (size - 1)) === 0;
}

/**
 * Alignment check KVM applies to GRP_ITS_REGS offsets before anything else
 * (failure -> -EINVAL): CTLR/IIDR and the ID registers are 32-bit, everything
 * else is treated as a 64-bit register.
 */
export function itsUaccessOffsetAligned(offset: number): boolean {
  const align = offset < GITS_TYPER || offset >= GITS_PIDR4 ? 3 : 7;
  return (offset & align) === 0;
}

/** Width of a userspace register access: 8 if the region allows 64-bit, else 4. */
export function itsUaccessLength(region: GitsRegion): 4 | 8 {
  return (region.accessSizes & ACCESS_SIZE_8) !== 0 ? 8 : 4;
}

/** BASER index (0..7) for an offset inside the BASER region. */
export function gitsBaserIndex(offset: number): number {
  return ((offset - GITS_BASER) >>> 3) & 7;
}
