/**
 * KVM_DEV_ARM_ITS_SAVE_TABLES / RESTORE_TABLES, ABI revision 0 (spec 5.1-5.3,
 * 5.6) and CTRL_RESET (6.2): items 9.23-9.26 and 9.33, exact table bytes,
 * flat and two-level device tables, round trips into a fresh ITS, and every
 * restore error path leaving no mappings and no LPI references.
 * Unit level: harness ITSs on the test's thread; the methods run with
 * its_lock held, as the lock protocol calls them.
 */
import { describe, expect, it } from 'vitest';
import {
  collectionBaser, deviceBaser, HARNESS_RAM, HARNESS_RAM_SIZE, harnessCmdQueue, harnessCollectionTable,
  harnessDeviceTable, harnessItt, ItsHarness, itsCmd as C, roundTrip, writeL1Table,
} from './helpers/its-harness.js';
import * as u from '../dist/src/uapi/index.js';
import { I_ENABLED } from '../dist/src/vgic/vgic-state.js';

const EINVAL = -u.EINVAL, EEXIST = -u.EEXIST, EFAULT = -u.EFAULT;
const DT = harnessDeviceTable(0);
const CT = harnessCollectionTable(0);
const ITT = (d: number): number => harnessItt(0, d);
/** Free RAM for big tables, level-2 pages and big ITTs (the default layout ends at +0x20_0000 for one ITS). */
const SPARE = HARNESS_RAM + 0x40_0000;
/** Guest-physical addresses no memslot backs. */
const UNBACKED = 0x1000_0000;
const RAM_END = HARNESS_RAM + HARNESS_RAM_SIZE;
const SENTINEL = 0xeeee_eeee_eeee_eeeen;

function slot(h: ItsHarness, gpa: number): bigint {
  return h.mem.read64(gpa);
}
const cte = (icid: number, rdbase: number, valid = true): bigint => u.packCte({ valid, rdbase, icid });
const dte = (ittAddr: number, eventIdBits: number, next: number, valid = true): bigint =>
  u.packDte({ valid, next, ittAddr, size: eventIdBits - 1 });
const ite = (pintid: number, icid: number, next: number): bigint => u.packIte({ next, pintid, icid });

/** A destination ITS: BASERs programmed (flat defaults unless given), disabled, tables written by hand. */
function handDst(o: { baser0?: bigint; baser1?: bigint } = {}): ItsHarness {
  const h = new ItsHarness();
  h.enable(0, { enable: false, ...o });
  return h;
}

/** The state every failed restore must leave: no devices, collections, LPIs; locks free. */
function expectNoMappings(h: ItsHarness): void {
  const its = h.its[0]!;
  expect(its.tr.devices.size).toBe(0);
  expect(its.tr.collections.size).toBe(0);
  expect(h.liveLpis()).toEqual([]);
  expect(h.cache.size(0)).toBe(0);
  expect(h.locksFree()).toBe(true);
}

/** The configuration whose saved bytes are computed by hand below. */
function smallConfig(): ItsHarness {
  const h = new ItsHarness();
  h.enable(0);
  expect(h.run(0,
    C.mapc(3, 1), C.mapc(1, 0),
    C.mapd(2, 5, ITT(2)), C.mapd(0, 2, ITT(0)),
    C.mapti(2, 7, 8200, 3), C.mapti(2, 1, 8193, 1), C.mapti(2, 30, 0x9abc, 9), C.mapti(0, 3, 8192, 1),
  )).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  return h;
}

describe('SAVE_TABLES (ABI 0) layout', () => {
  it('9.23 exact bytes: DTEs ascending with next, each ITT ascending with next, CTEs in creation order + terminator; gaps untouched', () => {
    const h = smallConfig();
    // Sentinels everywhere save could write: the first 8 DTE slots, CTE slots, the ITT area.
    for (let i = 0; i < 8; i++) {
      h.mem.write64(DT + 8 * i, SENTINEL);
      h.mem.write64(CT + 8 * i, SENTINEL);
    }
    for (let a = ITT(0); a < ITT(4); a += 8) h.mem.write64(a, SENTINEL);
    expect(h.save()).toBe(0);

    const expected = new Map<number, bigint>([
      // DTE 0: V | next 2 (to device 2) | ITT 0x4014_0000 >> 8 = 0x40_1400 at bit 5 | Size 1.
      [DT + 0, 0x8004_0000_0802_8001n],
      // DTE 2: last (next 0) | ITT 0x40_1402 | Size 4.
      [DT + 16, 0x8000_0000_0802_8044n],
      // ITT of device 0: EventID 3 -> LPI 8192 (0x2000), ICID 1, last.
      [ITT(0) + 3 * 8, 0x0000_0000_2000_0001n],
      // ITT of device 2: EventIDs 1, 7, 30 (MAPTI order 7, 1, 30: sorted on save).
      [ITT(2) + 1 * 8, 0x0006_0000_2001_0001n],
      [ITT(2) + 7 * 8, 0x0017_0000_2008_0003n],
      [ITT(2) + 30 * 8, 0x0000_0000_9abc_0009n],
      // CTEs in creation order: ICID 3 -> vCPU 1, ICID 1 -> vCPU 0, ICID 9 (made by MAPTI, unmapped).
      [CT + 0, 0x8000_0000_0001_0003n],
      [CT + 8, 0x8000_0000_0000_0001n],
      [CT + 16, 0x8000_ffff_ffff_0009n],
      // Terminator.
      [CT + 24, 0n],
    ]);
    const seen: [number, bigint][] = [];
    for (let i = 0; i < 8; i++) seen.push([DT + 8 * i, slot(h, DT + 8 * i)], [CT + 8 * i, slot(h, CT + 8 * i)]);
    for (let a = ITT(0); a < ITT(4); a += 8) seen.push([a, slot(h, a)]);
    for (const [gpa, v] of seen) expect([gpa.toString(16), v.toString(16)]).toEqual([gpa.toString(16), (expected.get(gpa) ?? SENTINEL).toString(16)]);
    // The uapi codecs read the same fields back.
    expect(u.unpackDte(slot(h, DT))).toEqual({ valid: true, next: 2, ittAddr: ITT(0), size: 1 });
    expect(u.unpackIte(slot(h, ITT(2) + 8))).toEqual({ next: 6, pintid: 8193, icid: 1 });
    expect(u.unpackCte(slot(h, CT + 16))).toEqual({ valid: true, rdbase: u.COLLECTION_NOT_MAPPED, icid: 9 });
    expect(h.locksFree()).toBe(true);
  });

  it('9.23 saving twice is byte-identical, and only the written pages are dirty-logged', () => {
    const h = smallConfig();
    h.mem.getDirtyLog(0);
    expect(h.save()).toBe(0);
    const log = h.mem.getDirtyLog(0);
    const dirtyPages: number[] = [];
    log.forEach((b, i) => { for (let k = 0; k < 8; k++) if (b & (1 << k)) dirtyPages.push(i * 8 + k); });
    const page = (gpa: number) => (gpa - HARNESS_RAM) >>> 12;
    expect(dirtyPages).toEqual([...new Set([page(DT), page(CT), page(ITT(0))])].sort((a, b) => a - b));
    const first = h.memoryImage();
    expect(h.save()).toBe(0);
    const second = h.memoryImage();
    expect(Buffer.compare(first, second)).toBe(0);
  });

  it('9.23 next caps: DeviceID gaps above 16383 are capped; the EventID gap 65535 (the largest 16 bits allow) is kept', () => {
    const h = new ItsHarness();
    const dt = SPARE; // 512 KiB flat table: DeviceIDs 0..65535
    const bigItt = SPARE + 0x8_0000; // 512 KiB: 65536 ITEs
    h.enable(0, { baser0: deviceBaser(dt, 7) });
    const small = (d: number) => SPARE + 0x10_0000 + 0x100 * (d % 4096);
    expect(h.run(0,
      C.mapc(0, 0),
      C.mapd(0, 16, bigItt), C.mapd(20000, 1, small(20000)), C.mapd(20001, 1, small(20001)),
      C.mapd(65535, 2, small(65535)),
      C.mapti(0, 0, 8192, 0), C.mapti(0, 65535, 8193, 0),
      C.mapti(65535, 3, 8194, 0),
    )).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(h.save()).toBe(0);
    expect(u.unpackDte(slot(h, dt))).toMatchObject({ valid: true, next: 16383 }); // gap 20000
    expect(u.unpackDte(slot(h, dt + 8 * 20000))).toMatchObject({ valid: true, next: 1 });
    expect(u.unpackDte(slot(h, dt + 8 * 20001))).toMatchObject({ valid: true, next: 16383 }); // gap 45534
    expect(u.unpackDte(slot(h, dt + 8 * 65535))).toMatchObject({ valid: true, next: 0 });
    expect(slot(h, dt + 8 * 16383)).toBe(0n); // the slot the cap lands on: nothing written there
    expect(u.unpackIte(slot(h, bigItt))).toEqual({ next: 65535, pintid: 8192, icid: 0 });
    expect(u.unpackIte(slot(h, bigItt + 8 * 65535))).toEqual({ next: 0, pintid: 8193, icid: 0 });
    // Restore walks the intermediate (zero) slots one at a time: 16383 -> 16384 -> ... -> 20000.
    const rt = roundTrip(h);
    expect(rt.restoreRet).toBe(0);
    expect(rt.after).toEqual(rt.before);
    expect(rt.before.devices.map((d) => d.deviceId)).toEqual([0, 20000, 20001, 65535]);
  });

  it('stale non-zero memory on a slot the capped next lands on is misread, literally (spec 5.3)', () => {
    const h = new ItsHarness();
    const dt = SPARE;
    h.enable(0, { baser0: deviceBaser(dt, 7) });
    expect(h.run(0, C.mapc(0, 0), C.mapd(0, 1, ITT(0)), C.mapd(20000, 1, ITT(1)), C.mapti(20000, 1, 8200, 0))).toEqual([0, 0, 0, 0]);
    expect(h.save()).toBe(0);
    // A stale valid DTE with next = 0 where DTE 0's capped next lands: a device appears and ends the scan.
    h.mem.write64(dt + 8 * 16383, dte(ITT(5), 1, 0));
    const dst = h.fresh();
    h.copyMemoryTo(dst);
    dst.enable(0, { enable: false, baser0: deviceBaser(dt, 7) });
    expect(dst.restore()).toBe(0);
    expect([...dst.its[0]!.tr.devices.keys()].sort((a, b) => a - b)).toEqual([0, 16383]);
    expect(dst.liveLpis()).toEqual([]);
  });

  it('a full collection table gets no terminator and restores (8192 collections in a 64 KiB table)', () => {
    const h = new ItsHarness();
    h.enable(0);
    h.mem.write64(CT + 0x1_0000, SENTINEL); // the first byte after the table
    for (let base = 0; base < 8192; base += 1024) {
      h.run(0, ...Array.from({ length: 1024 }, (_, i) => C.mapc(base + i, (base + i) % 4)));
      expect(h.lastResults.every((r) => r === 0)).toBe(true);
    }
    expect(h.save()).toBe(0);
    expect(slot(h, CT + 0xfff8)).toBe(cte(8191, 3));
    expect(slot(h, CT + 0x1_0000)).toBe(SENTINEL);
    const rt = roundTrip(h);
    expect(rt.restoreRet).toBe(0);
    expect(rt.after.collections).toEqual(rt.before.collections);
  });

  it('BASER Valid = 0: that table is skipped on save and on restore', () => {
    const h = smallConfig();
    const its = h.its[0]!;
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    // Clearing Valid frees the mappings of that table, so save with both valid first, then compare.
    expect(h.save()).toBe(0);
    const dst = h.fresh();
    h.copyMemoryTo(dst);
    dst.enable(0, { enable: false, baser0: deviceBaser(DT, 0, { valid: false }) });
    expect(dst.restore()).toBe(0);
    expect(dst.its[0]!.tr.devices.size).toBe(0);
    expect(dst.its[0]!.tr.collections.size).toBe(3);
    const dst2 = h.fresh();
    h.copyMemoryTo(dst2);
    dst2.enable(0, { enable: false, baser1: collectionBaser(CT, 0, { valid: false }) });
    // Devices restore, but their ITEs name collections that do not exist: -EINVAL, nothing kept.
    expect(dst2.restore()).toBe(EINVAL);
    expectNoMappings(dst2);
    // Save with BASER0 invalid writes no DTE or ITE.
    const h2 = smallConfig();
    h2.its[0]!.mmioWrite(u.GITS_CTLR, 4, 0n);
    for (let i = 0; i < 4; i++) h2.mem.write64(DT + 8 * i, SENTINEL);
    h2.mem.write64(ITT(0) + 24, SENTINEL);
    // Write BASER0 without Valid: that frees the devices, so there is nothing to save anyway;
    // the point is that the table is not touched.
    h2.its[0]!.mmioWrite(u.GITS_BASER, 8, deviceBaser(DT, 0, { valid: false }));
    expect(h2.save()).toBe(0);
    expect(slot(h2, DT)).toBe(SENTINEL);
    expect(slot(h2, ITT(0) + 24)).toBe(SENTINEL);
    expect(slot(h2, CT)).toBe(0x8000_0000_0001_0003n);
  });
});

describe('SAVE_TABLES errors', () => {
  it('a device whose DTE slot fails check_id (BASER0 shrunk after MAPD) is -EINVAL; earlier devices were written', () => {
    const h = new ItsHarness();
    h.enable(0, { baser0: deviceBaser(SPARE, 1) }); // 16384 DTEs
    expect(h.run(0, C.mapd(5, 1, ITT(5)), C.mapd(9000, 1, ITT(6)))).toEqual([0, 0]);
    const its = h.its[0]!;
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    its.mmioWrite(u.GITS_BASER, 8, deviceBaser(SPARE, 0)); // 8192 DTEs now
    expect(h.save()).toBe(EINVAL);
    expect(u.unpackDte(slot(h, SPARE + 8 * 5))).toMatchObject({ valid: true, next: 8995 });
  });

  it('a collection table outside guest memory is -EFAULT (device tables were saved before)', () => {
    const h = smallConfig();
    const its = h.its[0]!;
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    its.mmioWrite(u.GITS_BASER + 8, 8, collectionBaser(UNBACKED));
    expect(h.save()).toBe(EFAULT);
    expect(slot(h, DT)).toBe(0x8004_0000_0802_8001n);
  });

  it('more collections than slots (BASER1 shrunk after MAPC): written past the table, then -EFAULT at the end of RAM', () => {
    const h = new ItsHarness();
    h.enable(0, { baser1: collectionBaser(SPARE, 1) }); // 16384 slots
    for (let base = 0; base < 8193; base += 1024) {
      h.run(0, ...Array.from({ length: Math.min(1024, 8193 - base) }, (_, i) => C.mapc(base + i, 0)));
      expect(h.lastResults.every((r) => r === 0)).toBe(true);
    }
    const its = h.its[0]!;
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    its.mmioWrite(u.GITS_BASER + 8, 8, collectionBaser(SPARE, 0)); // 8192 slots, collections kept
    expect(its.tr.collections.size).toBe(8193);
    expect(h.save()).toBe(0);
    expect(slot(h, SPARE + 8 * 8192)).toBe(cte(8192, 0)); // past the table
    expect(slot(h, SPARE + 8 * 8193)).toBe(0n); // and the terminator after it
    its.mmioWrite(u.GITS_BASER + 8, 8, collectionBaser(RAM_END - 0x1_0000, 0));
    expect(h.save()).toBe(EFAULT);
    expect(slot(h, RAM_END - 8)).toBe(cte(8191, 0));
  });

  it('an ITE whose collection was removed (MAPC V=0) is -EINVAL: our defined outcome for the kernel NULL dereference', () => {
    const h = smallConfig();
    expect(h.run1(0, C.mapc(3, 0, false))).toBe(0);
    expect(h.its[0]!.snapshot().devices[1]!.ites[1]).toEqual({ eventId: 7, intid: 8200, icid: null });
    for (let i = 0; i < 4; i++) h.mem.write64(ITT(2) + 8 * i, SENTINEL);
    expect(h.save()).toBe(EINVAL);
    // Device 0 was saved completely; device 2's ITE 1 (before the bad one) was written.
    expect(slot(h, DT)).toBe(0x8004_0000_0802_8001n);
    expect(slot(h, ITT(2) + 8)).toBe(0x0006_0000_2001_0001n);
    expect(slot(h, ITT(2) + 7 * 8)).toBe(0n);
    expect(h.locksFree()).toBe(true);
  });
});

describe('SAVE_TABLES: an ITE without collection in an ITT written in one ascending pass', () => {
  it('-EINVAL at that ITE: the ITEs before it are written, the rest and the DTE are not', () => {
    const h = new ItsHarness();
    h.enable(0);
    expect(h.run(0,
      C.mapc(1, 0), C.mapc(5, 1), C.mapd(4, 4, ITT(4)),
      C.mapti(4, 0, 8192, 1), C.mapti(4, 2, 8193, 5), C.mapti(4, 9, 8194, 1), C.mapc(5, 0, false),
    )).toEqual([0, 0, 0, 0, 0, 0, 0]);
    for (const a of [ITT(4), ITT(4) + 16, ITT(4) + 72, DT + 32]) h.mem.write64(a, SENTINEL);
    expect(h.save()).toBe(EINVAL);
    expect(slot(h, ITT(4))).toBe(ite(8192, 1, 2));
    expect(slot(h, ITT(4) + 16)).toBe(SENTINEL);
    expect(slot(h, ITT(4) + 72)).toBe(SENTINEL);
    expect(slot(h, DT + 32)).toBe(SENTINEL);
    // The last ITE of an ascending ITT without collection.
    const g = new ItsHarness();
    g.enable(0);
    expect(g.run(0, C.mapc(1, 0), C.mapc(5, 1), C.mapd(4, 4, ITT(4)), C.mapti(4, 0, 8192, 1), C.mapti(4, 9, 8194, 5), C.mapc(5, 0, false)))
      .toEqual([0, 0, 0, 0, 0, 0]);
    expect(g.save()).toBe(EINVAL);
    expect(slot(g, ITT(4))).toBe(ite(8192, 1, 9));
    expect(slot(g, ITT(4) + 72)).toBe(0n);
  });
});

describe('RESTORE_TABLES (ABI 0)', () => {
  it('round trip of the small configuration into a fresh ITS: identical snapshot, same LPIs', () => {
    const h = smallConfig();
    const rt = roundTrip(h);
    expect(rt.saveRet).toBe(0);
    expect(rt.restoreRet).toBe(0);
    expect(rt.after).toEqual(rt.before);
    expect(rt.dst.liveLpis()).toEqual(h.liveLpis());
    for (const intid of h.liveLpis()) {
      const a = h.lpiState(intid)!, b = rt.dst.lpiState(intid)!;
      expect([intid, b.refs, b.target, b.priority, b.enabled]).toEqual([intid, a.refs, a.target, a.priority, a.enabled]);
    }
    expect(rt.dst.lpiState(0x9abc)!.target).toBe(-1); // unmapped collection 9: no target
    // MSIs work on the destination.
    expect(rt.dst.its[0]!.injectMsi(2, 7)).toBe(1);
    expect(rt.dst.locksFree()).toBe(true);
  });

  it('9.24 the collection table is restored before the device table', () => {
    // ITEs name ICID 4, which only the collection table defines: the device restore can only succeed second.
    const h = handDst();
    h.mem.write64(CT, cte(4, 2));
    h.mem.write64(DT, dte(ITT(0), 4, 0));
    h.mem.write64(ITT(0), ite(8300, 4, 0));
    expect(h.restore()).toBe(0);
    expect(h.its[0]!.snapshot().devices).toEqual([{ deviceId: 0, ittAddr: ITT(0), eventIdBits: 4, ites: [{ eventId: 0, intid: 8300, icid: 4 }] }]);
    expect(h.lpiState(8300)!.target).toBe(2);
    // With both tables bad, the collection table's error is the one reported.
    const g = handDst();
    g.mem.write64(CT, cte(4, 2));
    g.mem.write64(CT + 8, cte(4, 1));
    g.mem.write64(DT, dte(ITT(0), 4, 0));
    g.mem.write64(ITT(0), ite(5, 4, 0));
    expect(g.restore()).toBe(EEXIST);
    expectNoMappings(g);
  });

  it('collection list: V=0 ends it; an unmapped target (0xFFFF_FFFF) is restored; stops after one valid entry', () => {
    const h = handDst();
    h.mem.write64(CT, cte(7, u.COLLECTION_NOT_MAPPED));
    h.mem.write64(CT + 8, cte(2, 3));
    h.mem.write64(CT + 24, cte(9, 0)); // after the terminator at CT+16: never read
    expect(h.restore()).toBe(0);
    expect(h.its[0]!.snapshot().collections).toEqual([{ icid: 7, target: u.COLLECTION_NOT_MAPPED }, { icid: 2, target: 3 }]);
  });

  it('9.24 restore error paths: each errno, and no mappings and no LPI references left', () => {
    type Case = { name: string; errno: number; setup: (h: ItsHarness) => void; baser0?: bigint; baser1?: bigint };
    const cases: Case[] = [
      { name: 'duplicate ICID', errno: EEXIST, setup: (h) => { h.mem.write64(CT, cte(5, 0)); h.mem.write64(CT + 8, cte(5, 1)); } },
      { name: 'CTE target is no vCPU', errno: EINVAL, setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(CT + 8, cte(2, 4)); } },
      { name: 'CTE ICID beyond the collection table (check_id)', errno: EINVAL, setup: (h) => h.mem.write64(CT, cte(8192, 0)) },
      { name: 'collection table unreadable', errno: EFAULT, baser1: collectionBaser(UNBACKED), setup: () => {} },
      { name: 'device table unreadable', errno: EFAULT, baser0: deviceBaser(UNBACKED), setup: (h) => h.mem.write64(CT, cte(1, 0)) },
      {
        name: 'ITT unreadable', errno: EFAULT,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 1)); h.mem.write64(DT + 8, dte(UNBACKED, 2, 0)); h.mem.write64(ITT(0), ite(8192, 1, 0)); },
      },
      ...[1, 8191].map((p) => ({
        name: `pINTID ${p}`, errno: EINVAL,
        setup: (h: ItsHarness) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0), ite(8192, 1, 1)); h.mem.write64(ITT(0) + 8, ite(p, 1, 0)); },
      })),
      {
        name: 'pINTID beyond the 16-bit LPI space (model limit)', errno: EINVAL,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0), ite(0x1_0000, 1, 0)); },
      },
      {
        name: 'ITE names an unknown ICID', errno: EINVAL,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0), ite(8192, 1, 2)); h.mem.write64(ITT(0) + 16, ite(8193, 2, 0)); },
      },
      {
        name: 'ITE next beyond the ITT (eventid + next >= 2^bits)', errno: EINVAL,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0) + 16, ite(8192, 1, 2)); },
      },
      {
        name: 'ITE at the last EventID with next 1', errno: EINVAL,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0) + 24, ite(8192, 1, 1)); },
      },
      {
        name: 'DTE Size + 1 > 16 (our defined outcome)', errno: EINVAL,
        setup: (h) => { h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 17, 0)); },
      },
      {
        name: 'DTE for a DeviceID above 0xFFFF (check_id) in a flat table of 73728 entries', errno: EINVAL,
        baser0: deviceBaser(SPARE, 8),
        setup: (h) => { h.mem.write64(SPARE, dte(ITT(0), 1, 0x3fff)); h.mem.write64(SPARE + 8 * 65536, dte(ITT(1), 1, 0)); h.mem.write64(ITT(0), 0n); },
      },
      {
        name: 'property table unreadable (LPI creation fails)', errno: EFAULT,
        setup: (h) => {
          h.mem.write64(CT, cte(1, 0)); h.mem.write64(DT, dte(ITT(0), 2, 0)); h.mem.write64(ITT(0), ite(8192, 1, 0));
          h.st.setPropbaser(u.makeGicrPropbaser({ address: UNBACKED, idBits: 15 }));
        },
      },
      {
        name: 'second device bad after the first restored with LPIs', errno: EINVAL,
        setup: (h) => {
          h.mem.write64(CT, cte(1, 0));
          h.mem.write64(DT, dte(ITT(0), 2, 3));
          h.mem.write64(ITT(0), ite(8192, 1, 1)); h.mem.write64(ITT(0) + 8, ite(8193, 1, 0));
          h.mem.write64(DT + 24, dte(ITT(3), 2, 0));
          h.mem.write64(ITT(3), ite(8194, 1, 1)); h.mem.write64(ITT(3) + 8, ite(77, 1, 0));
        },
      },
    ];
    for (const c of cases) {
      const h = handDst({ ...(c.baser0 ? { baser0: c.baser0 } : {}), ...(c.baser1 ? { baser1: c.baser1 } : {}) });
      c.setup(h);
      expect([c.name, h.restore()]).toEqual([c.name, c.errno]);
      expectNoMappings(h);
    }
  });

  it('an ITE on an unmapped collection makes an LPI without a target; an ITT starting past EventID 0 is walked slot by slot', () => {
    const h = handDst();
    h.mem.write64(CT, cte(6, u.COLLECTION_NOT_MAPPED));
    h.mem.write64(DT + 8 * 3, dte(ITT(3), 8, 0));
    h.mem.write64(ITT(3) + 8 * 200, ite(9000, 6, 55));
    h.mem.write64(ITT(3) + 8 * 255, ite(9001, 6, 0));
    expect(h.restore()).toBe(0);
    expect(h.its[0]!.snapshot().devices[0]!.ites).toEqual([
      { eventId: 200, intid: 9000, icid: 6 }, { eventId: 255, intid: 9001, icid: 6 },
    ]);
    expect(h.lpiState(9000)!.target).toBe(-1);
  });

  it('restoring into an ITS that already has mappings: an existing ICID or DeviceID is -EEXIST and everything is freed', () => {
    const src = smallConfig();
    expect(src.save()).toBe(0);
    // Same ITS, mappings still there: the first CTE (ICID 3) already exists.
    expect(src.restore()).toBe(EEXIST);
    expectNoMappings(src);
    // Collections gone but devices present (BASER1 Valid=0 freed them): the first DTE collides.
    const h = smallConfig();
    expect(h.save()).toBe(0);
    const its = h.its[0]!;
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    its.mmioWrite(u.GITS_BASER + 8, 8, collectionBaser(CT, 0, { valid: false }));
    its.mmioWrite(u.GITS_BASER + 8, 8, collectionBaser(CT));
    expect(its.tr.collections.size).toBe(0);
    expect(its.tr.devices.size).toBe(2);
    expect(h.restore()).toBe(EEXIST);
    expectNoMappings(h);
  });

  it('9.25 two-level device table: invalid L1 entries skipped, L2 page i starts at DeviceID i*8192, round trip', () => {
    const h = new ItsHarness();
    const l1 = SPARE, page1 = SPARE + 0x1_0000, page3 = SPARE + 0x2_0000;
    writeL1Table(h.mem, l1, { 1: page1, 3: page3 });
    h.enable(0, { baser0: deviceBaser(l1, 0, { indirect: true }) });
    expect(h.run(0,
      C.mapc(0, 0), C.mapc(1, 1),
      C.mapd(8197, 3, ITT(1)), C.mapd(8292, 3, ITT(2)), C.mapd(3 * 8192 + 7, 3, ITT(3)),
      C.mapd(5, 3, ITT(4)), // L1 entry 0 is invalid: refused
      C.mapti(8197, 0, 8192, 0), C.mapti(8292, 7, 8193, 1), C.mapti(24583, 2, 8194, 1),
    )).toEqual([0, 0, 0, 0, 0, u.E_ITS_MAPD_DEVICE_OOR, 0, 0, 0]);
    expect(h.save()).toBe(0);
    expect(u.unpackDte(slot(h, page1 + 8 * 5))).toEqual({ valid: true, next: 95, ittAddr: ITT(1), size: 2 });
    expect(u.unpackDte(slot(h, page1 + 8 * 100))).toEqual({ valid: true, next: 16291, ittAddr: ITT(2), size: 2 });
    expect(u.unpackDte(slot(h, page3 + 8 * 7))).toEqual({ valid: true, next: 0, ittAddr: ITT(3), size: 2 });
    expect(slot(h, l1 + 8)).toBe(u.packL1e({ valid: true, l2Addr: page1 })); // the L1 table is not rewritten
    // DTE 8292's next runs off page 1: the scan goes on with L1 entry 2 (invalid), then page 3 from DeviceID 24576.
    const rt = roundTrip(h);
    expect(rt.restoreRet).toBe(0);
    expect(rt.after).toEqual(rt.before);
    expect(rt.after.devices.map((d) => d.deviceId)).toEqual([8197, 8292, 24583]);
  });

  it('9.25 a DTE with next = 0 ends the whole scan, including the later level-2 pages', () => {
    const h = handDst({ baser0: deviceBaser(SPARE, 0, { indirect: true }) });
    const page1 = SPARE + 0x1_0000, page2 = SPARE + 0x2_0000;
    writeL1Table(h.mem, SPARE, { 1: page1, 2: page2 });
    h.mem.write64(CT, cte(0, 0));
    h.mem.write64(page1 + 8 * 10, dte(ITT(1), 2, 0)); // last
    h.mem.write64(page2 + 8 * 3, dte(ITT(2), 2, 0)); // never reached
    h.mem.write64(ITT(2), ite(5, 0, 0)); // would be -EINVAL if it were
    expect(h.restore()).toBe(0);
    expect([...h.its[0]!.tr.devices.keys()]).toEqual([8192 + 10]);
    // Whereas a DTE whose next runs off its page lets the next L1 entry be scanned.
    const g = handDst({ baser0: deviceBaser(SPARE, 0, { indirect: true }) });
    writeL1Table(g.mem, SPARE, { 1: page1, 2: page2 });
    g.mem.write64(CT, cte(0, 0));
    g.mem.write64(page1 + 8 * 8190, dte(ITT(1), 2, 5));
    g.mem.write64(page2 + 8 * 3, dte(ITT(2), 2, 0));
    expect(g.restore()).toBe(0);
    expect([...g.its[0]!.tr.devices.keys()]).toEqual([8192 + 8190, 16384 + 3]);
    // An error inside a level-2 page propagates and frees everything.
    g.reset();
    g.enable(0, { enable: false, baser0: deviceBaser(SPARE, 0, { indirect: true }) });
    g.mem.write64(ITT(2), ite(5, 0, 0));
    expect(g.restore()).toBe(EINVAL);
    expectNoMappings(g);
  });

  it('9.26 restoring LPIs consumes their bits in the target vCPUs\' pending tables and makes them pending', () => {
    const src = new ItsHarness();
    src.enable(0);
    expect(src.run(0,
      C.mapc(1, 1), C.mapc(2, 2), C.mapd(1, 4, ITT(1)),
      C.mapti(1, 0, 8192, 1), C.mapti(1, 1, 8193, 2), C.mapti(1, 2, 8194, 7 /* unmapped */), C.mapti(1, 3, 8200, 1),
    )).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(src.save()).toBe(0);
    // What SAVE_PENDING_TABLES would have left: bits for 8192 (vCPU 1), 8193 (vCPU 2); 8194 has no target.
    src.setPendingBit(1, 8192, true);
    src.setPendingBit(2, 8193, true);
    for (let v = 0; v < 4; v++) src.setPendingBit(v, 8194, true);
    src.setPendingBit(1, 8201, true); // no ITE for it
    src.setPendingBit(1, 100, true); // the first KiB
    const dst = src.fresh();
    src.copyMemoryTo(dst);
    dst.enable(0, { enable: false });
    expect(dst.restore()).toBe(0);
    expect(dst.lpiState(8192)).toMatchObject({ target: 1, pending: true });
    expect(dst.lpiState(8193)).toMatchObject({ target: 2, pending: true });
    expect(dst.lpiState(8194)).toMatchObject({ target: -1, pending: false });
    expect(dst.lpiState(8200)).toMatchObject({ target: 1, pending: false });
    expect(dst.pendingBit(1, 8192)).toBe(false);
    expect(dst.pendingBit(2, 8193)).toBe(false);
    for (let v = 0; v < 4; v++) expect(dst.pendingBit(v, 8194)).toBe(true);
    expect(dst.pendingBit(1, 8201)).toBe(true);
    expect(dst.pendingBit(1, 100)).toBe(true);
    // Pending and enabled with a target: queued on that vCPU's ap_list and acknowledged there.
    expect(dst.vgic.ack(1)).toBe(8192);
    expect(dst.vgic.ack(2)).toBe(8193);
  });
});

describe('CTRL_RESET', () => {
  it('9.33 reset keeps the ABI revision and BASER type/entry size/address/Indirect, clears Valid, zeroes CBASER/CREADR/CWRITER', () => {
    const h = new ItsHarness();
    const l1 = SPARE;
    writeL1Table(h.mem, l1, { 0: SPARE + 0x1_0000 });
    h.enable(0, { baser0: deviceBaser(l1, 2, { indirect: true }), baser1: collectionBaser(CT, 1) });
    expect(h.run(0, C.mapc(1, 1), C.mapd(3, 4, ITT(3)), C.mapti(3, 0, 8192, 1), C.mapti(3, 1, 8193, 5))).toEqual([0, 0, 0, 0]);
    const its = h.its[0]!;
    expect(its.injectMsi(3, 0)).toBe(1);
    expect(h.cache.size(0)).toBe(1);
    const before = its.snapshot();
    const iidr = its.uaccessRead(u.GITS_IIDR).value;
    const typer = its.uaccessRead(u.GITS_TYPER).value;
    h.reset();
    const s = its.snapshot();
    expect(s.baser[0]).toBe(before.baser[0] & ~u.GITS_BASER_VALID);
    expect(s.baser[1]).toBe(before.baser[1] & ~u.GITS_BASER_VALID);
    expect(u.gitsBaserIndirect(s.baser[0])).toBe(true);
    expect(u.gitsBaserEntrySize(s.baser[0])).toBe(8);
    expect(u.gitsBaserType(s.baser[1])).toBe(u.GITS_BASER_TYPE_COLLECTION);
    expect(u.gitsBaserAddress(s.baser[0])).toBe(l1);
    expect(u.gitsBaserSize(s.baser[1])).toBe(1);
    expect(s).toMatchObject({ enabled: false, cbaser: 0n, creadr: 0, cwriter: 0, abiRev: before.abiRev, devices: [], collections: [] });
    expect(its.uaccessRead(u.GITS_CTLR)).toEqual({ ret: 0, value: BigInt(u.GITS_CTLR_QUIESCENT) });
    expect(its.uaccessRead(u.GITS_IIDR).value).toBe(iidr);
    expect(its.uaccessRead(u.GITS_TYPER).value).toBe(typer);
    expect(Atomics.load(h.st.i32, h.st.its(0) + I_ENABLED)).toBe(0);
    expect(h.cache.size(0)).toBe(0);
    expect(h.liveLpis()).toEqual([]);
    expect(its.injectMsi(3, 0)).toBe(-u.EBUSY);
    // Enabling needs valid tables and queue again.
    its.mmioWrite(u.GITS_CTLR, 4, 1n);
    expect(its.enabled).toBe(false);
    h.enable(0);
    expect(its.enabled).toBe(true);
    expect(its.cbaser).toBe(u.makeGitsCbaser({ valid: true, address: harnessCmdQueue(0), size: 15 }));
    expect(h.locksFree()).toBe(true);
  });
});
