/**
 * 64-bit register plumbing shared by the GITS_* and GICR_* models: bit masks
 * and the merge/extract rules KVM applies when a guest or userspace touches a
 * 64-bit register with a 32- or 64-bit access (vgic-mmio.h update_64bit_reg /
 * extract_bytes semantics). Register values are bigint; byte offsets number.
 */

/** Bits hi..lo (inclusive) set, as a 64-bit bigint (kernel GENMASK_ULL). */
export function genmask64(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** BIT_ULL(n). */
export function bit64(n: number): bigint {
  return 1n << BigInt(n);
}

export const U32_MASK = 0xffff_ffffn;
export const U64_MASK = 0xffff_ffff_ffff_ffffn;

function byteMask(size: number): bigint {
  return size >= 8 ? U64_MASK : (1n << BigInt(size * 8)) - 1n;
}

/**
 * Merge an access of `size` bytes at byte `offset` (relative to anything whose
 * low 3 bits locate the register) into a 64-bit register value. Only bit 2 of
 * the offset selects the half, as in KVM; callers have already rejected
 * misaligned accesses, so an 8-byte access always has offset & 4 == 0.
 */
export function updateHalf64(reg: bigint, offset: number, size: number, value: bigint | number): bigint {
  const shift = BigInt((offset & 4) * 8);
  const mask = byteMask(size);
  const v = (typeof value === 'bigint' ? value : BigInt(value)) & mask;
  return BigInt.asUintN(64, (reg & ~(mask << shift)) | (v << shift));
}

/**
 * The value a read of `size` bytes at byte `offset` returns from a 64-bit
 * register: the register shifted right by (offset & 7) bytes, truncated.
 */
export function extractBytes64(reg: bigint, offset: number, size: number): bigint {
  return (reg >> BigInt((offset & 7) * 8)) & byteMask(size);
}

/** 32-bit read of one half of a 64-bit register, as an unsigned number. */
export function read32Of64(reg: bigint, offset: number): number {
  return Number((reg >> BigInt((offset & 4) * 8)) & U32_MASK);
}

/** Split a 64-bit value into unsigned 32-bit halves [lo, hi]. */
export function splitU64(v: bigint): [number, number] {
  return [Number(v & U32_MASK), Number((v >> 32n) & U32_MASK)];
}

/** Join two unsigned 32-bit halves into a 64-bit bigint. */
export function joinU64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
