import { describe, expect, it } from 'vitest';
import * as u from '../dist/src/uapi/index.js';

function dv(n = 64): DataView {
  return new DataView(new ArrayBuffer(n));
}

describe('uapi/its-abi: constants', () => {
  it('ABI 0 geometry and caps', () => {
    expect(u.NR_ITS_ABIS).toBe(1);
    expect(u.ABI_0_ESZ).toBe(8);
    expect(u.ITS_TABLE_ABI_VERSIONS[0]).toEqual({ cteEsz: 8, dteEsz: 8, iteEsz: 8 });
    expect(u.VITS_DTE_MAX_DEVID_OFFSET).toBe(16383);
    expect(u.VITS_ITE_MAX_EVENTID_OFFSET).toBe(65535);
    expect(u.VITS_L2_PAGE_SIZE).toBe(0x10000);
    expect(u.VITS_DTES_PER_L2_PAGE).toBe(8192);
    expect(u.KVM_ITS_DTE_NEXT_MASK).toBe(0x7ffe_0000_0000_0000n);
    expect(u.KVM_ITS_DTE_ITTADDR_MASK).toBe(0x0001_ffff_ffff_ffe0n);
    expect(u.KVM_ITS_L1E_ADDR_MASK).toBe(0x000f_ffff_ffff_0000n);
  });

  it('next offsets', () => {
    expect(u.itsNextOffset(5, undefined, u.VITS_DTE_MAX_DEVID_OFFSET)).toBe(0);
    expect(u.itsNextOffset(5, 6, u.VITS_DTE_MAX_DEVID_OFFSET)).toBe(1);
    expect(u.itsNextOffset(0, 0xffff, u.VITS_DTE_MAX_DEVID_OFFSET)).toBe(16383);
    expect(u.itsNextOffset(0, 0xffff, u.VITS_ITE_MAX_EVENTID_OFFSET)).toBe(65535);
  });
});

describe('uapi/its-abi: DTE', () => {
  const cases: ReturnType<typeof u.unpackDte>[] = [
    { valid: true, next: 16383, ittAddr: 0xf_ffff_ffff_ff00, size: 31 },
    { valid: true, next: 0, ittAddr: 0x100, size: 0 },
    { valid: false, next: 0, ittAddr: 0, size: 0 },
    { valid: true, next: 1, ittAddr: 0x8_1234_5600, size: 15 },
  ];
  it('round trips (DataView and bigint) and matches the kernel masks', () => {
    for (const e of cases) {
      const v = dv();
      u.writeDte(v, 8, e);
      expect(u.readDte(v, 8)).toEqual(e);
      const big = u.packDte(e);
      expect(v.getBigUint64(8, true)).toBe(big);
      expect(u.unpackDte(big)).toEqual(e);
      const expected = (e.valid ? 1n << 63n : 0n) | (BigInt(e.next) << 49n)
        | ((BigInt(e.ittAddr) >> 8n) << 5n) | BigInt(e.size);
      expect(big).toBe(expected);
    }
    expect(u.packDte(cases[0]!)).toBe(0xffff_ffff_ffff_ffffn);
  });
});

describe('uapi/its-abi: CTE', () => {
  it('round trips incl. unmapped target', () => {
    for (const e of [
      { valid: true, rdbase: u.COLLECTION_NOT_MAPPED, icid: 0xffff },
      { valid: true, rdbase: 0, icid: 0 },
      { valid: false, rdbase: 0, icid: 0 },
      { valid: true, rdbase: 0x1_0005, icid: 0x1234 },
    ]) {
      const v = dv();
      u.writeCte(v, 0, e);
      expect(u.readCte(v, 0)).toEqual(e);
      const big = u.packCte(e);
      expect(big).toBe((e.valid ? 1n << 63n : 0n) | (BigInt(e.rdbase) << 16n) | BigInt(e.icid));
      expect(u.unpackCte(big)).toEqual(e);
    }
    // RES0 bits 62:48 are not part of RDBase on restore.
    expect(u.unpackCte(0xffff_0000_0002_0003n)).toEqual({ valid: true, rdbase: 2, icid: 3 });
  });
});

describe('uapi/its-abi: ITE', () => {
  it('round trips incl. extreme next and pINTID', () => {
    for (const e of [
      { next: 65535, pintid: 0xffff_ffff, icid: 0xffff },
      { next: 0, pintid: 8192, icid: 0 },
      { next: 0, pintid: 0, icid: 0 },
    ]) {
      const v = dv();
      u.writeIte(v, 16, e);
      expect(u.readIte(v, 16)).toEqual(e);
      const big = u.packIte(e);
      expect(big).toBe((BigInt(e.next) << 48n) | (BigInt(e.pintid) << 16n) | BigInt(e.icid));
      expect(u.unpackIte(big)).toEqual(e);
      expect(u.iteSlotUsed(v, 16)).toBe(e.pintid !== 0);
    }
  });
});

describe('uapi/its-abi: L1 entries and table lookup', () => {
  it('L1 round trip', () => {
    for (const e of [
      { valid: true, l2Addr: 0xf_ffff_ffff_0000 },
      { valid: false, l2Addr: 0 },
      { valid: true, l2Addr: 0x8_0001_0000 },
    ]) {
      const v = dv();
      u.writeL1e(v, 0, e);
      expect(u.readL1e(v, 0)).toEqual(e);
      expect(u.entryValidBit(v, 0)).toBe(e.valid);
      const big = u.packL1e(e);
      expect(big).toBe((e.valid ? 1n << 63n : 0n) | BigInt(e.l2Addr));
      expect(u.unpackL1e(big)).toEqual(e);
    }
    // Bits outside 51:16 are ignored.
    expect(u.unpackL1e(0xfff0_0000_0001_ffffn)).toEqual({ valid: true, l2Addr: 0x1_0000 });
  });

  it('check_id geometry', () => {
    const flatDev = u.makeGitsBaser({ valid: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: 0x10_0000, size: 0 });
    expect(u.itsTableLookup(flatDev, 0)).toEqual({ ok: true, indirect: false, entryGpa: 0x10_0000 });
    expect(u.itsTableLookup(flatDev, 8191)).toEqual({ ok: true, indirect: false, entryGpa: 0x10_0000 + 8191 * 8 });
    expect(u.itsTableLookup(flatDev, 8192)).toEqual({ ok: false });
    const big = u.makeGitsBaser({ type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: 0, size: 255 });
    expect(u.itsTableLookup(big, 0xffff).ok).toBe(true);
    expect(u.itsTableLookup(big, 0x10000)).toEqual({ ok: false });

    const ind = u.makeGitsBaser({ valid: true, indirect: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: 0x20_0000, size: 0 });
    expect(u.itsTableLookup(ind, 8192 * 3 + 5)).toEqual({ ok: true, indirect: true, l1Gpa: 0x20_0000 + 24, l2Offset: 40 });
    expect(u.itsL2EntryGpa({ valid: true, l2Addr: 0x30_0000 }, 40)).toBe(0x30_0028);
    expect(u.itsL2EntryGpa({ valid: false, l2Addr: 0x30_0000 }, 40)).toBeUndefined();

    const coll = u.makeGitsBaser({ type: u.GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: 0x40_0000, size: 0 });
    expect(u.itsTableLookup(coll, 0xffff)).toEqual({ ok: false }); // 64 KiB holds 8192 entries
    expect(u.itsTableLookup(coll, 100)).toEqual({ ok: true, indirect: false, entryGpa: 0x40_0000 + 800 });
    expect(u.itsTableLookup(0n, 0)).toEqual({ ok: false }); // type NONE
  });
});
