/**
 * ITS table images for the tables fuzzer: a configuration (collections,
 * devices with their events, flat or two-level device table, pending bits),
 * written into guest RAM in the save/restore ABI rev 0 layout (spec 5.1) by
 * an encoder of our own (not by SAVE_TABLES), so that "what the image
 * describes" is known independently of the model; then mutations: bit flips,
 * stray bytes, `next` offsets past the end, ITTs and level-2 pages outside
 * RAM or across its end, huge Size fields, duplicate CTEs/DTEs and aliased
 * level-2 pages, Valid bits cleared or set, pINTIDs and ICIDs out of range,
 * full tables without a terminator, and BASER values (size, address,
 * Valid, Indirect) that disagree with the image.
 */
import fc from 'fast-check';
import type { GuestMemory } from '../../mem/guest-memory.js';
import {
  GITS_BASER_INDIRECT, GITS_BASER_SIZE_MASK, GITS_BASER_TYPE_COLLECTION, GITS_BASER_TYPE_DEVICE, GITS_BASER_VALID, makeGitsBaser,
} from '../../uapi/gic-fields.js';
import {
  COLLECTION_NOT_MAPPED, packCte, packDte, packIte, packL1e, VITS_DTE_MAX_DEVID_OFFSET, VITS_ITE_MAX_EVENTID_OFFSET,
} from '../../uapi/its-abi.js';

const MiB = 0x10_0000, PAGE = 0x1_0000;

/** Where images go: the fuzz area is zeroed before each case. */
export interface ImageLayout {
  ramEnd: number;
  /** [base, ramEnd): tables, level-2 pages, ITTs, a command queue. */
  area: number;
  nrVcpus: number;
}

export interface ImageEvent { ev: number; pintid: number; icidIdx: number }
export interface ImageDevice { id: number; bits: number; events: ImageEvent[] }
export interface ImageConfig {
  indirect: boolean;
  /** Flat device table: Size field (pages - 1). */
  dtSize: number;
  /** Level-1 entries made valid (zeroed level-2 pages) beyond those the devices need. */
  extraL1: number;
  /** Where the device / collection table starts: in the area, or in the last page of RAM (Size > 0 then runs past it). */
  dtAtEnd: boolean;
  ctAtEnd: boolean;
  ctSize: number;
  collections: { icid: number; target: number }[];
  devices: ImageDevice[];
  /** Pending-table bits to set before the restore (vCPU, INTID). */
  pending: { vcpu: number; intid: number }[];
}

export type Mutation =
  | { m: 'flip'; slot: number; bit: number }
  | { m: 'byte'; slot: number; byte: number; value: number }
  | { m: 'wild'; offset: number; value: number }
  | { m: 'dte-next'; dev: number; next: number }
  | { m: 'ite-next'; dev: number; ev: number; next: number }
  | { m: 'dte-itt'; dev: number; where: 'outside' | 'zero' | 'straddle' | 'table' }
  | { m: 'dte-size'; dev: number; size: number }
  | { m: 'ite-pintid'; dev: number; ev: number; pintid: number }
  | { m: 'ite-icid'; dev: number; ev: number; icid: number }
  | { m: 'cte-target'; idx: number; target: number }
  | { m: 'cte-dup'; idx: number }
  | { m: 'cte-full' }
  | { m: 'dte-dup'; dev: number; to: number }
  | { m: 'l1-alias'; from: number; to: number }
  | { m: 'l1-outside'; idx: number }
  | { m: 'valid'; slot: number; on: boolean }
  | { m: 'baser'; n: 0 | 1; size?: number; valid?: boolean; indirect?: boolean; address?: 'outside' | 'zero' };

/** How the case restores: once; while vCPUs run (-EBUSY); or twice (into its own result). */
export type RestoreMode = 'once' | 'running' | 'twice';

export interface TablesCase {
  cfg: ImageConfig;
  mutations: Mutation[];
  mode: RestoreMode;
}

/** What writeImage put where. */
export interface WrittenImage {
  baser0: bigint;
  baser1: bigint;
  dt: number;
  ct: number;
  l2: (i: number) => number;
  /** GPA of each device's DTE and ITT, by config index. */
  dtes: number[];
  itts: number[];
  /** GPA of each CTE written, then the terminator (if any). */
  ctes: number[];
  /** Every entry slot written (DTEs, ITEs, CTEs, terminator, level-1 entries) and their neighbours. */
  slots: number[];
}

export const eventIdSpace = (bits: number): number => 2 ** bits;

/** Device-table capacity in DeviceIDs for a config (clean images keep their IDs inside it). */
function dtCapacity(c: Pick<ImageConfig, 'indirect' | 'dtSize' | 'dtAtEnd'>): number {
  if (c.indirect) return 65536;
  return c.dtAtEnd ? 8192 : (c.dtSize + 1) * 8192;
}

/** Arbitrary configurations: always a valid, complete image before mutations. */
export function configArbitrary(nrVcpus: number): fc.Arbitrary<ImageConfig> {
  const target = fc.oneof({ weight: 4, arbitrary: fc.nat(nrVcpus - 1) }, { weight: 1, arbitrary: fc.constant(COLLECTION_NOT_MAPPED) });
  const icid = fc.oneof({ weight: 6, arbitrary: fc.nat(15) }, { weight: 1, arbitrary: fc.constantFrom(8191, 4095) });
  const devId = fc.oneof(
    fc.constantFrom(0, 1, 8191, 8192, 16383, 16384, 16385, 32768, 40000, 57343, 65535),
    fc.nat(65535),
  );
  const bits = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ min: 6, max: 16 }) });
  const ev = fc.oneof(fc.constant(0), fc.constant(-1) /* the last EventID */, fc.nat(65535));
  const pintid = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 8192, max: 8192 + 63 }) }, { weight: 1, arbitrary: fc.integer({ min: 8192, max: 65535 }) });
  return fc.record({
    indirect: fc.boolean(),
    dtSize: fc.oneof(fc.constant(0), fc.nat(7)),
    extraL1: fc.nat(255),
    dtAtEnd: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    ctAtEnd: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    ctSize: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(3) }),
    collections: fc.uniqueArray(fc.record({ icid, target }), { selector: (c) => c.icid, minLength: 1, maxLength: 6 }),
    devices: fc.uniqueArray(fc.record({
      id: devId, bits,
      events: fc.array(fc.record({ ev, pintid, icidIdx: fc.nat(5) }), { maxLength: 6 }),
    }), { selector: (d) => d.id, maxLength: 6 }),
    pending: fc.array(fc.record({ vcpu: fc.nat(nrVcpus - 1), intid: pintid }), { maxLength: 4 }),
  }).map((c) => {
    // Clean up into a valid image: IDs inside the table, EventIDs inside the ITT, one ITE per EventID.
    const cap = dtCapacity(c);
    const seen = new Set<number>();
    const devices = c.devices.map((d) => {
      const evs = new Set<number>();
      const events = d.events.map((e) => ({ ...e, ev: e.ev < 0 ? eventIdSpace(d.bits) - 1 : e.ev % eventIdSpace(d.bits), icidIdx: e.icidIdx % c.collections.length }))
        .filter((e) => !evs.has(e.ev) && evs.add(e.ev));
      return { ...d, id: d.id % cap, events: events.sort((a, b) => a.ev - b.ev) };
    }).filter((d) => !seen.has(d.id) && seen.add(d.id));
    // One table at most in the last page of RAM (two there would overlap); a flat device table there
    // without devices is walked to its end, so it must end with RAM to be a valid image.
    const dtSize = c.dtAtEnd && !c.indirect && devices.length === 0 ? 0 : c.dtSize;
    return { ...c, dtSize, ctAtEnd: c.ctAtEnd && !c.dtAtEnd, devices: devices.sort((a, b) => a.id - b.id) };
  });
}

export function mutationArbitrary(nrVcpus: number): fc.Arbitrary<Mutation> {
  const dev = fc.nat(5), ev = fc.nat(5);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ m: fc.constant('flip' as const), slot: fc.nat(), bit: fc.nat(63) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('byte' as const), slot: fc.nat(), byte: fc.nat(7), value: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('wild' as const), offset: fc.nat(4 * MiB - 1), value: fc.nat(255) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('dte-next' as const), dev, next: fc.oneof(fc.constantFrom(0, 1, VITS_DTE_MAX_DEVID_OFFSET), fc.nat(VITS_DTE_MAX_DEVID_OFFSET)) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('ite-next' as const), dev, ev, next: fc.oneof(fc.constantFrom(0, 1, VITS_ITE_MAX_EVENTID_OFFSET), fc.nat(VITS_ITE_MAX_EVENTID_OFFSET)) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('dte-itt' as const), dev, where: fc.constantFrom('outside' as const, 'zero' as const, 'straddle' as const, 'table' as const) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('dte-size' as const), dev, size: fc.oneof(fc.nat(31), fc.constantFrom(15, 16, 31)) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('ite-pintid' as const), dev, ev, pintid: fc.constantFrom(0, 1, 8191, 65535, 65536, 0xffff_ffff) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('ite-icid' as const), dev, ev, icid: fc.oneof(fc.nat(0xffff), fc.constantFrom(0xffff, 8192)) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('cte-target' as const), idx: fc.nat(5), target: fc.constantFrom(nrVcpus, 0xffff, 0xffff_fffe, 0x7fff_ffff) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('cte-dup' as const), idx: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.constant({ m: 'cte-full' as const }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('dte-dup' as const), dev, to: fc.nat(65535) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('l1-alias' as const), from: fc.nat(7), to: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ m: fc.constant('l1-outside' as const), idx: fc.nat(7) }) },
    { weight: 2, arbitrary: fc.record({ m: fc.constant('valid' as const), slot: fc.nat(), on: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({
      m: fc.constant('baser' as const), n: fc.constantFrom(0 as const, 1 as const),
      size: fc.option(fc.oneof(fc.nat(3), fc.constant(255), fc.nat(255)), { nil: undefined }),
      valid: fc.option(fc.boolean(), { nil: undefined }),
      indirect: fc.option(fc.boolean(), { nil: undefined }),
      address: fc.option(fc.constantFrom('outside' as const, 'zero' as const), { nil: undefined }),
    }) },
  );
}

export function tablesCaseArbitrary(nrVcpus: number): fc.Arbitrary<TablesCase> {
  return fc.record({
    cfg: configArbitrary(nrVcpus),
    // Empty (an unmutated image) about a quarter of the time, and what a failing case shrinks towards.
    mutations: fc.array(mutationArbitrary(nrVcpus), { maxLength: 4 }),
    mode: fc.oneof({ weight: 10, arbitrary: fc.constant('once' as const) }, { weight: 1, arbitrary: fc.constantFrom('running' as const, 'twice' as const) }),
  });
}

/** Fixed places in the fuzz area. */
export function imagePlaces(l: ImageLayout) {
  const a = l.area;
  return {
    dt: a,
    l2: (i: number) => a + 8 * PAGE + i * PAGE,
    ct: a + 16 * PAGE,
    queue: a + 31 * PAGE,
    itts: a + 32 * PAGE,
    endPage: l.ramEnd - PAGE,
  };
}

const w64 = (mem: GuestMemory, gpa: number, v: bigint): void => { mem.write64(gpa, v); };

/** Write the clean image of `c`; returns where everything went and the BASER values describing it. */
export function writeImage(mem: GuestMemory, l: ImageLayout, c: ImageConfig): WrittenImage {
  const p = imagePlaces(l);
  const dt = c.dtAtEnd ? p.endPage : p.dt;
  const ct = c.ctAtEnd ? p.endPage : p.ct;
  const slots: number[] = [];
  // Collections: consecutive CTEs from the base, then a zero terminator if the table is not full.
  const ctes: number[] = [];
  c.collections.forEach((col, i) => {
    const gpa = ct + 8 * i;
    w64(mem, gpa, packCte({ valid: true, rdbase: col.target, icid: col.icid }));
    ctes.push(gpa);
  });
  ctes.push(ct + 8 * c.collections.length); // terminator (already zero)
  slots.push(...ctes);
  // ITTs: bump-allocated, 256-byte aligned.
  let itt = p.itts;
  const itts: number[] = [];
  const dtes: number[] = [];
  const l1Used = new Set<number>();
  c.devices.forEach((d, di) => {
    const at = itt;
    itt += Math.max(256, eventIdSpace(d.bits) * 8);
    itts.push(at);
    d.events.forEach((e, k) => {
      const next = k + 1 < d.events.length ? Math.min(d.events[k + 1]!.ev - e.ev, VITS_ITE_MAX_EVENTID_OFFSET) : 0;
      const gpa = at + 8 * e.ev;
      w64(mem, gpa, packIte({ next, pintid: e.pintid, icid: c.collections[e.icidIdx]!.icid }));
      slots.push(gpa, gpa + 8);
    });
    const next = di + 1 < c.devices.length ? Math.min(c.devices[di + 1]!.id - d.id, VITS_DTE_MAX_DEVID_OFFSET) : 0;
    const gpa = c.indirect ? p.l2(d.id >>> 13) + 8 * (d.id & 8191) : dt + 8 * d.id;
    if (c.indirect) l1Used.add(d.id >>> 13);
    w64(mem, gpa, packDte({ valid: true, next, ittAddr: at, size: d.bits - 1 }));
    dtes.push(gpa);
    slots.push(gpa, gpa + 8);
  });
  if (c.indirect) {
    for (let i = 0; i < 8; i++) {
      if (l1Used.has(i) || (c.extraL1 & (1 << i)) !== 0) w64(mem, dt + 8 * i, packL1e({ valid: true, l2Addr: p.l2(i) }));
      slots.push(dt + 8 * i);
    }
  }
  const baser0 = makeGitsBaser({ valid: true, indirect: c.indirect, type: GITS_BASER_TYPE_DEVICE, entrySize: 8, address: dt, size: c.indirect ? 0 : c.dtSize });
  const baser1 = makeGitsBaser({ valid: true, type: GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: ct, size: c.ctSize });
  return { baser0, baser1, dt, ct, l2: p.l2, dtes, itts, ctes, slots };
}

const OUTSIDE = 0x10_0000_0000; // far above RAM, still a valid 52-bit address

/** Apply mutations to the written image (RAM) and to its BASER values. */
export function mutate(mem: GuestMemory, l: ImageLayout, c: ImageConfig, img: WrittenImage, muts: Mutation[]): { baser0: bigint; baser1: bigint } {
  let { baser0, baser1 } = img;
  const slot = (i: number) => img.slots[i % Math.max(1, img.slots.length)];
  const read = (gpa: number) => mem.read64(gpa);
  const dev = (i: number) => (c.devices.length > 0 ? i % c.devices.length : -1);
  const iteGpa = (d: number, k: number): number | undefined => {
    const evs = c.devices[d]!.events;
    return evs.length > 0 ? img.itts[d]! + 8 * evs[k % evs.length]!.ev : undefined;
  };
  const setField = (gpa: number, mask: bigint, value: bigint) => {
    const v = read(gpa);
    if (v >= 0n) w64(mem, gpa, (v & ~mask) | (value & mask));
  };
  for (const m of muts) {
    switch (m.m) {
      case 'flip': { const g = slot(m.slot); if (g !== undefined) setField(g, 1n << BigInt(m.bit), ~read(g)); break; }
      case 'byte': { const g = slot(m.slot); if (g !== undefined) mem.write8(g + m.byte, m.value); break; }
      case 'wild': mem.write8(l.area + (m.offset % (l.ramEnd - l.area)), m.value); break;
      case 'valid': { const g = slot(m.slot); if (g !== undefined) setField(g, 1n << 63n, m.on ? -1n : 0n); break; }
      case 'dte-next': { const d = dev(m.dev); if (d >= 0) setField(img.dtes[d]!, 0x3fffn << 49n, BigInt(m.next) << 49n); break; }
      case 'dte-size': { const d = dev(m.dev); if (d >= 0) setField(img.dtes[d]!, 0x1fn, BigInt(m.size)); break; }
      case 'dte-itt': {
        const d = dev(m.dev);
        if (d < 0) break;
        const to = m.where === 'outside' ? OUTSIDE : m.where === 'zero' ? 0 : m.where === 'straddle' ? l.ramEnd - 256 : img.dt;
        setField(img.dtes[d]!, ((1n << 44n) - 1n) << 5n, BigInt(Math.floor(to / 256)) << 5n);
        break;
      }
      case 'ite-next': case 'ite-pintid': case 'ite-icid': {
        const d = dev(m.dev);
        const g = d >= 0 ? iteGpa(d, m.ev) : undefined;
        if (g === undefined) break;
        if (m.m === 'ite-next') setField(g, 0xffffn << 48n, BigInt(m.next) << 48n);
        else if (m.m === 'ite-pintid') setField(g, 0xffff_ffffn << 16n, BigInt(m.pintid) << 16n);
        else setField(g, 0xffffn, BigInt(m.icid));
        break;
      }
      case 'cte-target': {
        const g = img.ctes[m.idx % Math.max(1, img.ctes.length - 1)];
        if (g !== undefined && img.ctes.length > 1) setField(g, 0xffff_ffffn << 16n, BigInt(m.target) << 16n);
        break;
      }
      case 'cte-dup': {
        if (img.ctes.length < 2) break;
        const term = img.ctes[img.ctes.length - 1]!;
        w64(mem, term, read(img.ctes[m.idx % (img.ctes.length - 1)]!));
        break;
      }
      case 'cte-full': {
        // Every slot of the table valid (fresh ICIDs, unmapped): no terminator.
        const bytes = (Number(baser1 & GITS_BASER_SIZE_MASK) + 1) * PAGE;
        const used = new Set(c.collections.map((x) => x.icid));
        let icid = 0;
        for (let g = img.ctes[img.ctes.length - 1]!; g < img.ct + bytes && g + 8 <= l.ramEnd; g += 8) {
          while (used.has(icid)) icid++;
          w64(mem, g, packCte({ valid: true, rdbase: COLLECTION_NOT_MAPPED, icid: icid++ & 0xffff }));
        }
        break;
      }
      case 'dte-dup': {
        const d = dev(m.dev);
        if (d < 0) break;
        const to = c.indirect ? img.l2((m.to >>> 13) & 7) + 8 * (m.to & 8191) : img.dt + 8 * (m.to % 8192);
        if (to + 8 <= l.ramEnd) w64(mem, to, read(img.dtes[d]!));
        break;
      }
      case 'l1-alias':
        if (c.indirect) w64(mem, img.dt + 8 * m.to, read(img.dt + 8 * m.from));
        break;
      case 'l1-outside':
        if (c.indirect) w64(mem, img.dt + 8 * m.idx, packL1e({ valid: true, l2Addr: OUTSIDE }));
        break;
      case 'baser': {
        let b = m.n === 0 ? baser0 : baser1;
        if (m.size !== undefined) b = (b & ~GITS_BASER_SIZE_MASK) | BigInt(m.size & 0xff);
        if (m.valid !== undefined) b = m.valid ? b | GITS_BASER_VALID : b & ~GITS_BASER_VALID;
        if (m.indirect !== undefined) b = m.indirect ? b | GITS_BASER_INDIRECT : b & ~GITS_BASER_INDIRECT;
        if (m.address !== undefined) {
          const addr = m.address === 'outside' ? BigInt(OUTSIDE) : 0n;
          b = (b & ~0x0000_ffff_ffff_f000n) | (addr & 0x0000_ffff_ffff_0000n);
        }
        if (m.n === 0) baser0 = b; else baser1 = b;
        break;
      }
    }
  }
  return { baser0, baser1 };
}
