/**
 * The per-device ITE store (ItsIteStore: typed arrays kept in ascending
 * EventID order) and what SAVE_TABLES writes from it. fast-check, seeded:
 *   - the store against a Map model under random add / delete / ICID
 *     changes / clear: EventID order, contents, lookups, bounded capacity;
 *   - an ITS under random MAPTI / MAPI / DISCARD / MOVI / MAPC (V=1 and V=0)
 *     sequences against a model of the ITEs and collections: the store, the
 *     LPI references, and SAVE_TABLES' ITT bytes and dirty log (exactly the
 *     pages written; an ITE whose collection was removed stops the save
 *     there, the ITEs before it written);
 *   - ITT runs that do not lie in one memslot (two adjacent slots, a hole)
 *     are written entry by entry: same bytes, exact dirty pages in each slot;
 *     RESTORE_TABLES reads them back (its per-slot EventID check included);
 *   - a big ITT filled out of order survives a round trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  collectionBaser, deviceBaser, HARNESS_RAM, harnessCollectionTable, harnessDeviceTable, ItsHarness, itsCmd as C, roundTrip,
} from './helpers/its-harness.js';
import type { ItsCommand } from '../dist/src/uapi/its-cmd.js';
import { ItsIteStore } from '../dist/src/vgic/its/its-ite-store.js';
import * as u from '../dist/src/uapi/index.js';

const SEED = 0x17e_5702;
const PAGE = 4096;

interface ModelIte { icid: number | null; intid: number }

function sortedEntries(m: Map<number, ModelIte>): [number, ModelIte][] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

function expectStoreIs(s: ItsIteStore, m: Map<number, ModelIte>): void {
  const want = sortedEntries(m);
  expect(s.size).toBe(m.size);
  expect([...s.keys()]).toEqual(want.map(([ev]) => ev));
  expect([...s]).toEqual(want);
  expect([...s.values()]).toEqual(want.map(([, ite]) => ite));
  for (let i = 0; i < s.size; i++) {
    expect(s.indexOf(want[i]![0])).toBe(i);
    expect([s.eventIdAt(i), s.icidAt(i), s.intidAt(i)]).toEqual([want[i]![0], want[i]![1].icid, want[i]![1].intid]);
  }
  // Memory stays proportional to the ITEs.
  expect(s.eventIds.length).toBeLessThanOrEqual(Math.max(8, 4 * s.size));
}

describe('ItsIteStore', () => {
  type StoreOp =
    | { op: 'add'; ev: number; icid: number | null; intid: number }
    | { op: 'delete'; ev: number }
    | { op: 'setIcid'; pick: number; icid: number | null }
    | { op: 'clear' };
  // EventIDs from a small range (collisions, inserts in the middle) or anywhere in 16 bits.
  const evArb = fc.oneof({ weight: 4, arbitrary: fc.nat(300) }, { weight: 1, arbitrary: fc.nat(65535) });
  const icidArb = fc.oneof({ weight: 5, arbitrary: fc.nat(0xffff) }, { weight: 1, arbitrary: fc.constant(null) });
  const opArb: fc.Arbitrary<StoreOp> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), ev: evArb, icid: icidArb, intid: fc.integer({ min: 8192, max: 65535 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), ev: evArb }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('setIcid' as const), pick: fc.nat(), icid: icidArb }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );
  // Runs of ascending adds (as restore and in-order MAPTIs do) then removals down to a few (shrinking).
  const bulkArb = fc.record({ from: fc.nat(1000), count: fc.integer({ min: 1, max: 600 }), keep: fc.nat(20) });

  it('random add / delete / ICID changes / clear: EventID order, contents and lookups as a Map', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 300 }), fc.option(bulkArb), (ops, bulk) => {
      const s = new ItsIteStore();
      const m = new Map<number, ModelIte>();
      if (bulk !== null) {
        for (let i = 0; i < bulk.count; i++) {
          s.add(bulk.from + i, i % 7, 8192 + i);
          m.set(bulk.from + i, { icid: i % 7, intid: 8192 + i });
        }
        expectStoreIs(s, m);
        for (let i = bulk.keep; i < bulk.count; i++) {
          expect(s.delete(bulk.from + i)).toBe(true);
          m.delete(bulk.from + i);
        }
        expectStoreIs(s, m);
      }
      for (const o of ops) {
        switch (o.op) {
          case 'add':
            if (m.has(o.ev)) {
              expect(() => s.add(o.ev, o.icid, o.intid)).toThrow(RangeError);
            } else {
              s.add(o.ev, o.icid, o.intid);
              m.set(o.ev, { icid: o.icid, intid: o.intid });
            }
            break;
          case 'delete':
            expect(s.delete(o.ev)).toBe(m.delete(o.ev));
            break;
          case 'setIcid': {
            if (m.size === 0) break;
            const i = o.pick % m.size;
            const ev = sortedEntries(m)[i]![0];
            s.setIcidAt(i, o.icid);
            m.set(ev, { ...m.get(ev)!, icid: o.icid });
            break;
          }
          case 'clear':
            s.clear();
            m.clear();
            break;
        }
        expect(s.size).toBe(m.size);
        const probe = 'ev' in o ? o.ev : 0;
        expect(s.has(probe)).toBe(m.has(probe));
        expect(s.get(probe)).toEqual(m.get(probe));
      }
      expectStoreIs(s, m);
    }), { seed: SEED, numRuns: 150 });
  });

  it('lookups of values that are no EventID find nothing; a returned ITE is a copy', () => {
    const s = new ItsIteStore();
    for (const ev of [0, 1, 5, 65535]) s.add(ev, 3, 8192 + ev);
    for (const bad of [NaN, -1, 0.5, 1.5, 65536, 2 ** 32, 2 ** 32 + 1, Infinity, -Infinity]) {
      expect(s.has(bad)).toBe(false);
      expect(s.get(bad)).toBeUndefined();
      expect(s.indexOf(bad)).toBeLessThan(0);
    }
    expect(s.get(-0)).toEqual({ icid: 3, intid: 8192 }); // as Map.get(-0)
    const ite = s.get(5) as { icid: number | null };
    ite.icid = 9;
    expect(s.get(5)).toEqual({ icid: 3, intid: 8197 });
  });
});

// ---- an ITS under random command sequences ------------------------------------------------------

/** 8 MiB of RAM: the harness layout for one ITS, then the ITT of the device below. */
const MEMORY = [{ gpa: HARNESS_RAM, size: 0x80_0000 }];
const DEV = 7;
const BITS = 14; // 16384 events (MAPI needs EventIDs >= 8192): a 128 KiB ITT, 32 pages
const ITT = HARNESS_RAM + 0x40_0000;
const ITT_BYTES = 2 ** BITS * 8;
const DT = harnessDeviceTable(0);
const CT = harnessCollectionTable(0);
const VCPUS = 4;
const NOT_MAPPED = u.COLLECTION_NOT_MAPPED;

type Cmd =
  | { op: 'mapti'; ev: number; intid: number; icid: number }
  | { op: 'mapi'; ev: number; icid: number }
  | { op: 'discard' | 'int'; ev: number }
  | { op: 'movi'; ev: number; icid: number }
  | { op: 'mapc'; icid: number; vcpu: number }
  | { op: 'unmapc'; icid: number };

/** EventIDs clustered (several per ITT page, pages skipped) or anywhere in the device's range. */
const cmdEvArb = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.nat(31), fc.nat(40)).map(([page, k]) => page * 512 + k * 7) },
  { weight: 1, arbitrary: fc.nat(2 ** BITS - 1) },
  { weight: 1, arbitrary: fc.integer({ min: 8192, max: 8192 + 60 }) },
);
const cmdIcidArb = fc.nat(5); // 0..3 mapped at the start; 4, 5 made unmapped by MAPTI
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('mapti' as const), ev: cmdEvArb, intid: fc.integer({ min: 8192, max: 8192 + 150 }), icid: cmdIcidArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mapi' as const), ev: cmdEvArb, icid: cmdIcidArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('discard' as const), ev: cmdEvArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('int' as const), ev: cmdEvArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('movi' as const), ev: cmdEvArb, icid: cmdIcidArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mapc' as const), icid: cmdIcidArb, vcpu: fc.nat(VCPUS - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unmapc' as const), icid: cmdIcidArb }) },
);

/** The ITS's ITEs and collections as the commands should leave them; each command's expected success. */
class Model {
  readonly ites = new Map<number, ModelIte>();
  readonly collections = new Map<number, number>();

  constructor() {
    for (let c = 0; c < VCPUS; c++) this.collections.set(c, c);
  }

  private mapped(icid: number | null): boolean {
    if (icid === null) return false;
    const t = this.collections.get(icid);
    return t !== undefined && t !== NOT_MAPPED;
  }

  /** Apply `c`; true if the ITS should report success (0). */
  apply(c: Cmd): boolean {
    switch (c.op) {
      case 'mapti':
      case 'mapi': {
        const intid = c.op === 'mapi' ? c.ev : c.intid;
        if (intid < 8192) return false;
        if (this.ites.has(c.ev)) return true; // KVM keeps the old ITE
        if (!this.collections.has(c.icid)) this.collections.set(c.icid, NOT_MAPPED);
        this.ites.set(c.ev, { icid: c.icid, intid });
        return true;
      }
      case 'discard': {
        const ite = this.ites.get(c.ev);
        if (ite === undefined || !this.mapped(ite.icid)) return false;
        this.ites.delete(c.ev);
        return true;
      }
      case 'int': {
        const ite = this.ites.get(c.ev);
        return ite !== undefined && this.mapped(ite.icid);
      }
      case 'movi': {
        const ite = this.ites.get(c.ev);
        if (ite === undefined || !this.mapped(ite.icid) || !this.mapped(c.icid)) return false;
        ite.icid = c.icid;
        return true;
      }
      case 'mapc':
        this.collections.set(c.icid, c.vcpu);
        return true;
      case 'unmapc':
        if (this.collections.delete(c.icid)) for (const ite of this.ites.values()) if (ite.icid === c.icid) ite.icid = null;
        return true;
    }
  }
}

function toCommand(c: Cmd): ItsCommand {
  switch (c.op) {
    case 'mapti': return C.mapti(DEV, c.ev, c.intid, c.icid);
    case 'mapi': return C.mapi(DEV, c.ev, c.icid);
    case 'discard': return C.discard(DEV, c.ev);
    case 'int': return C.int(DEV, c.ev);
    case 'movi': return C.movi(DEV, c.ev, c.icid);
    case 'mapc': return C.mapc(c.icid, c.vcpu);
    case 'unmapc': return C.mapc(c.icid, 0, false);
  }
}

function dirtyPages(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  bitmap.forEach((b, i) => { for (let k = 0; k < 8; k++) if (b & (1 << k)) out.push(i * 8 + k); });
  return out;
}

const SENTINEL = 0xa5;

describe('ITEs under random MAPTI / MAPI / DISCARD / MOVI / MAPC sequences (fast-check)', () => {
  it('the store follows the model; SAVE_TABLES writes exactly its ITT and dirty-logs exactly the pages written', () => {
    const stats = { saved: 0, stopped: 0, middleInserts: 0, ites: 0 };
    // Half the runs never remove a collection: those save to the end.
    fc.assert(fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 200, size: 'large' }), fc.boolean(), (all, unmaps) => {
      const cmds = unmaps ? all : all.filter((c) => c.op !== 'unmapc');
      const h = new ItsHarness({ memory: MEMORY, nrVcpus: VCPUS });
      h.enable(0);
      const its = h.its[0]!;
      const setup = [C.mapd(DEV, BITS, ITT)];
      for (let c = 0; c < VCPUS; c++) setup.push(C.mapc(c, c));
      expect(h.run(0, ...setup)).toEqual(setup.map(() => 0));
      const m = new Model();
      let maxEv = -1;
      for (const c of cmds) {
        const ok = m.apply(c);
        const r = h.run1(0, toCommand(c));
        // 0 exactly when the model says so (INT: LPIs are enabled on every vCPU, so never -EBUSY).
        expect([c, r === 0]).toEqual([c, ok]);
        if (ok && (c.op === 'mapti' || c.op === 'mapi')) {
          if (c.ev < maxEv) stats.middleInserts++;
          maxEv = Math.max(maxEv, c.ev);
        }
      }
      const dev = its.tr.devices.get(DEV)!;
      expectStoreIs(dev.ites, m.ites);
      for (const [ev, ite] of m.ites) expect(its.tr.findIte(DEV, ev)).toEqual(ite);
      expect([...its.tr.collections.entries()].sort((a, b) => a[0] - b[0]))
        .toEqual([...m.collections.entries()].sort((a, b) => a[0] - b[0]));
      // Every ITE holds one reference on its LPI.
      const uses = new Map<number, number>();
      for (const ite of m.ites.values()) uses.set(ite.intid, (uses.get(ite.intid) ?? 0) + 1);
      expect(h.liveLpis()).toEqual([...uses.keys()].sort((a, b) => a - b));
      for (const [intid, n] of uses) expect(h.lpiRefs(intid)).toBe(n);
      stats.ites += m.ites.size;

      // SAVE_TABLES over a sentinel-filled ITT, the dirty log emptied first.
      h.mem.write(ITT, new Uint8Array(ITT_BYTES).fill(SENTINEL));
      h.mem.getDirtyLog(0);
      const entries = sortedEntries(m.ites);
      const stop = entries.findIndex(([, ite]) => ite.icid === null);
      const want = Buffer.alloc(ITT_BYTES, SENTINEL);
      const pages = new Set<number>();
      const written = stop < 0 ? entries.length : stop;
      for (let i = 0; i < written; i++) {
        const [ev, ite] = entries[i]!;
        const next = i + 1 < entries.length ? Math.min(entries[i + 1]![0] - ev, 0xffff) : 0;
        want.writeBigUInt64LE(u.packIte({ next, pintid: ite.intid, icid: ite.icid! }), ev * 8);
        pages.add((ITT + ev * 8 - HARNESS_RAM) / PAGE >>> 0);
      }
      if (stop < 0) {
        expect(h.save()).toBe(0);
        pages.add((DT + DEV * 8 - HARNESS_RAM) / PAGE >>> 0);
        pages.add((CT - HARNESS_RAM) / PAGE >>> 0); // the CTEs and the terminator: one page
        stats.saved++;
      } else {
        expect(h.save()).toBe(-u.EINVAL); // the spec 5.2 hazard: stops at that ITE
        stats.stopped++;
      }
      expect(Buffer.from(h.memoryImage(ITT, ITT_BYTES)).equals(want)).toBe(true);
      expect(dirtyPages(h.mem.getDirtyLog(0))).toEqual([...pages].sort((a, b) => a - b));
      expect(h.locksFree()).toBe(true);
    }), { seed: SEED, numRuns: 60 });
    // The generator reaches what the property is about.
    expect(stats.saved).toBeGreaterThan(15);
    expect(stats.stopped).toBeGreaterThan(15);
    expect(stats.middleInserts).toBeGreaterThan(500);
    expect(stats.ites).toBeGreaterThan(1000);
  });
});

// ---- ITT runs outside one memslot ------------------------------------------------------------------

describe('SAVE_TABLES of an ITT not in one memslot', () => {
  const SLOT0 = 0x100_0000; // 16 MiB
  const cases = [
    { name: 'two adjacent memslots', second: HARNESS_RAM + SLOT0 },
    { name: 'two memslots with a 64 KiB hole between them', second: HARNESS_RAM + SLOT0 + 0x1_0000 },
  ];
  for (const { name, second } of cases) {
    it(`${name}: entry by entry, same bytes, exactly the pages written in each slot`, () => {
      const h = new ItsHarness({ memory: [{ gpa: HARNESS_RAM, size: SLOT0 }, { gpa: second, size: 0x10_0000 }] });
      h.enable(0, { baser0: deviceBaser(DT), baser1: collectionBaser(CT) });
      const itt = HARNESS_RAM + SLOT0 - 0x4000; // 16 KiB before the end of slot 0; 128 KiB ITT
      const end0 = 0x4000 / 8; // EventIDs below this lie in slot 0
      const inSecond = (second - itt) / 8; // the first EventID in slot 1
      const evs = [0, 1, 600, end0 - 1, inSecond, inSecond + 1, inSecond + 1500, 2 ** BITS - 1];
      const cmds = [C.mapc(0, 0), C.mapd(DEV, BITS, itt), ...evs.map((ev, i) => C.mapti(DEV, ev, 8192 + i, 0))];
      expect(h.run(0, ...cmds)).toEqual(cmds.map(() => 0));
      h.mem.getDirtyLog(0);
      h.mem.getDirtyLog(1);
      expect(h.save()).toBe(0);
      evs.forEach((ev, i) => {
        const next = i + 1 < evs.length ? Math.min(evs[i + 1]! - ev, 0xffff) : 0;
        expect(u.unpackIte(h.mem.read64(itt + ev * 8))).toEqual({ next, pintid: 8192 + i, icid: 0 });
      });
      const pageIn = (base: number, gpa: number) => Math.floor((gpa - base) / PAGE);
      const slot0 = new Set([pageIn(HARNESS_RAM, DT + DEV * 8), pageIn(HARNESS_RAM, CT)]);
      const slot1 = new Set<number>();
      for (const ev of evs) {
        const gpa = itt + ev * 8;
        if (gpa < HARNESS_RAM + SLOT0) slot0.add(pageIn(HARNESS_RAM, gpa));
        else slot1.add(pageIn(second, gpa));
      }
      expect(dirtyPages(h.mem.getDirtyLog(0))).toEqual([...slot0].sort((a, b) => a - b));
      expect(dirtyPages(h.mem.getDirtyLog(1))).toEqual([...slot1].sort((a, b) => a - b));
      // RESTORE_TABLES into a fresh ITS with the same memory reads them all back.
      const rt = roundTrip(h);
      expect([rt.saveRet, rt.restoreRet]).toEqual([0, 0]);
      expect(rt.after).toEqual(rt.before);
      expect([...rt.dst.its[0]!.tr.devices.get(DEV)!.ites.keys()]).toEqual(evs);
    });
  }
});

describe('a big ITT filled out of order', () => {
  it('3000 ITEs mapped in a scrambled EventID order: the store is in EventID order, and survives a round trip', () => {
    const h = new ItsHarness({ memory: MEMORY, nrVcpus: VCPUS });
    h.enable(0);
    expect(h.run(0, C.mapc(0, 0), C.mapc(1, 1), C.mapd(DEV, BITS, ITT))).toEqual([0, 0, 0]);
    const evs = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 2 ** BITS); // distinct: 7919 is prime
    for (let at = 0; at < evs.length; at += 1000) {
      const cmds = evs.slice(at, at + 1000).map((ev, i) => C.mapti(DEV, ev, 8192 + ((at + i) % 3000), (at + i) % 2));
      expect(h.run(0, ...cmds).every((r) => r === 0)).toBe(true);
    }
    const sorted = [...evs].sort((a, b) => a - b);
    expect([...h.its[0]!.tr.devices.get(DEV)!.ites.keys()]).toEqual(sorted);
    const rt = roundTrip(h);
    expect([rt.saveRet, rt.restoreRet]).toEqual([0, 0]);
    expect(rt.after).toEqual(rt.before);
    expect(rt.after.devices[0]!.ites).toHaveLength(3000);
    expect(rt.dst.liveLpis()).toEqual(h.liveLpis());
  });
});
