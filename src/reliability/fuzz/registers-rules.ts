/**
 * The register fuzzer's oracle: the ITS register file as spec 1.2, 1.3, 3
 * and 6.3 describe it, written out on its own (it does not use the model's
 * register code). From a dump of the registers before an access it predicts
 * the dump after it (and a load's value, a userspace call's errno). The
 * command queue the fuzzer points the ITS at holds only zeros or is not RAM,
 * so a drain runs nothing but always ends with CREADR == CWRITER.
 */
import type { RegDump } from './registers-guest.js';

export const TYPER = 0x1ef71n;
export const IIDR = 0x4b00_043bn;
const QUIESCENT = 0x8000_0000n;
export const VALID = 1n << 63n;
const INDIRECT = 1n << 62n;
export const BASER_RESET = [0x1907_0000_0000_0600n, 0x1c07_0000_0000_0600n];
const ID_VALUES: Record<number, bigint> = { 0xffd0: 0x40n, 0xffe0: 0x92n, 0xffe4: 0xb4n, 0xffe8: 0x3bn, 0xfff0: 0x0dn, 0xfff4: 0xf0n, 0xfff8: 0x05n, 0xfffc: 0xb1n };

type RegName = 'CTLR' | 'IIDR' | 'TYPER' | 'CBASER' | 'CWRITER' | 'CREADR' | 'BASER' | 'IDREGS';
interface Region { name: RegName; off: number; len: number; sizes: readonly number[] }
const REGIONS: readonly Region[] = [
  { name: 'CTLR', off: 0, len: 4, sizes: [4] },
  { name: 'IIDR', off: 4, len: 4, sizes: [4] },
  { name: 'TYPER', off: 8, len: 8, sizes: [4, 8] },
  { name: 'CBASER', off: 0x80, len: 8, sizes: [4, 8] },
  { name: 'CWRITER', off: 0x88, len: 8, sizes: [4, 8] },
  { name: 'CREADR', off: 0x90, len: 8, sizes: [4, 8] },
  { name: 'BASER', off: 0x100, len: 0x40, sizes: [4, 8] },
  { name: 'IDREGS', off: 0xffd0, len: 0x30, sizes: [4] },
];

export function regionAt(off: number): Region | undefined {
  return REGIONS.find((r) => off >= r.off && off < r.off + r.len);
}

/** The registers right after the ITS was created (spec 1.2) or reset and its BASERs rewritten. */
export function creationDump(): RegDump {
  return {
    ctlr: QUIESCENT, iidr: IIDR, typer: TYPER, cbaser: 0n, cwriter: 0n, creadr: 0n,
    baser: [...BASER_RESET, 0n, 0n, 0n, 0n, 0n, 0n],
    idregs: Array.from({ length: 12 }, (_, i) => ID_VALUES[0xffd0 + 4 * i] ?? 0n),
  };
}

/** What a frame that does not decode (no base set) reads as. */
export function zeroDump(): RegDump {
  return { ctlr: 0n, iidr: 0n, typer: 0n, cbaser: 0n, cwriter: 0n, creadr: 0n, baser: Array(8).fill(0n), idregs: Array(12).fill(0n), holes: [0n, 0n] };
}

const field = (v: bigint, shift: number, mask: bigint): bigint => (v >> BigInt(shift)) & mask;
const setField = (v: bigint, shift: number, mask: bigint, x: bigint): bigint => (v & ~(mask << BigInt(shift))) | ((x & mask) << BigInt(shift));

/** Spec 1.3 sanitising: OuterShareable -> InnerShareable; inner nCnB/nC -> RaWb; outer kept only if SameAsInner or nC. */
function sanitise(v: bigint): bigint {
  if (field(v, 10, 3n) === 2n) v = setField(v, 10, 3n, 1n);
  if (field(v, 59, 7n) <= 1n) v = setField(v, 59, 7n, 3n);
  if (field(v, 53, 7n) > 1n) v = setField(v, 53, 7n, 0n);
  return v;
}

const queueBytes = (cbaser: bigint): number => (Number(cbaser & 0xffn) + 1) * 4096;
const offsetOf = (v: bigint): number => Number(v & 0xfffe0n);
const enabled = (d: RegDump): boolean => (d.ctlr & 1n) !== 0n;

/** A 64-bit register after a store of `size` bytes at byte `at` (0 or 4) of it. */
function merge(old: bigint, at: number, size: number, v: bigint): bigint {
  if (size === 8) return BigInt.asUintN(64, v);
  const x = BigInt.asUintN(32, v);
  return at === 4 ? (old & 0xffff_ffffn) | (x << 32n) : (old & 0xffff_ffff_0000_0000n) | x;
}

function withCtlr(d: RegDump, en: boolean): RegDump {
  return { ...d, ctlr: (en ? 1n : 0n) | (d.creadr === d.cwriter ? QUIESCENT : 0n) };
}

const clone = (d: RegDump): RegDump => ({ ...d, baser: [...d.baser], idregs: [...d.idregs] });

/**
 * The dump after a store, and the errno a userspace write returns. `user`:
 * a GRP_ITS_REGS write (full register width, the userspace handlers of
 * CREADR and IIDR); else a guest store of `size` bytes (dropped unless the
 * region allows the width and it is naturally aligned).
 */
export function afterWrite(b: RegDump, off: number, size: number, v: bigint, user: boolean,
  /** Self-test only: a wrong rule (a CWRITER offset beyond the queue is stored). */
  sabotage = false): { dump: RegDump; ret: number } {
  const r = regionAt(off);
  const same = { dump: clone(b), ret: 0 };
  if (r === undefined) return { dump: clone(b), ret: -6 /* -ENXIO */ };
  if (!user && (!r.sizes.includes(size) || off % size !== 0)) return same;
  const at = off & 4;
  const en = enabled(b);
  switch (r.name) {
    case 'CTLR': {
      const on = (v & 1n) !== 0n;
      if (!en && on && ((b.baser[0]! & VALID) === 0n || (b.baser[1]! & VALID) === 0n || (b.cbaser & VALID) === 0n)) return same;
      const d = clone(b);
      if (on) d.creadr = d.cwriter; // the drain
      return { dump: withCtlr(d, on), ret: 0 };
    }
    case 'IIDR':
      return user && field(BigInt.asUintN(32, v), 12, 0xfn) !== 0n ? { dump: clone(b), ret: -22 /* -EINVAL */ } : same;
    case 'TYPER': case 'IDREGS':
      return same;
    case 'CBASER': {
      if (en) return same;
      const d = clone(b);
      d.cbaser = sanitise(merge(b.cbaser, at, size, v)) & ~0xf000n;
      d.creadr = d.cwriter = 0n;
      return { dump: withCtlr(d, en), ret: 0 };
    }
    case 'CWRITER': {
      const o = offsetOf(merge(b.cwriter, at, size, v));
      if (o >= queueBytes(b.cbaser) && !sabotage) return same;
      const d = clone(b);
      d.cwriter = BigInt(o);
      if (en) d.creadr = d.cwriter;
      return { dump: withCtlr(d, en), ret: 0 };
    }
    case 'CREADR': {
      if (!user) return same;
      if (en) return { dump: clone(b), ret: -16 /* -EBUSY */ };
      const o = offsetOf(BigInt.asUintN(64, v));
      if (o >= queueBytes(b.cbaser)) return { dump: clone(b), ret: -22 };
      const d = clone(b);
      d.creadr = BigInt(o);
      return { dump: withCtlr(d, en), ret: 0 };
    }
    case 'BASER': {
      const n = (off - 0x100) >> 3;
      if (en || n > 1) return same;
      const d = clone(b);
      let x = merge(b.baser[n]!, at, size, v);
      // Type and Entry_Size are read-only; BASER1 has no Indirect; PageSize is always 64K.
      x = (x & ~(0x7n << 56n) & ~(0x1fn << 48n)) | (BigInt(n === 0 ? 1 : 4) << 56n) | (7n << 48n);
      if (n === 1) x &= ~INDIRECT;
      x = setField(sanitise(x), 8, 3n, 2n);
      d.baser[n] = x;
      return { dump: d, ret: 0 };
    }
  }
}

/** What a load of `size` bytes at `off` returns (0 where no register honours it). */
export function readValue(d: RegDump, off: number, size: number): bigint {
  const r = regionAt(off);
  if (r === undefined || !r.sizes.includes(size) || off % size !== 0) return 0n;
  const full = (reg: bigint) => (size === 8 ? reg : (reg >> BigInt(8 * (off & 4))) & 0xffff_ffffn);
  switch (r.name) {
    case 'CTLR': return d.ctlr;
    case 'IIDR': return d.iidr;
    case 'TYPER': return full(d.typer);
    case 'CBASER': return full(d.cbaser);
    case 'CWRITER': return full(d.cwriter);
    case 'CREADR': return full(d.creadr);
    case 'BASER': return full(d.baser[(off - 0x100) >> 3]!);
    case 'IDREGS': return d.idregs[(off - 0xffd0) >> 2]!;
  }
}

/** CTRL_RESET (spec 6.2, 9.33): disabled, quiescent, CBASER/CREADR/CWRITER 0, BASER Valid cleared, the rest kept. */
export function afterReset(b: RegDump): RegDump {
  const d = clone(b);
  d.cbaser = d.creadr = d.cwriter = 0n;
  d.baser[0] = b.baser[0]! & ~VALID;
  d.baser[1] = b.baser[1]! & ~VALID;
  return withCtlr(d, false);
}

/** Alignment of a GRP_ITS_REGS offset (spec 6.3): 32-bit registers below 0x8 and from 0xFFD0, 64-bit elsewhere. */
export function userOffsetAligned(off: number): boolean {
  return off % (off < 0x8 || off >= 0xffd0 ? 4 : 8) === 0;
}

/** Width of a GRP_ITS_REGS access at a register. */
export function userWidth(off: number): 4 | 8 {
  const r = regionAt(off);
  return r !== undefined && r.sizes.includes(8) ? 8 : 4;
}

/** Differences between two dumps, as text (empty: equal). */
export function dumpDiff(want: RegDump, got: RegDump): string[] {
  const out: string[] = [];
  const hex = (v: bigint | undefined) => `0x${(v ?? 0n).toString(16)}`;
  for (const k of ['ctlr', 'iidr', 'typer', 'cbaser', 'cwriter', 'creadr'] as const) {
    if (want[k] !== got[k]) out.push(`${k.toUpperCase()} ${hex(got[k])}, expected ${hex(want[k])}`);
  }
  want.baser.forEach((v, n) => { if (v !== got.baser[n]) out.push(`BASER${n} ${hex(got.baser[n])}, expected ${hex(v)}`); });
  want.idregs.forEach((v, i) => { if (v !== got.idregs[i]) out.push(`ID register 0x${(0xffd0 + 4 * i).toString(16)} ${hex(got.idregs[i])}, expected ${hex(v)}`); });
  if (got.holes !== undefined && got.holes.some((h) => h !== 0n)) out.push(`GITS_MPIDR/GITS_TRANSLATER read ${got.holes.map(hex)}, expected 0`);
  return out;
}
