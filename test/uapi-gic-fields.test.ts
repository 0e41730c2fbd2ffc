import { describe, expect, it } from 'vitest';
import * as u from '../dist/src/uapi/index.js';

function field(reg: bigint, shift: bigint, mask: bigint): number {
  return Number((reg >> shift) & mask);
}

describe('uapi/gic-fields: sanitisation (spec 1.3)', () => {
  it('per-field rules', () => {
    expect([0, 1, 2, 3].map(u.vgicSanitiseShareability)).toEqual([0, 1, 1, 3]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(u.vgicSanitiseInnerCacheability)).toEqual([3, 3, 2, 3, 4, 5, 6, 7]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(u.vgicSanitiseOuterCacheability)).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
  });

  for (const [name, layout] of [['GITS', u.GITS_BASEREG_LAYOUT], ['GICR', u.GICR_BASEREG_LAYOUT]] as const) {
    it(`every combination, ${name} layout, other bits untouched`, () => {
      const fieldMask = (3n << layout.shareabilityShift) | (7n << layout.innerCacheShift) | (7n << layout.outerCacheShift);
      const others = 0xdead_beef_cafe_f00dn & ~fieldMask;
      for (let sh = 0; sh < 4; sh++) for (let ic = 0; ic < 8; ic++) for (let oc = 0; oc < 8; oc++) {
        const reg = others | (BigInt(sh) << layout.shareabilityShift) | (BigInt(ic) << layout.innerCacheShift)
          | (BigInt(oc) << layout.outerCacheShift);
        const s = u.vgicSanitiseBaseReg(reg, layout);
        expect(s & ~fieldMask).toBe(others);
        expect(field(s, layout.shareabilityShift, 3n)).toBe(sh === 2 ? 1 : sh);
        expect(field(s, layout.innerCacheShift, 7n)).toBe(ic <= 1 ? 3 : ic);
        expect(field(s, layout.outerCacheShift, 7n)).toBe(oc <= 1 ? oc : 0);
      }
    });
  }

  it('reset values are fixed points', () => {
    expect(u.vgicSanitiseItsBaser(u.GITS_BASER0_RESET_VALUE)).toBe(u.GITS_BASER0_RESET_VALUE);
    expect(u.vgicSanitisePropbaser(u.INITIAL_PROPBASER_VALUE)).toBe(u.INITIAL_PROPBASER_VALUE);
    expect(u.INITIAL_PROPBASER_VALUE).toBe(0x580n);
  });
});

describe('uapi/gic-fields: GITS_BASER', () => {
  it('field extractors on the reset values', () => {
    const b0 = u.GITS_BASER0_RESET_VALUE;
    expect(u.gitsBaserValid(b0)).toBe(false);
    expect(u.gitsBaserIndirect(b0)).toBe(false);
    expect(u.gitsBaserType(b0)).toBe(u.GITS_BASER_TYPE_DEVICE);
    expect(u.gitsBaserType(u.GITS_BASER1_RESET_VALUE)).toBe(u.GITS_BASER_TYPE_COLLECTION);
    expect(u.gitsBaserEntrySize(b0)).toBe(8);
    expect(u.gitsBaserPageSize(b0)).toBe(0x10000);
    expect(u.gitsBaserInnerCache(b0)).toBe(u.GIC_BASER_CACHE_RaWb);
    expect(u.gitsBaserOuterCache(b0)).toBe(u.GIC_BASER_CACHE_SameAsInner);
    expect(u.gitsBaserShareability(b0)).toBe(u.GIC_BASER_InnerShareable);
    expect(u.gitsBaserSize(b0)).toBe(0);
    expect(u.gitsBaserTableBytes(b0)).toBe(0x10000);
  });

  it('52-bit PA encoding', () => {
    const b = 0x8000_1234_5678_0000n | (0xan << 12n) | 0x0fn;
    expect(u.gitsBaserAddress(b)).toBe(0xa_1234_5678_0000);
    expect(u.gitsBaserTableBytes(b)).toBe(16 * 0x10000);
    expect(u.gitsBaserEncodeAddress(0xf_ffff_ffff_0000)).toBe(0x0000_ffff_ffff_f000n);
    for (const pa of [0, 0x10000, 0xffff_ffff_0000, 0x1_0000_0000_0000, 0xf_ffff_ffff_0000]) {
      expect(u.gitsBaserAddress(u.gitsBaserEncodeAddress(pa))).toBe(pa);
    }
  });

  it('makeGitsBaser composes the reset values and round-trips fields', () => {
    expect(u.makeGitsBaser({ type: 1, entrySize: 8, address: 0, size: 0 })).toBe(u.GITS_BASER0_RESET_VALUE);
    expect(u.makeGitsBaser({ type: 4, entrySize: 8, address: 0, size: 0 })).toBe(u.GITS_BASER1_RESET_VALUE);
    const b = u.makeGitsBaser({ valid: true, indirect: true, type: 1, entrySize: 8, address: 0xa_bcde_0001_0000, size: 0xff });
    expect(u.gitsBaserValid(b)).toBe(true);
    expect(u.gitsBaserIndirect(b)).toBe(true);
    expect(u.gitsBaserAddress(b)).toBe(0xa_bcde_0001_0000);
    expect(u.gitsBaserTableBytes(b)).toBe(256 * 0x10000);
  });

  it('write transform: all ones', () => {
    const all = 0xffff_ffff_ffff_ffffn;
    expect(u.vgicItsBaserWrite(0, u.GITS_BASER0_RESET_VALUE, 0, 8, all)).toBe(0xf907_ffff_ffff_feffn);
    expect(u.vgicItsBaserWrite(1, u.GITS_BASER1_RESET_VALUE, 0, 8, all)).toBe(0xbc07_ffff_ffff_feffn);
    for (let n = 2; n < 8; n++) expect(u.vgicItsBaserWrite(n, 0n, 0, 8, all)).toBe(0n);
  });

  it('write transform: zero keeps Type/EntrySize/PageSize', () => {
    expect(u.vgicItsBaserWrite(0, u.GITS_BASER0_RESET_VALUE, 0, 8, 0n)).toBe(0x1907_0000_0000_0200n);
    expect(u.vgicItsBaserWrite(1, u.GITS_BASER1_RESET_VALUE, 0, 8, 0n)).toBe(0x1c07_0000_0000_0200n);
  });

  it('write transform: 32-bit halves', () => {
    // Upper half: Valid only; inner nCnB upgraded, type/esz re-imposed, lower half untouched.
    expect(u.vgicItsBaserWrite(0, u.GITS_BASER0_RESET_VALUE, 4, 4, 0x8000_0000)).toBe(0x9907_0000_0000_0600n);
    // Lower half: address bits, page size 4K requested -> 64K.
    expect(u.vgicItsBaserWrite(0, u.GITS_BASER0_RESET_VALUE, 0, 4, 0x1234_0003)).toBe(0x1907_0000_1234_0203n);
    // Type bits written by the guest are ignored.
    const w = u.vgicItsBaserWrite(1, u.GITS_BASER1_RESET_VALUE, 4, 4, 0x4700_0000 | (0x1f << 16));
    expect(u.gitsBaserType(w)).toBe(4);
    expect(u.gitsBaserEntrySize(w)).toBe(8);
    expect(u.gitsBaserIndirect(w)).toBe(false);
  });

  it('write transform honours an ABI entry size', () => {
    const w = u.vgicItsBaserWrite(0, 0n, 0, 8, 0n, 16);
    expect(u.gitsBaserEntrySize(w)).toBe(16);
  });
});

describe('uapi/gic-fields: GITS_CBASER / CWRITER / CREADR', () => {
  it('write transform', () => {
    expect(u.vgicItsCbaserWrite(0n, 0, 8, 0xffff_ffff_ffff_ffffn)).toBe(0xff1f_ffff_ffff_0fffn);
    const c = u.vgicItsCbaserWrite(0n, 0, 8, 0x8000_0000_1234_5000n | 0x400n | 0x0fn);
    expect(u.gitsCbaserValid(c)).toBe(true);
    expect(u.gitsCbaserAddress(c)).toBe(0x1234_0000);
    expect(u.gitsCbaserSize(c)).toBe(15);
    expect(u.itsCmdBufferSize(c)).toBe(16 * 4096);
    // 32-bit halves merge.
    const lo = u.vgicItsCbaserWrite(0n, 0, 4, 0x4001_0400);
    const both = u.vgicItsCbaserWrite(lo, 4, 4, 0x8000_0001);
    expect(both).toBe(0x9800_0001_4001_0400n);
  });

  it('makeGitsCbaser and sizes', () => {
    const c = u.makeGitsCbaser({ valid: true, address: 0xf_ffff_ffff_0000, size: 0xff });
    expect(u.gitsCbaserAddress(c)).toBe(0xf_ffff_ffff_0000);
    expect(u.itsCmdBufferSize(c)).toBe(1 << 20);
    expect(u.vgicSanitiseItsCbaser(c)).toBe(c);
  });

  it('command offsets', () => {
    expect(u.itsCmdOffset(0xffff_ffff_ffff_ffffn)).toBe(0xfffe0);
    expect(u.itsCmdOffset(0x21)).toBe(0x20);
    expect(u.itsCmdOffset(0x100001n)).toBe(0);
  });
});

describe('uapi/gic-fields: redistributor', () => {
  it('GICR_CTLR bits', () => {
    expect([u.GICR_CTLR_ENABLE_LPIS, u.GICR_CTLR_CES, u.GICR_CTLR_IR, u.GICR_CTLR_RWP]).toEqual([1, 2, 4, 8]);
  });

  it('GICR_TYPER', () => {
    expect(u.gicrTyperValue({ vcpuId: 0, last: true, hasIts: true })).toBe(0x11n);
    expect(u.gicrTyperValue({ vcpuId: 0, last: false, hasIts: false })).toBe(0n);
    expect(u.gicrTyperValue({ vcpuId: 17, last: false, hasIts: true })).toBe(0x0000_0101_0000_1101n);
    expect(u.gicrTyperValue({ vcpuId: 0x1234, last: false, hasIts: false })).toBe(0x0001_2304_0012_3400n);
    expect(u.gicrTyperValue({ vcpuId: 3, last: false, hasIts: false, mpidrAff: 0xabcdef })).toBe(0x00ab_cdef_0000_0300n);
    expect(u.gicrTyperProcessorNumber(u.gicrTyperValue({ vcpuId: 0xffff, last: true, hasIts: true }))).toBe(0xffff);
  });

  it('PROPBASER', () => {
    expect(u.vgicPropbaserWrite(0n, 0, 8, 0xffff_ffff_ffff_ffffn)).toBe(0x000f_ffff_ffff_ff9fn);
    const p = u.makeGicrPropbaser({ address: 0x4000_1000, idBits: 15 });
    expect(u.gicrPropbaserAddress(p)).toBe(0x4000_1000);
    expect(u.gicrPropbaserIdBits(p)).toBe(15);
    expect(u.maxLpisPropbaser(p)).toBe(65536);
    expect(u.maxLpisPropbaser(0x1fn)).toBe(65536);
    expect(u.maxLpisPropbaser(13n)).toBe(16384);
    expect(u.maxLpisPropbaser(12n)).toBe(8192);
    expect(u.maxLpisPropbaser(0n)).toBe(2);
    // Outer shareable is degraded, nC inner upgraded.
    const s = u.vgicSanitisePropbaser((2n << 10n) | (1n << 7n));
    expect(s).toBe((1n << 10n) | (3n << 7n));
  });

  it('PENDBASER', () => {
    const w = u.vgicPendbaserWrite(0n, 0, 8, 0xffff_ffff_ffff_ffffn);
    expect(w).toBe(0x400f_ffff_ffff_0f80n);
    expect(u.gicrPendbaserPtz(w)).toBe(true);
    expect(u.vgicPendbaserReadValue(w)).toBe(0x000f_ffff_ffff_0f80n);
    expect(u.gicrPendbaserAddress(w)).toBe(0xf_ffff_ffff_0000);
    const p = u.makeGicrPendbaser({ address: 0x8_0001_0000, ptz: true });
    expect(u.vgicSanitisePendbaser(p)).toBe(p);
    expect(u.gicrPendbaserAddress(p)).toBe(0x8_0001_0000);
  });

  it('LPI property and pending tables', () => {
    expect(u.lpiPropPriority(0xa3)).toBe(0xa0);
    expect(u.lpiPropEnabled(0xa3)).toBe(true);
    expect(u.lpiPropEnabled(0xa2)).toBe(false);
    expect(u.makeLpiProp(0xa1, true)).toBe(0xa3);
    expect(u.lpiPropOffset(8192)).toBe(0);
    expect(u.lpiPropOffset(65535)).toBe(65535 - 8192);
    expect(u.lpiPendByteOffset(8192)).toBe(1024);
    expect(u.lpiPendBitMask(8195)).toBe(8);
    expect(u.LPI_PENDTABLE_RESERVED_BYTES).toBe(1024);
    expect(u.GIC_LPI_MAX_INTID).toBe(65535);
  });
});
