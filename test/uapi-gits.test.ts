import { describe, expect, it } from 'vitest';
import * as u from '../dist/src/uapi/index.js';

describe('uapi/gits: values KVM presents', () => {
  it('GITS_TYPER is 0x1EF71 and decomposes into the advertised fields', () => {
    expect(u.GITS_TYPER_VALUE).toBe(0x1ef71n);
    expect(u.gitsTyperValue(8)).toBe(0x1ef71n);
    const t = u.GITS_TYPER_VALUE;
    expect(t & u.GITS_TYPER_PLPIS).toBe(1n);
    expect(t & u.GITS_TYPER_VLPIS).toBe(0n);
    expect((t >> 4n) & 0xfn).toBe(7n);
    expect((t >> 8n) & 0x1fn).toBe(15n);
    expect((t >> 13n) & 0x1fn).toBe(15n);
    expect(t & u.GITS_TYPER_PTA).toBe(0n);
    expect(t & u.GITS_TYPER_CIL).toBe(0n);
    expect((t >> 24n) & 0xffn).toBe(0n);
  });

  it('GITS_IIDR carries the ABI revision', () => {
    expect(u.gitsIidrValue(0)).toBe(0x4b00043b);
    expect(u.gitsIidrValue(1)).toBe(0x4b00143b);
    expect(u.gitsIidrRevision(0x4b00143b)).toBe(1);
    expect(u.gitsIidrRevision(0x4b00043bn)).toBe(0);
  });

  it('BASER reset values and CTLR', () => {
    expect(u.GITS_BASER0_RESET_VALUE).toBe(0x1907_0000_0000_0600n);
    expect(u.GITS_BASER1_RESET_VALUE).toBe(0x1c07_0000_0000_0600n);
    expect(u.vgicItsBaserInitialValue(2)).toBe(0n);
    expect(u.GITS_CTLR_RESET_VALUE).toBe(0x8000_0000);
    expect(u.gitsCtlrValue(true, 0x20, 0x20)).toBe(0x8000_0001);
    expect(u.gitsCtlrValue(true, 0x20, 0x40)).toBe(1);
    expect(u.gitsCtlrValue(false, 0x20, 0x40)).toBe(0);
  });

  it('ID registers', () => {
    const expected: Record<number, number> = {
      0xffd0: 0x40, 0xffe0: 0x92, 0xffe4: 0xb4, 0xffe8: 0x3b,
      0xfff0: 0x0d, 0xfff4: 0xf0, 0xfff8: 0x05, 0xfffc: 0xb1,
    };
    for (let off = 0xffd0; off < 0x10000; off += 4) {
      expect(u.gitsIdregValue(off), off.toString(16)).toBe(expected[off] ?? 0);
    }
  });

  it('register offsets', () => {
    expect([u.GITS_CTLR, u.GITS_IIDR, u.GITS_TYPER, u.GITS_MPIDR, u.GITS_CBASER, u.GITS_CWRITER, u.GITS_CREADR])
      .toEqual([0, 4, 8, 0x18, 0x80, 0x88, 0x90]);
    expect(u.gitsBaserOffset(0)).toBe(0x100);
    expect(u.gitsBaserOffset(7)).toBe(0x138);
    expect(u.gitsBaserIndex(0x138)).toBe(7);
    expect(u.gitsBaserIndex(0x10c)).toBe(1);
    expect(u.GITS_TRANSLATER).toBe(0x10040);
  });
});

describe('uapi/gits: register table and the guest access rule', () => {
  type Row = [name: string | undefined, offset: number, size: number, allowed: boolean];
  const rows: Row[] = [];
  const sizes = [1, 2, 4, 8];
  // 32-bit-only registers.
  for (const [name, off] of [['GITS_CTLR', 0], ['GITS_IIDR', 4]] as const) {
    for (const s of sizes) rows.push([name, off, s, s === 4]);
  }
  // 64-bit registers with 32-bit halves.
  const r64: Array<[string, number, number]> = [
    ['GITS_TYPER', 0x8, 8], ['GITS_CBASER', 0x80, 8], ['GITS_CWRITER', 0x88, 8], ['GITS_CREADR', 0x90, 8],
    ['GITS_BASER', 0x100, 0x40],
  ];
  for (const [name, base, len] of r64) {
    for (let off = base; off < base + len; off += 2) {
      for (const s of sizes) rows.push([name, off, s, (s === 4 || s === 8) && off % s === 0]);
    }
  }
  for (let off = 0xffd0; off < 0x10000; off += 2) {
    for (const s of sizes) rows.push(['GITS_IDREGS', off, s, s === 4 && off % 4 === 0]);
  }
  // Holes: no region, nothing honoured.
  for (const off of [0x10, 0x18, 0x1c, 0x40, 0x7c, 0x98, 0xf8, 0x140, 0x200, 0xffc8, 0x10000, 0x10040, 0x1fffc]) {
    for (const s of sizes) rows.push([undefined, off, s, false]);
  }

  it('gitsRegionAt + mmioAccessAllowed for every region, width and alignment', () => {
    for (const [name, off, size, allowed] of rows) {
      const r = u.gitsRegionAt(off);
      expect(r?.name, `region at 0x${off.toString(16)}`).toBe(name);
      expect(u.mmioAccessAllowed(r, off, size), `${name}@0x${off.toString(16)}/${size}`).toBe(allowed);
    }
  });

  it('region table shape', () => {
    const names = u.GITS_REGIONS.map((r) => [r.name, r.offset, r.length, r.accessSizes]);
    expect(names).toEqual([
      ['GITS_CTLR', 0, 4, 4], ['GITS_IIDR', 4, 4, 4], ['GITS_TYPER', 8, 8, 12],
      ['GITS_CBASER', 0x80, 8, 12], ['GITS_CWRITER', 0x88, 8, 12], ['GITS_CREADR', 0x90, 8, 12],
      ['GITS_BASER', 0x100, 0x40, 12], ['GITS_IDREGS', 0xffd0, 0x30, 4],
    ]);
    expect(u.gitsRegionAt(u.GITS_CREADR)!.uaccessWrite).toBe('uaccess');
    expect(u.gitsRegionAt(u.GITS_IIDR)!.uaccessWrite).toBe('uaccess');
    expect(u.gitsRegionAt(u.GITS_TYPER)!.guestWritable).toBe(false);
    expect(u.gitsRegionAt(u.GITS_CWRITER)!.guestWritable).toBe(true);
  });

  it('userspace alignment and access length', () => {
    expect(u.itsUaccessOffsetAligned(0)).toBe(true);
    expect(u.itsUaccessOffsetAligned(4)).toBe(true);
    expect(u.itsUaccessOffsetAligned(2)).toBe(false);
    expect(u.itsUaccessOffsetAligned(8)).toBe(true);
    expect(u.itsUaccessOffsetAligned(0xc)).toBe(false);
    expect(u.itsUaccessOffsetAligned(0x18)).toBe(true);
    expect(u.itsUaccessOffsetAligned(0x104)).toBe(false);
    expect(u.itsUaccessOffsetAligned(0xffd4)).toBe(true);
    expect(u.itsUaccessOffsetAligned(0xffd2)).toBe(false);
    expect(u.itsUaccessLength(u.gitsRegionAt(0)!)).toBe(4);
    expect(u.itsUaccessLength(u.gitsRegionAt(0x88)!)).toBe(8);
    expect(u.itsUaccessLength(u.gitsRegionAt(0xfff0)!)).toBe(4);
  });
});

describe('uapi/gits: 64-bit register halves', () => {
  const reg = 0x1122_3344_5566_7788n;
  it('updateHalf64 merges the selected half', () => {
    expect(u.updateHalf64(reg, 0, 4, 0xaabbccdd)).toBe(0x1122_3344_aabb_ccddn);
    expect(u.updateHalf64(reg, 4, 4, 0xaabbccdd)).toBe(0xaabb_ccdd_5566_7788n);
    expect(u.updateHalf64(reg, 0x84, 4, 0xaabbccddn)).toBe(0xaabb_ccdd_5566_7788n);
    expect(u.updateHalf64(reg, 0, 8, 0xffff_ffff_ffff_ffffn)).toBe(0xffff_ffff_ffff_ffffn);
    // Upper 32 bits of a 4-byte value are not part of the access.
    expect(u.updateHalf64(0n, 4, 4, 0x1_0000_0001n)).toBe(0x1_0000_0000n);
  });
  it('extractBytes64 / read32Of64', () => {
    expect(u.extractBytes64(reg, 0, 8)).toBe(reg);
    expect(u.extractBytes64(reg, 0, 4)).toBe(0x5566_7788n);
    expect(u.extractBytes64(reg, 4, 4)).toBe(0x1122_3344n);
    expect(u.extractBytes64(reg, 0x10c, 4)).toBe(0x1122_3344n);
    expect(u.read32Of64(reg, 4)).toBe(0x1122_3344);
    expect(u.read32Of64(0xffff_ffff_0000_0000n, 4)).toBe(0xffff_ffff);
  });
  it('split/join', () => {
    expect(u.splitU64(reg)).toEqual([0x5566_7788, 0x1122_3344]);
    expect(u.joinU64(0xffff_ffff, 0x8000_0000)).toBe(0x8000_0000_ffff_ffffn);
  });
});
