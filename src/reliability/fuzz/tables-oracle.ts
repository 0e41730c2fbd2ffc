/**
 * A reference RESTORE_TABLES for the tables fuzzer: spec 5.3 (ABI rev 0,
 * today's kernel) written out again, straight from the text, over a
 * read-only view of guest RAM. The fuzzer compares the model's return value
 * and resulting state with it (a differential oracle), so mutated images are
 * checked as precisely as clean ones.
 *
 * Where the spec leaves the outcome open, the model's documented choices
 * are taken (its-abi-v0.ts): Size + 1 > 16 in a DTE and a pINTID above
 * 65535 give -EINVAL; a DTE naming an existing DeviceID gives -EEXIST; on
 * any error the ITS is left with no devices and no collections ("the whole
 * restored state or none"; today's KVM frees only the collections on a
 * collection-table error, which is the same when the ITS was empty, as the
 * documented restore sequence has it).
 */
import { COLLECTION_NOT_MAPPED } from '../../uapi/its-abi.js';
import { EEXIST, EFAULT, EINVAL } from '../../uapi/errno.js';

export interface RamReader {
  /** The 8-byte little-endian entry at `gpa`, or undefined if not all of it is RAM. */
  read64(gpa: number): bigint | undefined;
  /** One byte, or undefined outside RAM. */
  read8(gpa: number): number | undefined;
}

export interface RefInput {
  mem: RamReader;
  /** The BASERs as the ITS holds them (read back after the writes). */
  baser0: bigint;
  baser1: bigint;
  nrVcpus: number;
  propAddr: number;
  pendAddr: (vcpu: number) => number;
  /** LPIs that exist before the restore (their state does not change; a reference is taken). */
  existingLpis: ReadonlySet<number>;
  /** The collections (ICID -> target) and DeviceIDs the ITS already has. */
  collections: ReadonlyMap<number, number>;
  devices: ReadonlySet<number>;
}

export interface RefLpi { intid: number; priority: number; enabled: boolean; pending: boolean; target: number }
export interface RefIte { eventId: number; intid: number; icid: number }
export interface RefDevice { deviceId: number; ittAddr: number; eventIdBits: number; ites: RefIte[] }

export interface RefResult {
  ret: number;
  /** What the restore added (empty unless ret is 0). */
  collections: { icid: number; target: number }[];
  devices: RefDevice[];
  newLpis: RefLpi[];
}

const PAGE = 0x1_0000;
const bits = (v: bigint, hi: number, lo: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
const bit63 = (v: bigint): boolean => (v >> 63n) !== 0n;

/** BASER fields (spec 1.3). */
function geometry(baser: bigint) {
  const addr = Number(baser & 0x0000_ffff_ffff_0000n) + bits(baser, 15, 12) * 2 ** 48;
  return { valid: bit63(baser), indirect: ((baser >> 62n) & 1n) === 1n, type: bits(baser, 58, 56), addr, bytes: (bits(baser, 7, 0) + 1) * PAGE };
}

export function referenceRestore(input: RefInput): RefResult {
  const { mem } = input;
  const visible = (gpa: number) => mem.read8(gpa) !== undefined;
  const collections = new Map<number, number>();
  const devices: RefDevice[] = [];
  const lpis = new Map<number, RefLpi>();
  const consumed = new Set<number>();

  /** check_id (spec 2.3): the entry GPA, or -1. */
  const checkId = (baser: bigint, id: number): number => {
    const g = geometry(baser);
    if (g.type === 1) { if (id > 0xffff) return -1; } else if (g.type === 4) { if (id >= 0x10000) return -1; } else return -1;
    let gpa: number;
    if (!g.indirect) {
      if (id >= g.bytes / 8) return -1;
      gpa = g.addr + id * 8;
    } else {
      const index = Math.floor(id / 8192);
      if (index >= g.bytes / 8) return -1;
      const l1 = mem.read64(g.addr + index * 8);
      if (l1 === undefined || !bit63(l1)) return -1;
      gpa = Number(l1 & 0x000f_ffff_ffff_0000n) + (id % 8192) * 8;
    }
    return visible(gpa) ? gpa : -1;
  };

  /** scan_its_table: > 0 from fn = step, 0 = last, < 0 = error; 1 if the walk ran off the end. */
  const scan = (base: number, size: number, startId: number, fn: (id: number, e: bigint) => number): number => {
    let len = size, id = startId, gpa = base;
    for (;;) {
      const e = mem.read64(gpa);
      if (e === undefined) return -EFAULT;
      const r = fn(id, e);
      if (r <= 0) return r;
      const step = r * 8;
      if (step >= len) return 1;
      id += r;
      gpa += step;
      len -= step;
    }
  };

  const collectionTarget = (icid: number): number | undefined => collections.get(icid) ?? input.collections.get(icid);

  const restoreIte = (dev: RefDevice, eventId: number, e: bigint): number => {
    const pintid = bits(e, 47, 16);
    if (pintid === 0) return 1;
    if (pintid < 8192) return -EINVAL;
    const next = bits(e, 63, 48);
    if (eventId + next >= 2 ** dev.eventIdBits) return -EINVAL;
    const icid = bits(e, 15, 0);
    const target = collectionTarget(icid);
    if (target === undefined) return -EINVAL;
    if (!visible(dev.ittAddr + eventId * 8)) return -EINVAL; // check_event_id
    if (pintid > 65535) return -EINVAL;
    if (!input.existingLpis.has(pintid) && !lpis.has(pintid)) {
      const cfg = mem.read8(input.propAddr + pintid - 8192);
      if (cfg === undefined) return -EFAULT;
      const t = target !== COLLECTION_NOT_MAPPED && target < input.nrVcpus ? target : -1;
      let pending = false;
      if (t >= 0) {
        const key = t * 65536 + pintid;
        const byte = mem.read8(input.pendAddr(t) + (pintid >> 3));
        pending = byte !== undefined && (byte & (1 << (pintid & 7))) !== 0 && !consumed.has(key);
        if (pending) consumed.add(key);
      }
      lpis.set(pintid, { intid: pintid, priority: cfg & 0xfc, enabled: (cfg & 1) !== 0, pending, target: t });
    }
    dev.ites.push({ eventId, intid: pintid, icid });
    return next;
  };

  const restoreDte = (id: number, e: bigint): number => {
    if (!bit63(e)) return 1;
    const next = bits(e, 62, 49);
    const eventIdBits = bits(e, 4, 0) + 1;
    const ittAddr = bits(e, 48, 5) * 256;
    if (checkId(input.baser0, id) < 0) return -EINVAL;
    if (eventIdBits > 16) return -EINVAL;
    if (input.devices.has(id) || devices.some((d) => d.deviceId === id)) return -EEXIST;
    const dev: RefDevice = { deviceId: id, ittAddr, eventIdBits, ites: [] };
    const r = scan(ittAddr, 2 ** eventIdBits * 8, 0, (ev, ite) => restoreIte(dev, ev, ite));
    if (r < 0) return r; // the device goes again (and every LPI with it, below)
    devices.push(dev);
    return next;
  };

  const fail = (ret: number): RefResult => ({ ret, collections: [], devices: [], newLpis: [] });

  // Collections first (spec 5.3).
  const ct = geometry(input.baser1);
  if (ct.valid) {
    for (let read = 0, gpa = ct.addr; read < ct.bytes; read += 8, gpa += 8) {
      const e = mem.read64(gpa);
      if (e === undefined) return fail(-EFAULT);
      if (!bit63(e)) break;
      const target = bits(e, 47, 16), icid = bits(e, 15, 0);
      if (target !== COLLECTION_NOT_MAPPED && target >= input.nrVcpus) return fail(-EINVAL);
      if (input.collections.has(icid) || collections.has(icid)) return fail(-EEXIST);
      if (checkId(input.baser1, icid) < 0) return fail(-EINVAL);
      collections.set(icid, target);
    }
  }
  const dt = geometry(input.baser0);
  if (dt.valid) {
    const r = dt.indirect
      ? scan(dt.addr, dt.bytes, 0, (index, l1) => (!bit63(l1) ? 1 : scan(Number(l1 & 0x000f_ffff_ffff_0000n), PAGE, index * 8192, restoreDte)))
      : scan(dt.addr, dt.bytes, 0, restoreDte);
    if (r < 0) return fail(r);
  }
  return {
    ret: 0,
    collections: [...collections].map(([icid, target]) => ({ icid, target })),
    devices,
    newLpis: [...lpis.values()].sort((a, b) => a.intid - b.intid),
  };
}
