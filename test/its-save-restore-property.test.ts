/**
 * Property-based save/restore (fast-check, seeded): random ITS configurations
 * built through real commands (sparse DeviceIDs with gaps beyond the DTE
 * `next` cap, sparse EventIDs up to the 16-bit limit, collections mapped and
 * unmapped, removed ones, flat and two-level device tables) -> SAVE_TABLES
 * -> guest RAM copied -> documented restore sequence into a fresh ITS ->
 * equivalent ITS and LPI state; saving twice, and saving the restored ITS,
 * write the same bytes. Then the same tables with random bytes mutated:
 * restore never throws, returns only 0 or the spec's errnos, and a failure
 * leaves no mappings and no LPI references.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  collectionBaser, deviceBaser, HARNESS_RAM, harnessCollectionTable, ItsHarness, itsCmd as C, roundTrip, writeL1Table,
  type RoundTrip,
} from './helpers/its-harness.js';
import type { ItsCommand } from '../dist/src/uapi/its-cmd.js';
import type { ItsSnapshot } from '../dist/src/vgic/its/its.js';
import * as u from '../dist/src/uapi/index.js';

const SEED = 0x5eed_2017;
const RUNS = 100;
/** 8 MiB of RAM (the harness layout plus the areas below): cheaper to copy than the default 16. */
const MEMORY = [{ gpa: HARNESS_RAM, size: 0x80_0000 }];

const DT = HARNESS_RAM + 0x40_0000; // flat table (up to 512 KiB) or the level-1 table
const L2 = (i: number): number => HARNESS_RAM + 0x48_0000 + 0x1_0000 * i; // level-2 pages 0..7
const CT = harnessCollectionTable(0); // 64 KiB: ICIDs 0..8191
const ITT_BASE = HARNESS_RAM + 0x50_0000; // ITTs: bump-allocated, at most 6 x 512 KiB up to the end of RAM

interface DevCfg {
  id: number;
  bits: number;
  events: { ev: number; pintid: number; icid: number }[];
}
type Op =
  | { op: 'discard' | 'unmapd' | 'remapd'; dev: number; ev: number }
  | { op: 'movi'; dev: number; ev: number; icid: number }
  | { op: 'mapc' | 'unmapc'; icid: number; vcpu: number }
  | { op: 'movall'; from: number; to: number };
interface Cfg {
  indirect: boolean;
  flatSize: number;
  /** Level-1 entries made valid besides those the devices need. */
  extraPages: number;
  /** A level-1 page withheld (MAPD refused there), or -1. */
  dropPage: number;
  collections: { icid: number; vcpu: number }[];
  devices: DevCfg[];
  ops: Op[];
}

const icidArb = fc.oneof({ weight: 6, arbitrary: fc.nat(11) }, { weight: 1, arbitrary: fc.constant(8191) });
const devIdArb = fc.oneof(
  fc.constantFrom(0, 1, 8191, 8192, 16383, 16384, 20000, 24583, 32768, 40000, 57343, 65535),
  fc.nat(65535),
);
const bitsArb = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(16), fc.integer({ min: 1, max: 16 }));
const evArb = fc.oneof(fc.constant(0), fc.constant(-1) /* the last EventID */, fc.nat(65535));
const devArb: fc.Arbitrary<DevCfg> = fc.record({
  id: devIdArb,
  bits: bitsArb,
  events: fc.array(fc.record({ ev: evArb, pintid: fc.integer({ min: 8192, max: 8192 + 63 }), icid: icidArb }), { maxLength: 6 }),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('discard' as const, 'unmapd' as const, 'remapd' as const), dev: fc.nat(7), ev: fc.nat(7) }),
  fc.record({ op: fc.constant('movi' as const), dev: fc.nat(7), ev: fc.nat(7), icid: icidArb }),
  fc.record({ op: fc.constantFrom('mapc' as const, 'unmapc' as const), icid: icidArb, vcpu: fc.nat(3) }),
  fc.record({ op: fc.constant('movall' as const), from: fc.nat(3), to: fc.nat(3) }),
);
const cfgArb: fc.Arbitrary<Cfg> = fc.record({
  indirect: fc.boolean(),
  flatSize: fc.constantFrom(0, 2, 7),
  extraPages: fc.nat(255),
  dropPage: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(7) }),
  collections: fc.array(fc.record({ icid: icidArb, vcpu: fc.nat(3) }), { maxLength: 6 }),
  devices: fc.uniqueArray(devArb, { selector: (d) => d.id, maxLength: 6 }),
  ops: fc.array(opArb, { maxLength: 5 }),
});

interface Built {
  h: ItsHarness;
  /** Where save writes each entry, for the mutation property. */
  slots: number[];
  /** End of the ITT area used. */
  ittEnd: number;
}

function build(cfg: Cfg): Built {
  const h = new ItsHarness({ memory: MEMORY });
  let baser0: bigint;
  if (cfg.indirect) {
    let mask = cfg.extraPages;
    for (const d of cfg.devices) mask |= 1 << (d.id >>> 13);
    if (cfg.dropPage >= 0) mask &= ~(1 << cfg.dropPage);
    const pages: Record<number, number> = {};
    for (let i = 0; i < 8; i++) if (mask & (1 << i)) pages[i] = L2(i);
    writeL1Table(h.mem, DT, pages);
    baser0 = deviceBaser(DT, 0, { indirect: true });
  } else {
    baser0 = deviceBaser(DT, cfg.flatSize);
  }
  h.enable(0, { baser0, baser1: collectionBaser(CT, 0) });
  const cmds: ItsCommand[] = cfg.collections.map((c) => C.mapc(c.icid, c.vcpu));
  let itt = ITT_BASE;
  const devs = cfg.devices.map((d) => {
    const at = itt;
    itt += Math.max(256, 2 ** d.bits * 8);
    const events = d.events.map((e) => ({ ...e, ev: e.ev < 0 ? 2 ** d.bits - 1 : e.ev % 2 ** d.bits }));
    return { ...d, events, itt: at };
  });
  for (const d of devs) {
    cmds.push(C.mapd(d.id, d.bits, d.itt));
    for (const e of d.events) cmds.push(C.mapti(d.id, e.ev, e.pintid, e.icid));
  }
  for (const o of cfg.ops) {
    const d = devs.length > 0 ? devs[o.op === 'mapc' || o.op === 'unmapc' || o.op === 'movall' ? 0 : o.dev % devs.length]! : undefined;
    const ev = d && d.events.length > 0 && 'ev' in o ? d.events[o.ev % d.events.length]!.ev : 0;
    switch (o.op) {
      case 'discard': if (d) cmds.push(C.discard(d.id, ev)); break;
      case 'unmapd': if (d) cmds.push(C.mapd(d.id, d.bits, d.itt, false)); break;
      case 'remapd': if (d) cmds.push(C.mapd(d.id, d.bits, d.itt)); break;
      case 'movi': if (d) cmds.push(C.movi(d.id, ev, o.icid)); break;
      case 'mapc': cmds.push(C.mapc(o.icid, o.vcpu)); break;
      case 'unmapc': cmds.push(C.mapc(o.icid, o.vcpu, false)); break;
      case 'movall': cmds.push(C.movall(o.from, o.to)); break;
    }
  }
  h.run(0, ...cmds);
  return { h, slots: entrySlots(h.its[0]!.snapshot(), cfg.indirect), ittEnd: itt };
}

function entrySlots(s: ItsSnapshot, indirect: boolean): number[] {
  const out: number[] = [];
  for (const d of s.devices) {
    out.push(indirect ? L2(d.deviceId >>> 13) + 8 * (d.deviceId & 8191) : DT + 8 * d.deviceId);
    for (const e of d.ites) out.push(d.ittAddr + 8 * e.eventId);
  }
  for (let i = 0; i <= s.collections.length; i++) out.push(CT + 8 * i);
  if (indirect) for (let i = 0; i < 8; i++) out.push(DT + 8 * i);
  return out;
}

function hasRemovedCollection(s: ItsSnapshot): boolean {
  return s.devices.some((d) => d.ites.some((e) => e.icid === null));
}

/** Every live LPI is referenced exactly by the ITEs of ITS 0, and each ITE's collection exists. */
function expectConsistent(h: ItsHarness): void {
  const s = h.its[0]!.snapshot();
  const uses = new Map<number, number>();
  const icids = new Set(s.collections.map((c) => c.icid));
  for (const d of s.devices) {
    for (const e of d.ites) {
      uses.set(e.intid, (uses.get(e.intid) ?? 0) + 1);
      expect(e.icid !== null && icids.has(e.icid)).toBe(true);
    }
  }
  expect(h.liveLpis()).toEqual([...uses.keys()].sort((a, b) => a - b));
  for (const [intid, n] of uses) expect(h.lpiRefs(intid)).toBe(n);
}

/** The bytes save can write: the collection table, the device tables, the ITTs. */
function tableBytes(h: ItsHarness, ittEnd: number): Buffer {
  return Buffer.concat([h.memoryImage(CT, 0x1_0000), h.memoryImage(DT, ittEnd - DT)]);
}

describe('save/restore properties (fast-check)', () => {
  it('random configurations: save -> restore into a fresh ITS -> equivalent; saves are byte-identical', () => {
    const stats = { roundTrips: 0, removed: 0, indirect: 0, capped: 0, unmapped: 0, ites: 0 };
    fc.assert(fc.property(cfgArb, (cfg) => {
      const { h, ittEnd } = build(cfg);
      const before = h.its[0]!.snapshot();
      if (hasRemovedCollection(before)) {
        // An ITE whose collection MAPC V=0 removed: our defined save outcome.
        expect(h.save()).toBe(-u.EINVAL);
        stats.removed++;
        return;
      }
      const rt: RoundTrip = roundTrip(h);
      expect(rt.saveRet).toBe(0);
      expect(rt.restoreRet).toBe(0);
      expect(rt.after).toEqual(before);
      expect(rt.dst.liveLpis()).toEqual(h.liveLpis());
      for (const intid of h.liveLpis()) {
        const a = h.lpiState(intid)!, b = rt.dst.lpiState(intid)!;
        expect([intid, b.refs, b.priority, b.enabled]).toEqual([intid, a.refs, a.priority, a.enabled]);
      }
      expectConsistent(rt.dst);
      // Saving twice writes the same bytes; so does saving the restored copy.
      const first = tableBytes(h, ittEnd);
      expect(h.save()).toBe(0);
      expect(tableBytes(h, ittEnd).equals(first)).toBe(true);
      expect(rt.dst.save()).toBe(0);
      expect(tableBytes(rt.dst, ittEnd).equals(first)).toBe(true);
      expect(h.locksFree() && rt.dst.locksFree()).toBe(true);
      stats.roundTrips++;
      if (cfg.indirect) stats.indirect++;
      const ids = before.devices.map((d) => d.deviceId);
      if (ids.some((id, i) => i > 0 && id - ids[i - 1]! > 16383)) stats.capped++;
      if (before.collections.some((c) => c.target === u.COLLECTION_NOT_MAPPED)) stats.unmapped++;
      stats.ites += before.devices.reduce((n, d) => n + d.ites.length, 0);
    }), { seed: SEED, numRuns: RUNS });
    // The generator reaches what the property is about.
    expect(stats.roundTrips).toBeGreaterThan(RUNS / 2);
    expect(stats.removed).toBeGreaterThan(0);
    expect(stats.indirect).toBeGreaterThan(5);
    expect(stats.capped).toBeGreaterThan(5);
    expect(stats.unmapped).toBeGreaterThan(5);
    expect(stats.ites).toBeGreaterThan(RUNS);
  });

  it('mutated tables: restore returns 0, -EINVAL, -EEXIST or -EFAULT, never throws; failures leave nothing', () => {
    const allowed = [0, -u.EINVAL, -u.EEXIST, -u.EFAULT];
    const seen = new Set<number>();
    const mutationArb = fc.array(fc.record({
      slot: fc.nat(), byte: fc.nat(7), value: fc.nat(255), anywhere: fc.nat(0x3f_ffff), wild: fc.boolean(),
    }), { minLength: 1, maxLength: 6 });
    fc.assert(fc.property(cfgArb, mutationArb, (cfg, muts) => {
      const { h, slots } = build(cfg);
      if (hasRemovedCollection(h.its[0]!.snapshot())) return;
      const regs = h.its[0]!.snapshot();
      expect(h.save()).toBe(0);
      const dst = h.fresh();
      h.copyMemoryTo(dst);
      for (const m of muts) {
        // Mostly bytes of entries save wrote (or the L1 table); sometimes any byte of the table areas.
        const gpa = m.wild ? DT + m.anywhere : slots[m.slot % slots.length]! + m.byte;
        dst.mem.write8(gpa, m.value);
      }
      dst.enable(0, { enable: false, baser0: regs.baser[0], baser1: regs.baser[1] });
      let r = NaN;
      expect(() => { r = dst.restore(); }).not.toThrow();
      expect(allowed).toContain(r);
      seen.add(r);
      if (r !== 0) {
        expect(dst.its[0]!.tr.devices.size).toBe(0);
        expect(dst.its[0]!.tr.collections.size).toBe(0);
        expect(dst.liveLpis()).toEqual([]);
      }
      expectConsistent(dst);
      expect(dst.locksFree()).toBe(true);
    }), { seed: SEED + 1, numRuns: RUNS });
    expect(seen.has(0)).toBe(true);
    expect(seen.has(-u.EINVAL)).toBe(true);
  });
});
