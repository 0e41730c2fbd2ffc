/**
 * ITS table save/restore benchmarks (issue 4), worker side, and the table
 * image they start from.
 *
 * The image: `ites` ITEs over ceil(ites / 1024) devices (DeviceIDs 0..,
 * 1024 events each, EventID bits 10, ITTs back to back), 8 collections
 * (ICID n -> vCPU n), ITE n -> collection n % 8 and LPI 8192 + n % 57344
 * (the model's LPI space is 16 bits: above 57344 ITEs, LPIs are shared by
 * several ITEs, as KVM allows), written in guest RAM in the ABI-0 format
 * SAVE_TABLES writes (8-byte entries, each ITE's and DTE's `next` = 1 but
 * the last). Writing the image is also the DataView baseline: one plain
 * loop, two 32-bit little-endian stores per 8-byte entry, over the same span
 * SAVE_TABLES writes (ITTs, device table, collection table, same bytes).
 *
 * serve(): a real Its over real shared structures on this thread (the setup
 * of test/helpers/its-harness.ts: lock arena, guest memory with a dirty log,
 * vGIC state, vCPU block, translation cache), with the image restored into
 * it once; then it answers timed requests on parentPort: 'save' (SAVE_TABLES
 * as the ioctl path runs it: its_lock held), 'restore' (RESTORE_TABLES into
 * an emptied ITS; emptying is not timed), 'dvWrite' and 'dvRead' (the
 * DataView loops over the same bytes). Every request runs `ops` operations
 * and returns the timed ms in all.
 */
import { parentPort } from 'node:worker_threads';
import type { GuestMemory } from '../../mem/guest-memory.js';

export const EVENTS_PER_DEVICE = 1024;
const EVENT_ID_BITS = 10;
export const COLLECTIONS = 8;
/** Distinct LPIs the image uses (16-bit INTID space). */
const LPI_SPACE = 57344;

/** The image's guest-physical layout, from `base` (64 KiB aligned). */
export interface ImageLayout {
  base: number;
  propTable: number;
  pendTable(vcpu: number): number;
  deviceTable: number;
  collectionTable: number;
  itts: number;
  /** Bytes of guest RAM the layout needs from base. */
  bytes: number;
  devices: number;
  ites: number;
}

export function imageLayout(base: number, ites: number): ImageLayout {
  const devices = Math.ceil(ites / EVENTS_PER_DEVICE);
  if (devices > 8192) throw new RangeError('image: at most 8192 devices (one 64 KiB flat device table)');
  const itts = base + 0x20_0000;
  return {
    base,
    propTable: base,
    pendTable: (v) => base + 0x1_0000 * (1 + v),
    deviceTable: base + 0x10_0000,
    collectionTable: base + 0x11_0000,
    itts,
    bytes: itts - base + devices * EVENTS_PER_DEVICE * 8,
    devices,
    ites,
  };
}

/** A DataView over [gpa, gpa + len) of guest memory, and the offset of gpa in it. */
function spanOf(mem: GuestMemory, gpa: number, len: number): { dv: DataView; off: number } {
  const s = mem.span(gpa, len);
  if (s === undefined) throw new RangeError(`image: 0x${gpa.toString(16)} + ${len} is not in one memslot`);
  return { dv: s.dv, off: s.offset };
}

/**
 * The DataView baseline, and the image writer: every ITE, DTE and CTE of the
 * image, two setUint32(LE) per entry. `dv`/`off` cover the whole layout from L.base.
 */
export function writeImage(dv: DataView, off: number, L: ImageLayout): void {
  const ittBase = off + (L.itts - L.base);
  const dtBase = off + (L.deviceTable - L.base);
  for (let d = 0, n = 0; d < L.devices; d++) {
    const itt = ittBase + d * EVENTS_PER_DEVICE * 8;
    const events = Math.min(EVENTS_PER_DEVICE, L.ites - n);
    for (let e = 0; e < events; e++, n++) {
      const pintid = 8192 + (n % LPI_SPACE);
      const next = e + 1 < events ? 1 : 0;
      // ITE: next[63:48] | pINTID[47:16] | ICID[15:0]
      dv.setUint32(itt + e * 8, ((n % COLLECTIONS) | ((pintid & 0xffff) << 16)) >>> 0, true);
      dv.setUint32(itt + e * 8 + 4, ((next << 16) | (pintid >>> 16)) >>> 0, true);
    }
    // DTE: V[63] | next[62:49] | ITT_addr[51:8] at [48:5] | Size[4:0]
    const field = (L.itts + d * EVENTS_PER_DEVICE * 8) / 256;
    const next = d + 1 < L.devices ? 1 : 0;
    dv.setUint32(dtBase + d * 8, ((field % 0x800_0000) * 32 + (EVENT_ID_BITS - 1)) >>> 0, true);
    dv.setUint32(dtBase + d * 8 + 4, (0x8000_0000 | (next << 17) | Math.floor(field / 0x800_0000)) >>> 0, true);
  }
  const ctBase = off + (L.collectionTable - L.base);
  for (let c = 0; c < COLLECTIONS; c++) {
    // CTE: V[63] | RDBase (target vCPU)[47:16] | ICID[15:0]
    dv.setUint32(ctBase + c * 8, (c | (c << 16)) >>> 0, true);
    dv.setUint32(ctBase + c * 8 + 4, 0x8000_0000, true);
  }
  dv.setUint32(ctBase + COLLECTIONS * 8, 0, true); // terminator
  dv.setUint32(ctBase + COLLECTIONS * 8 + 4, 0, true);
}

/** The read-side baseline: every entry of the image, two getUint32(LE) each, folded into a checksum. */
export function readImage(dv: DataView, off: number, L: ImageLayout): number {
  const ittBase = off + (L.itts - L.base);
  const dtBase = off + (L.deviceTable - L.base);
  let sum = 0;
  for (let d = 0, n = 0; d < L.devices; d++) {
    const itt = ittBase + d * EVENTS_PER_DEVICE * 8;
    const events = Math.min(EVENTS_PER_DEVICE, L.ites - n);
    for (let e = 0; e < events; e++, n++) {
      sum = (sum + dv.getUint32(itt + e * 8, true) + dv.getUint32(itt + e * 8 + 4, true)) | 0;
    }
    sum = (sum + dv.getUint32(dtBase + d * 8, true) + dv.getUint32(dtBase + d * 8 + 4, true)) | 0;
  }
  const ctBase = off + (L.collectionTable - L.base);
  for (let c = 0; c <= COLLECTIONS; c++) sum = (sum + dv.getUint32(ctBase + c * 8, true) + dv.getUint32(ctBase + c * 8 + 4, true)) | 0;
  return sum;
}

/** Property bytes (priority 0xa0, enabled) of every LPI, written at L.propTable. */
export function writePropTable(mem: GuestMemory, L: ImageLayout, prop: number): void {
  mem.write(L.propTable, new Uint8Array(LPI_SPACE).fill(prop));
}

// ---- the single-thread ITS lab --------------------------------------------------------------------

export type TablesOp = 'save' | 'restore' | 'dvWrite' | 'dvRead';
export interface TablesRequest { op: TablesOp; ops: number }
export type TablesReply = { ready: true; ites: number } | { ms: number } | { error: string };

const RAM = 0x4000_0000;

export async function serve(d: { ites: number }): Promise<void> {
  const [{ GuestMemory: Mem, allocateMemslots }, { VcpuBlock }, { LockArena }, { ITS_CMD_LOCK, ITS_ITS_LOCK }, { ThreadContext },
    gf, { GITS_BASER }, { ItsCache }, { Vgic, GICD_CTLR_ENABLE_G1, GICR_CTLR_ENABLE_LPIS }, vs, { Its }] = await Promise.all([
    import('../../mem/guest-memory.js'), import('../../kvm/vcpu-block.js'), import('../../sync/arena.js'),
    import('../../sync/classes.js'), import('../../sync/thread.js'), import('../../uapi/gic-fields.js'),
    import('../../uapi/gits.js'), import('../../vgic/its-cache.js'), import('../../vgic/vgic.js'),
    import('../../vgic/vgic-state.js'), import('../../vgic/its/its.js'),
  ]);
  const port = parentPort!;
  const L = imageLayout(RAM, d.ites);
  const ramBytes = Math.ceil(L.bytes / 0x10_0000) * 0x10_0000;
  const arena = LockArena.create({}, 'off');
  const thread = new ThreadContext(arena, arena.registerThread('other', 0, 'bench its-tables'));
  const mem = new Mem(allocateMemslots([{ gpa: RAM, size: ramBytes }])).withDirtyLog();
  const st = new vs.VgicState(vs.VgicState.create({ nrVcpus: COLLECTIONS }));
  const vcpus = new VcpuBlock(VcpuBlock.create(COLLECTIONS, 16));
  const vgic = new Vgic(st, vcpus, mem, thread.tid);
  const cache = new ItsCache(st, thread.tid);
  const its = new Its({
    index: 0, vgic, cache, mem, movallAllLpis: false,
    cmdLock: thread.mutex(arena.allocLock(ITS_CMD_LOCK, 0)),
    itsLock: thread.mutex(arena.allocLock(ITS_ITS_LOCK, 0)),
  });
  Atomics.store(st.i32, vs.D_NR_ITS, 1);
  // Redistributors as a guest programs them (the its-harness defaults, 16 INTID bits).
  st.setPropbaser(gf.makeGicrPropbaser({ address: L.propTable, idBits: 15 }));
  writePropTable(mem, L, gf.makeLpiProp(0xa0, true));
  for (let v = 0; v < COLLECTIONS; v++) {
    st.setPendbaser(v, gf.makeGicrPendbaser({ address: L.pendTable(v) }));
    Atomics.store(st.i32, st.cpu(v) + vs.C_GICR_CTLR, GICR_CTLR_ENABLE_LPIS);
  }
  Atomics.store(st.i32, vs.D_GICD_CTLR, GICD_CTLR_ENABLE_G1);
  its.mmioWrite(GITS_BASER, 8, gf.makeGitsBaser({ valid: true, type: gf.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: L.deviceTable, size: 0 }));
  its.mmioWrite(GITS_BASER + 8, 8, gf.makeGitsBaser({ valid: true, type: gf.GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: L.collectionTable, size: 0 }));

  const { dv, off } = spanOf(mem, L.base, L.bytes);
  const withItsLock = (f: () => number): number => {
    if (its.itsLock.tryLock() !== 0) throw new Error('its_lock not free');
    try {
      return f();
    } finally {
      its.itsLock.unlock();
    }
  };
  const empty = (): void => {
    its.tr.freeAllDevices();
    its.tr.freeAllCollections();
  };
  const countItes = (): number => {
    let n = 0;
    for (const dev of its.tr.devices.values()) n += dev.ites.size;
    return n;
  };
  const restore = (): void => {
    const r = withItsLock(() => its.restoreTables());
    if (r !== 0) throw new Error(`RESTORE_TABLES: ${r}`);
  };

  // Build the state: write the image, restore it; check that SAVE_TABLES writes the image back byte for byte.
  writeImage(dv, off, L);
  const sum = readImage(dv, off, L);
  restore();
  if (countItes() !== d.ites || its.tr.collections.size !== COLLECTIONS) {
    throw new Error(`restored ${countItes()} ITEs and ${its.tr.collections.size} collections, expected ${d.ites} and ${COLLECTIONS}`);
  }
  new Uint8Array(dv.buffer, dv.byteOffset + off + (L.itts - L.base), L.ites * 8).fill(0);
  const s = withItsLock(() => its.saveTables());
  if (s !== 0) throw new Error(`SAVE_TABLES: ${s}`);
  if (readImage(dv, off, L) !== sum) throw new Error('SAVE_TABLES did not write back the restored image');

  let sink = 0;
  const sinkWord = new Int32Array(new SharedArrayBuffer(4));
  const run: Record<TablesOp, (ops: number) => number> = {
    save(ops) {
      let ms = 0;
      for (let i = 0; i < ops; i++) {
        const t0 = performance.now();
        const r = withItsLock(() => its.saveTables());
        ms += performance.now() - t0;
        if (r !== 0) throw new Error(`SAVE_TABLES: ${r}`);
      }
      return ms;
    },
    restore(ops) {
      let ms = 0;
      for (let i = 0; i < ops; i++) {
        empty();
        const t0 = performance.now();
        restore();
        ms += performance.now() - t0;
      }
      if (countItes() !== d.ites) throw new Error(`RESTORE_TABLES restored ${countItes()} ITEs, expected ${d.ites}`);
      return ms;
    },
    dvWrite(ops) {
      const t0 = performance.now();
      for (let i = 0; i < ops; i++) writeImage(dv, off, L);
      return performance.now() - t0;
    },
    dvRead(ops) {
      const t0 = performance.now();
      for (let i = 0; i < ops; i++) sink = (sink + readImage(dv, off, L)) | 0;
      return performance.now() - t0;
    },
  };
  port.on('message', (req: TablesRequest) => {
    try {
      port.postMessage({ ms: run[req.op](req.ops) } satisfies TablesReply);
    } catch (e) {
      port.postMessage({ error: String((e as Error)?.stack ?? e) } satisfies TablesReply);
    }
    Atomics.store(sinkWord, 0, sink); // the read loop's checksum stays observable
  });
  port.postMessage({ ready: true, ites: d.ites } satisfies TablesReply);
}
