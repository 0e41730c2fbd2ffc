/**
 * The ITS register frame as a guest sees it (spec 1.2, 1.3, 3; items 9.10,
 * 9.12-9.16 and 9.9 on the ITS side) and the lock discipline of spec 7.3.
 * Unit level: one Its on the test's thread over real shared structures.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  harnessCmdQueue, harnessCollectionTable, harnessDeviceTable, harnessItt, ItsHarness,
  itsCmd as C,
} from './helpers/its-harness.js';
import type { Its } from '../dist/src/vgic/its/its.js';
import * as u from '../dist/src/uapi/index.js';
import { I_ENABLED } from '../dist/src/vgic/vgic-state.js';

const CTLR = u.GITS_CTLR, IIDR = u.GITS_IIDR, TYPER = u.GITS_TYPER, CBASER = u.GITS_CBASER;
const CWRITER = u.GITS_CWRITER, CREADR = u.GITS_CREADR, BASER0 = u.GITS_BASER, BASER1 = u.GITS_BASER + 8;

function deviceBaser(o: Partial<u.GitsBaserFields> = {}): bigint {
  return u.makeGitsBaser({ valid: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: harnessDeviceTable(0), size: 0, ...o });
}
function collBaser(o: Partial<u.GitsBaserFields> = {}): bigint {
  return u.makeGitsBaser({ valid: true, type: u.GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: harnessCollectionTable(0), size: 0, ...o });
}
function cbaser(o: Partial<u.GitsCbaserFields> = {}): bigint {
  return u.makeGitsCbaser({ valid: true, address: harnessCmdQueue(0), size: 15, ...o });
}

/** Map (device 1, event 0) -> LPI 8192 on collection 1 -> vCPU 1 and fill the cache with one MSI. */
function mapOne(h: ItsHarness): void {
  expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(1, 1), C.mapti(1, 0, 8192, 1))).toEqual([0, 0, 0]);
  expect(h.its[0]!.injectMsi(1, 0)).toBe(1);
  expect(h.cache.lookup(0, 1, 0)).toBe(8192);
}

describe('ITS registers: values and the guest access rule', () => {
  let h: ItsHarness;
  let its: Its;
  beforeEach(() => {
    h = new ItsHarness();
    its = h.its[0]!;
  });

  it('creation values: CTLR quiescent, IIDR, TYPER, BASER0/1 reset values, BASER2..7, CBASER/CREADR/CWRITER 0', () => {
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0000n);
    expect(its.mmioRead(IIDR, 4)).toBe(0x4b00_043bn);
    expect(its.mmioRead(TYPER, 8)).toBe(0x1ef71n);
    expect(its.mmioRead(TYPER, 4)).toBe(0x1ef71n);
    expect(its.mmioRead(TYPER + 4, 4)).toBe(0n);
    expect(its.mmioRead(BASER0, 8)).toBe(0x1907_0000_0000_0600n);
    expect(its.mmioRead(BASER1, 8)).toBe(0x1c07_0000_0000_0600n);
    expect(its.mmioRead(BASER1 + 4, 4)).toBe(0x1c07_0000n);
    for (let n = 2; n < 8; n++) expect(its.mmioRead(u.gitsBaserOffset(n), 8)).toBe(0n);
    for (const off of [CBASER, CWRITER, CREADR]) expect(its.mmioRead(off, 8)).toBe(0n);
    expect(Atomics.load(h.st.i32, h.st.its(0) + I_ENABLED)).toBe(0);
  });

  it('ID registers read their constants; other ID offsets, GITS_MPIDR, GITS_TRANSLATER and holes read 0', () => {
    const ids: Record<number, number> = {
      0xffd0: 0x40, 0xffe0: 0x92, 0xffe4: 0xb4, 0xffe8: 0x3b, 0xfff0: 0x0d, 0xfff4: 0xf0, 0xfff8: 0x05, 0xfffc: 0xb1,
    };
    for (let off = 0xffd0; off < 0x10000; off += 4) expect(its.mmioRead(off, 4)).toBe(BigInt(ids[off] ?? 0));
    for (const off of [u.GITS_MPIDR, 0x10, 0x40, 0x98, 0x140, 0x8000, 0xffc0, 0x10000, u.GITS_TRANSLATER, 0x1fffc]) {
      expect(its.mmioRead(off, 4)).toBe(0n);
    }
    expect(its.mmioRead(0x20000, 4)).toBe(0n);
    expect(its.mmioRead(-4, 4)).toBe(0n);
  });

  it('an access of a size the register does not allow, or misaligned, reads 0 and writes nothing', () => {
    h.enable(0);
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0001n);
    expect(its.mmioRead(CTLR, 8)).toBe(0n); // CTLR is 32-bit only
    expect(its.mmioRead(CTLR, 2)).toBe(0n);
    expect(its.mmioRead(CTLR, 1)).toBe(0n);
    expect(its.mmioRead(IIDR, 8)).toBe(0n);
    expect(its.mmioRead(TYPER, 2)).toBe(0n);
    expect(its.mmioRead(TYPER + 2, 4)).toBe(0n); // misaligned
    expect(its.mmioRead(TYPER + 4, 8)).toBe(0n); // misaligned 64-bit
    expect(its.mmioRead(0xffe0, 8)).toBe(0n); // ID registers are 32-bit only
    expect(its.mmioRead(BASER0 + 1, 4)).toBe(0n);
    // Writes: a 64-bit CTLR store is dropped, so the ITS stays enabled.
    its.mmioWrite(CTLR, 8, 0n);
    expect(its.enabled).toBe(true);
    its.mmioWrite(CTLR, 2, 0n);
    expect(its.enabled).toBe(true);
    // Misaligned / odd-size CWRITER stores are dropped.
    its.mmioWrite(CWRITER + 2, 4, 0x40n);
    its.mmioWrite(CWRITER, 2, 0x40n);
    its.mmioWrite(CWRITER, 1, 0x40n);
    expect(its.cwriter).toBe(0);
    expect(h.locksFree()).toBe(true);
  });

  it('32-bit halves of 64-bit registers merge into the stored value', () => {
    const v = cbaser({ size: 3 });
    its.mmioWrite(CBASER, 4, v & 0xffff_ffffn);
    its.mmioWrite(CBASER + 4, 4, v >> 32n);
    expect(its.mmioRead(CBASER, 8)).toBe(v);
    expect(its.mmioRead(CBASER, 4)).toBe(v & 0xffff_ffffn);
    expect(its.mmioRead(CBASER + 4, 4)).toBe(v >> 32n);
    const b = deviceBaser({ size: 7 });
    its.mmioWrite(BASER0 + 4, 4, b >> 32n);
    its.mmioWrite(BASER0, 4, b & 0xffff_ffffn);
    expect(its.mmioRead(BASER0, 8)).toBe(b);
    // Upper half of CWRITER holds no offset bits: writing it keeps the offset.
    its.mmioWrite(CTLR, 4, 0n);
    h.enable(0, { cbaserSize: 0 });
    h.run(0, C.sync(), C.sync());
    expect(its.cwriter).toBe(0x40);
    its.mmioWrite(CWRITER + 4, 4, 0xffff_ffffn);
    expect(its.cwriter).toBe(0x40);
    expect(its.mmioRead(CWRITER, 4)).toBe(0x40n);
    expect(its.mmioRead(CREADR + 4, 4)).toBe(0n);
  });

  it('guest writes to IIDR, TYPER, CREADR and the ID registers are ignored', () => {
    h.enable(0);
    h.run(0, C.sync());
    its.mmioWrite(IIDR, 4, 0x1234n);
    its.mmioWrite(TYPER, 8, 0xffff_ffff_ffff_ffffn);
    its.mmioWrite(CREADR, 8, 0x100n);
    its.mmioWrite(0xffe8, 4, 0n);
    expect(its.mmioRead(IIDR, 4)).toBe(0x4b00_043bn);
    expect(its.mmioRead(TYPER, 8)).toBe(0x1ef71n);
    expect(its.creadr).toBe(0x20);
    expect(its.mmioRead(0xffe8, 4)).toBe(0x3bn);
  });

  it('9.16 BASER1 never keeps Indirect; Type and Entry_Size are immutable; PageSize reads 64K; fields are sanitised', () => {
    const raw = u.makeGitsBaser({
      valid: true, indirect: true, type: 0, entrySize: 32, address: harnessCollectionTable(0), size: 2,
      pageSize: u.GITS_BASER_PAGE_SIZE_4K, shareability: u.GIC_BASER_OuterShareable, innerCache: u.GIC_BASER_CACHE_nC,
      outerCache: u.GIC_BASER_CACHE_WaWb,
    });
    its.mmioWrite(BASER1, 8, raw);
    const b1 = its.mmioRead(BASER1, 8);
    expect(u.gitsBaserIndirect(b1)).toBe(false);
    expect(u.gitsBaserType(b1)).toBe(u.GITS_BASER_TYPE_COLLECTION);
    expect(u.gitsBaserEntrySize(b1)).toBe(8);
    expect(b1 & u.GITS_BASER_PAGE_SIZE_MASK).toBe(u.GITS_BASER_PAGE_SIZE_64K);
    expect(u.gitsBaserShareability(b1)).toBe(u.GIC_BASER_InnerShareable);
    expect(u.gitsBaserInnerCache(b1)).toBe(u.GIC_BASER_CACHE_RaWb);
    expect(u.gitsBaserOuterCache(b1)).toBe(u.GIC_BASER_CACHE_SameAsInner);
    expect(u.gitsBaserAddress(b1)).toBe(harnessCollectionTable(0));
    expect(u.gitsBaserSize(b1)).toBe(2);
    expect(u.gitsBaserValid(b1)).toBe(true);
    // BASER0 keeps Indirect; its Type/Entry_Size are re-imposed too.
    its.mmioWrite(BASER0, 8, raw);
    const b0 = its.mmioRead(BASER0, 8);
    expect(u.gitsBaserIndirect(b0)).toBe(true);
    expect(u.gitsBaserType(b0)).toBe(u.GITS_BASER_TYPE_DEVICE);
    expect(u.gitsBaserEntrySize(b0)).toBe(8);
    // BASER2..7 stay RAZ/WI.
    its.mmioWrite(u.gitsBaserOffset(5), 8, raw);
    expect(its.mmioRead(u.gitsBaserOffset(5), 8)).toBe(0n);
  });

  it('CBASER is sanitised and forced to a 64 KiB aligned base', () => {
    its.mmioWrite(CBASER, 8, cbaser({ address: harnessCmdQueue(0) + 0x3000, shareability: u.GIC_BASER_OuterShareable }));
    const v = its.mmioRead(CBASER, 8);
    expect(u.gitsCbaserAddress(v)).toBe(harnessCmdQueue(0));
    expect(Number((v >> 10n) & 3n)).toBe(u.GIC_BASER_InnerShareable);
  });
});

describe('ITS registers: queue control and enable', () => {
  let h: ItsHarness;
  let its: Its;
  beforeEach(() => {
    h = new ItsHarness();
    its = h.its[0]!;
  });

  it('9.10 after a CWRITER store with the ITS enabled, CREADR == CWRITER and Quiescent = 1', () => {
    h.enable(0);
    const results = h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(0, 0), C.mapti(1, 0, 8192, 0), C.sync());
    expect(results).toEqual([0, 0, 0, 0]);
    expect(its.creadr).toBe(4 * 32);
    expect(its.mmioRead(CREADR, 8)).toBe(its.mmioRead(CWRITER, 8));
    expect(its.mmioRead(CTLR, 4) & 0x8000_0000n).toBe(0x8000_0000n);
  });

  it('9.12 CWRITER stores with an offset >= the queue size are ignored; Retry and bits above 19 are dropped', () => {
    h.enable(0, { cbaserSize: 0 }); // 4 KiB queue
    its.mmioWrite(CWRITER, 8, 4096n);
    expect(its.cwriter).toBe(0);
    its.mmioWrite(CWRITER, 8, 0x8_0000n);
    expect(its.cwriter).toBe(0);
    expect(its.stats.processed).toBe(0);
    // 0x20 | Retry | bit 40: only bits 19:5 count.
    its.mmioWrite(CWRITER, 8, 0x20n | 1n | (1n << 40n));
    expect(its.cwriter).toBe(0x20);
    expect(its.creadr).toBe(0x20);
    its.mmioWrite(CWRITER, 8, 4064n);
    expect(its.cwriter).toBe(4064);
    expect(its.creadr).toBe(4064);
  });

  it('9.12 CBASER stores reset CREADR and CWRITER to 0, and are ignored while enabled', () => {
    h.enable(0);
    h.run(0, C.sync(), C.sync());
    expect(its.creadr).toBe(64);
    const before = its.cbaser;
    its.mmioWrite(CBASER, 8, cbaser({ size: 1 }));
    expect(its.cbaser).toBe(before);
    expect(its.creadr).toBe(64);
    expect(its.cwriter).toBe(64);
    its.mmioWrite(CTLR, 4, 0n);
    its.mmioWrite(CBASER, 8, cbaser({ size: 1 }));
    expect(u.gitsCbaserSize(its.cbaser)).toBe(1);
    expect(its.creadr).toBe(0);
    expect(its.cwriter).toBe(0);
    // Even a 32-bit store to the upper half resets them.
    its.mmioWrite(CWRITER, 8, 0x40n); // disabled: stored, not processed
    expect(its.cwriter).toBe(0x40);
    expect(its.creadr).toBe(0);
    expect(its.mmioRead(CTLR, 4)).toBe(0n); // not quiescent, not enabled
    its.mmioWrite(CBASER + 4, 4, its.cbaser >> 32n);
    expect(its.cwriter).toBe(0);
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0000n);
  });

  it.each([
    ['BASER0', BASER0, deviceBaser({ valid: false })],
    ['BASER1', BASER1, collBaser({ valid: false })],
    ['CBASER', CBASER, cbaser({ valid: false })],
  ])('9.13 enabling is ignored while %s is not Valid', (_name, off, invalid) => {
    h.enable(0, { enable: false });
    its.mmioWrite(off, 8, invalid);
    its.mmioWrite(CTLR, 4, 1n);
    expect(its.enabled).toBe(false);
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0000n);
    expect(Atomics.load(h.st.i32, h.st.its(0) + I_ENABLED)).toBe(0);
  });

  it('9.13 enabling with every table Valid works and drains the commands queued while disabled', () => {
    h.enable(0, { enable: false });
    expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(3, 2), C.mapti(1, 4, 8200, 3))).toEqual([]);
    expect(its.creadr).toBe(0);
    expect(its.cwriter).toBe(96);
    expect(its.mmioRead(CTLR, 4)).toBe(0n);
    expect(its.tr.devices.size).toBe(0);
    its.mmioWrite(CTLR, 4, 1n);
    expect(its.enabled).toBe(true);
    expect(Atomics.load(h.st.i32, h.st.its(0) + I_ENABLED)).toBe(1);
    expect(its.creadr).toBe(96);
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0001n);
    expect(its.tr.findIte(1, 4)).toEqual({ icid: 3, intid: 8200 });
    expect(h.vgic.lpiTarget(8200)).toBe(2);
    // Enable bit only: other CTLR bits read 0 (ImDe written, ignored).
    its.mmioWrite(CTLR, 4, BigInt(1 | u.GITS_CTLR_ImDe | 0x7000_0000));
    expect(its.mmioRead(CTLR, 4)).toBe(0x8000_0001n);
  });

  it('9.14 disabling GITS_CTLR empties this ITS\'s translation cache (and updates the ITS record)', () => {
    h.enable(0);
    mapOne(h);
    expect(h.cache.size(0)).toBe(1);
    its.mmioWrite(CTLR, 4, 0n);
    expect(its.enabled).toBe(false);
    expect(Atomics.load(h.st.i32, h.st.its(0) + I_ENABLED)).toBe(0);
    expect(h.cache.size(0)).toBe(0);
    expect(h.cache.lookup(0, 1, 0)).toBe(-1);
    // Re-enabling keeps the mappings; the translation is cached again on the next MSI.
    its.mmioWrite(CTLR, 4, 1n);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.cache.lookup(0, 1, 0)).toBe(8192);
  });

  it('9.15 BASER writes while enabled are ignored (Valid=0 frees nothing)', () => {
    h.enable(0);
    mapOne(h);
    const b0 = its.baserDevice, b1 = its.baserCollection;
    its.mmioWrite(BASER0, 8, deviceBaser({ valid: false }));
    its.mmioWrite(BASER1, 8, collBaser({ valid: false, size: 3 }));
    expect(its.baserDevice).toBe(b0);
    expect(its.baserCollection).toBe(b1);
    expect(its.tr.devices.size).toBe(1);
    expect(its.tr.collections.size).toBe(1);
    expect(h.vgic.lpiExists(8192)).toBe(true);
  });

  it('9.15 writing BASER0 with Valid=0 while disabled deletes every device and its LPIs', () => {
    h.enable(0);
    mapOne(h);
    expect(h.run(0, C.mapd(2, 5, harnessItt(0, 2)), C.mapti(2, 1, 8193, 1))).toEqual([0, 0]);
    its.mmioWrite(CTLR, 4, 0n);
    its.mmioWrite(BASER0, 8, deviceBaser({ valid: false }));
    expect(its.tr.devices.size).toBe(0);
    expect(h.vgic.lpiExists(8192)).toBe(false);
    expect(h.vgic.lpiExists(8193)).toBe(false);
    expect(its.tr.collections.size).toBe(1); // collections are BASER1's
    // A write that keeps Valid frees nothing.
    its.mmioWrite(BASER0, 8, deviceBaser());
    its.mmioWrite(CTLR, 4, 1n);
    expect(h.run(0, C.mapd(3, 5, harnessItt(0, 3)))).toEqual([0]);
    its.mmioWrite(CTLR, 4, 0n);
    its.mmioWrite(BASER0, 8, deviceBaser({ size: 1 }));
    expect(its.tr.devices.size).toBe(1);
  });

  it('9.15 writing BASER1 with Valid=0 while disabled deletes every collection; ITEs lose theirs for good', () => {
    h.enable(0);
    mapOne(h);
    its.mmioWrite(CTLR, 4, 0n);
    its.mmioWrite(BASER1, 8, collBaser({ valid: false }));
    expect(its.tr.collections.size).toBe(0);
    expect(its.tr.findIte(1, 0)).toEqual({ icid: null, intid: 8192 });
    expect(h.vgic.lpiExists(8192)).toBe(true); // the ITE (and its LPI reference) stays
    its.mmioWrite(BASER1, 8, collBaser());
    its.mmioWrite(CTLR, 4, 1n);
    expect(h.run(0, C.mapc(1, 1))).toEqual([0]);
    expect(its.injectMsi(1, 0)).toBe(0); // the ITE does not get the new collection 1
    expect(its.snapshot().devices[0]!.ites[0]!.icid).toBeNull();
  });

  it('9.9 (ITS side) GITS_TRANSLATER is not emulated: stores change nothing and raise no LPI', () => {
    h.enable(0);
    mapOne(h);
    h.vgic.clearPending(8192);
    const snap = its.snapshot();
    const stats = JSON.stringify(its.stats);
    for (const size of [2, 4, 8]) its.mmioWrite(u.GITS_TRANSLATER, size, 0n);
    its.mmioWrite(u.GITS_TRANSLATER, 4, 1n);
    expect(h.vgic.lpiFlags(8192) & 2).toBe(0);
    expect(its.snapshot()).toEqual(snap);
    expect(JSON.stringify(its.stats)).toBe(stats);
    expect(its.mmioRead(u.GITS_TRANSLATER, 4)).toBe(0n);
  });
});

describe('ITS lock discipline (spec 7.3)', () => {
  let h: ItsHarness;
  let its: Its;
  let log: string[];
  beforeEach(() => {
    h = new ItsHarness();
    its = h.its[0]!;
    log = [];
    const name = (l: number) => (l === its.cmdLock.index ? 'cmd' : l === its.itsLock.index ? 'its' : `lock${l}`);
    h.thread.observer = {
      acquired: (l) => { log.push(`+${name(l)}`); },
      released: (l) => { log.push(`-${name(l)}`); },
    };
  });
  const take = (): string[] => log.splice(0, log.length);

  it('CTLR read/write, CBASER and CWRITER writes take cmd_lock; each drained command takes its_lock inside it', () => {
    its.mmioWrite(CBASER, 8, cbaser());
    expect(take()).toEqual(['+cmd', '-cmd']);
    its.mmioWrite(BASER0, 8, deviceBaser());
    its.mmioWrite(BASER1, 8, collBaser());
    expect(take()).toEqual([]); // Valid stays 1: no lock
    its.mmioWrite(CWRITER, 8, 64n); // disabled: stored, nothing drained
    expect(take()).toEqual(['+cmd', '-cmd']);
    its.mmioRead(CTLR, 4);
    expect(take()).toEqual(['+cmd', '-cmd']);
    // Enabling drains the two queued (zeroed = opcode 0, unknown) commands.
    its.mmioWrite(CTLR, 4, 1n);
    expect(take()).toEqual(['+cmd', '+its', '-its', '+its', '-its', '-cmd']);
    h.run(0, C.sync(), C.mapc(1, 1), C.sync());
    expect(take()).toEqual(['+cmd', '+its', '-its', '+its', '-its', '+its', '-its', '-cmd']);
    expect(h.locksFree()).toBe(true);
  });

  it('other reads take no lock; a CBASER write while enabled is refused before cmd_lock', () => {
    h.enable(0);
    take();
    for (const off of [IIDR, TYPER, CBASER, CWRITER, CREADR, BASER0, BASER1, 0xffe8, u.GITS_TRANSLATER]) {
      its.mmioRead(off, off === IIDR || off === 0xffe8 ? 4 : 8);
    }
    its.mmioWrite(CBASER, 8, cbaser({ size: 2 }));
    its.mmioWrite(BASER0, 8, deviceBaser({ valid: false }));
    its.mmioWrite(CREADR, 8, 0n);
    its.mmioWrite(TYPER, 8, 0n);
    expect(take()).toEqual([]);
  });

  it('BASER Valid=0 takes its_lock (not cmd_lock); the MSI slow path takes its_lock only', () => {
    its.mmioWrite(BASER0, 8, deviceBaser({ valid: false }));
    expect(take()).toEqual(['+its', '-its']);
    its.mmioWrite(BASER1, 8, collBaser({ valid: false }));
    expect(take()).toEqual(['+its', '-its']);
    expect(its.injectMsi(1, 2)).toBe(-16);
    expect(take()).toEqual(['+its', '-its']);
  });

  it('an unreadable command is skipped without taking its_lock', () => {
    h.enable(0, { cmdQueue: 0x2000_0000 });
    take();
    h.advance(0, 64);
    expect(take()).toEqual(['+cmd', '-cmd']);
    expect(its.stats.unreadable).toBe(2);
  });

  it('a handler that throws (a model bug) leaves no lock held', () => {
    h.enable(0);
    mapOne(h);
    const original = h.vgic.setPending;
    h.vgic.setPending = () => { throw new Error('injected bug'); };
    try {
      expect(() => h.run(0, C.int(1, 0))).toThrow('injected bug');
      expect(h.locksFree()).toBe(true);
      expect(() => its.injectMsi(1, 0)).toThrow('injected bug');
      expect(h.locksFree()).toBe(true);
    } finally {
      h.vgic.setPending = original;
    }
    // The faulting command was not consumed; the next drain runs it.
    h.advance(0, its.cwriter);
    expect(its.creadr).toBe(its.cwriter);
    expect(h.locksFree()).toBe(true);
  });
});

describe('ITS registers: guest values never throw', () => {
  it('random stores and loads anywhere in the frame leave no lock held and never throw', () => {
    const h = new ItsHarness();
    const its = h.enable(0);
    let seed = 0x1234_5678;
    const rnd = (): number => { // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const offsets = [CTLR, IIDR, TYPER, TYPER + 4, CBASER, CBASER + 4, CWRITER, CWRITER + 4, CREADR, BASER0, BASER0 + 4,
      BASER1, BASER1 + 4, u.gitsBaserOffset(7), 0xffe8, u.GITS_TRANSLATER, 0x1ffff, 3];
    const queue = new Uint8Array(4096);
    for (let i = 0; i < 5000; i++) {
      if (i % 100 === 0) {
        // Back to a working ITS now and then, with random bytes in the first queue page.
        h.enable(0, { cbaserSize: Math.floor(rnd() * 4) });
        for (let k = 0; k < queue.length; k++) queue[k] = k % 32 === 0 ? [8, 9, 10, 3, 1, 0x29][Math.floor(rnd() * 6)]! : rnd() < 0.3 ? Math.floor(rnd() * 256) : 0;
        h.mem.write(harnessCmdQueue(0), queue);
      }
      const off = rnd() < 0.9 ? offsets[Math.floor(rnd() * offsets.length)]! : Math.floor(rnd() * 0x20010);
      const size = [1, 2, 4, 8, 8, 4][Math.floor(rnd() * 6)]!;
      const value = (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
      // Keep the queue in RAM most of the time so commands (random guest memory) actually run.
      const v = off === CBASER && rnd() < 0.7 ? cbaser({ size: Math.floor(rnd() * 4) })
        : off === CWRITER && rnd() < 0.8 ? BigInt(Math.floor(rnd() * 512) * 32) : value;
      if (rnd() < 0.5) its.mmioWrite(off, size, v);
      else its.mmioRead(off, size);
      expect(h.locksFree()).toBe(true);
    }
    expect(its.creadr === its.cwriter || !its.enabled).toBe(true);
    expect(its.stats.processed).toBeGreaterThan(100);
  });

  it('tables outside every memslot are accepted by BASER but unusable: MAPD/MAPC fail with *_OOR', () => {
    const h = new ItsHarness();
    const its = h.enable(0, {
      baser0: deviceBaser({ address: 0x1_0000_0000 }), baser1: collBaser({ address: 0x1_0000_0000 }),
    });
    expect(its.enabled).toBe(true);
    expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(1, 1))).toEqual([u.E_ITS_MAPD_DEVICE_OOR, u.E_ITS_MAPC_COLLECTION_OOR]);
  });
});
