/**
 * Guest memory: -EFAULT at every memslot boundary, one byte either side, for
 * every accessor; no wrap-around; little-endian layout; accesses spanning
 * adjacent memslots; the dirty log; values visible across threads.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GuestMemory, MAX_GPA, PAGE_SIZE, allocateMemslots, type Memslot, type MemslotSpec } from '../dist/src/mem/index.js';
import { EFAULT } from '../dist/src/uapi/errno.js';
import { within } from './helpers/wait.js';

const MEMORY_WORKER = new URL('./fixtures/memory-worker.mjs', import.meta.url);
const WIDTHS = [1, 2, 4, 8] as const;
type Width = (typeof WIDTHS)[number];

/** Two memslots with a one-page hole between them (listed out of order on purpose). */
const SPLIT: MemslotSpec[] = [
  { gpa: 0x4000_5000, size: 0x2000 },
  { gpa: 0x4000_0000, size: 0x4000 },
];

/** The byte every slot holds at offset `o` before a test writes: distinct per slot and offset. */
function pattern(slot: number, o: number): number {
  return (o * 31 + slot * 101 + 7) & 0xff;
}

function fill(slots: readonly Memslot[]): void {
  slots.forEach((s, i) => {
    const u8 = new Uint8Array(s.data);
    for (let o = 0; o < u8.length; o++) u8[o] = pattern(i, o);
  });
}

function snapshot(slots: readonly Memslot[]): Uint8Array[] {
  return slots.map((s) => new Uint8Array(s.data).slice());
}

/** Where the slots differ from `before` (at most a few, as "gpa: old -> new"); [] when unchanged. */
function changes(slots: readonly Memslot[], before: Uint8Array[]): string[] {
  const out: string[] = [];
  slots.forEach((s, i) => {
    const now = new Uint8Array(s.data), was = before[i]!;
    if (Buffer.compare(now, was) === 0) return;
    for (let o = 0; o < now.length && out.length < 4; o++) {
      if (now[o] !== was[o]) out.push(`0x${(s.gpa + o).toString(16)}: ${was[o]} -> ${now[o]}`);
    }
  });
  return out;
}

/** The byte at `gpa` as the backing buffers hold it (undefined outside every slot). */
function byteAt(slots: readonly Memslot[], gpa: number): number | undefined {
  const s = slots.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
  return s === undefined ? undefined : new Uint8Array(s.data)[gpa - s.gpa];
}

/** Little-endian value of `width` bytes at `gpa`, from the backing buffers. */
function expectedLE(slots: readonly Memslot[], gpa: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(byteAt(slots, gpa + i)!);
  return v;
}

/** A read of `width` bytes as a bigint (whatever else an accessor returns is passed through, for the failure message). */
function read(mem: GuestMemory, width: Width, gpa: number): unknown {
  const r: unknown = width === 1 ? mem.read8(gpa) : width === 2 ? mem.read16(gpa) : width === 4 ? mem.read32(gpa) : mem.read64(gpa);
  return typeof r === 'number' && Number.isInteger(r) ? BigInt(r) : r;
}

function write(mem: GuestMemory, width: Width, gpa: number, v: bigint): number {
  switch (width) {
    case 1: return mem.write8(gpa, Number(v));
    case 2: return mem.write16(gpa, Number(v));
    case 4: return mem.write32(gpa, Number(v));
    case 8: return mem.write64(gpa, v);
  }
}

/** A value of `width` bytes with every byte distinct from the fill pattern's neighbours. */
const VALUES: Record<Width, bigint> = { 1: 0xa5n, 2: 0xbeefn, 4: 0xdeadbeefn, 8: 0xfedcba9876543210n };

/**
 * Every gpa within one byte of a slot edge for a `width`-byte access: from
 * wholly before the start to one byte past it, and from one byte before
 * ending exactly at the end to wholly past it.
 */
function boundaryProbes(s: MemslotSpec, width: number): { gpa: number; inside: boolean; where: string }[] {
  const out: { gpa: number; inside: boolean; where: string }[] = [];
  const end = s.gpa + s.size;
  for (let d = -width - 1; d <= 1; d++) out.push({ gpa: s.gpa + d, inside: d >= 0, where: `start${d >= 0 ? '+' : ''}${d}` });
  for (let d = -1; d <= width + 1; d++) {
    const gpa = end - width + d;
    out.push({ gpa, inside: d <= 0, where: `end-${width}${d >= 0 ? '+' : ''}${d}` });
  }
  return out;
}

function dirtyPages(bitmap: Uint8Array): number[] {
  const pages: number[] = [];
  bitmap.forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (1 << b)) pages.push(i * 8 + b);
  });
  return pages;
}

function runWorker(slots: readonly Memslot[], ops: { op: 'read' | 'write'; width: number; gpa: number; value?: number | bigint }[]): Promise<(number | bigint)[]> {
  const w = new Worker(MEMORY_WORKER, { workerData: { slots, ops } });
  const result = new Promise<(number | bigint)[]>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`memory worker exited (code ${code}) before answering`)));
  });
  return within(result, 'the memory worker').finally(() => w.terminate());
}

describe('guest memory: -EFAULT at memslot boundaries', () => {
  it('reads of every width fault exactly when they leave a memslot, one byte either side of each edge', () => {
    const slots = allocateMemslots(SPLIT);
    fill(slots);
    const mem = new GuestMemory(slots);
    for (const s of slots) {
      for (const width of WIDTHS) {
        for (const p of boundaryProbes(s, width)) {
          const got = read(mem, width, p.gpa);
          const want = p.inside ? expectedLE(slots, p.gpa, width) : BigInt(-EFAULT);
          expect(got, `read${width * 8} at ${p.where} of slot 0x${s.gpa.toString(16)}`).toBe(want);
        }
      }
    }
    expect(mem.read64(slots[0]!.gpa - 1)).toBe(-14n); // read64 reports -EFAULT as a bigint
  });

  it('writes of every width fault exactly when they leave a memslot, and a faulting write changes nothing', () => {
    const slots = allocateMemslots(SPLIT);
    fill(slots);
    const mem = new GuestMemory(slots);
    for (const s of slots) {
      for (const width of WIDTHS) {
        for (const p of boundaryProbes(s, width)) {
          const before = snapshot(slots);
          const r = write(mem, width, p.gpa, VALUES[width]);
          const what = `write${width * 8} at ${p.where} of slot 0x${s.gpa.toString(16)}`;
          if (p.inside) {
            expect(r, what).toBe(0);
            expect(expectedLE(slots, p.gpa, width), what).toBe(VALUES[width]);
            fill(slots);
          } else {
            expect(r, what).toBe(-EFAULT);
            expect(changes(slots, before), what).toEqual([]);
          }
        }
      }
    }
  });

  it('readInto and write (3 and 16 bytes) fault at every edge, copying nothing and writing nothing', () => {
    const slots = allocateMemslots(SPLIT);
    fill(slots);
    const mem = new GuestMemory(slots);
    for (const s of slots) {
      for (const len of [3, 16]) {
        for (const p of boundaryProbes(s, len)) {
          const what = `${len} bytes at ${p.where} of slot 0x${s.gpa.toString(16)}`;
          const dst = new Uint8Array(len).fill(0xee);
          const r = mem.readInto(p.gpa, dst);
          if (p.inside) {
            expect(r, `readInto ${what}`).toBe(0);
            expect([...dst], `readInto ${what}`).toEqual(Array.from({ length: len }, (_, i) => byteAt(slots, p.gpa + i)));
          } else {
            expect(r, `readInto ${what}`).toBe(-EFAULT);
            expect([...dst], `readInto ${what}`).toEqual(Array(len).fill(0xee));
          }
          const src = Uint8Array.from({ length: len }, (_, i) => 0xc0 + i);
          const before = snapshot(slots);
          const w = mem.write(p.gpa, src);
          if (p.inside) {
            expect(w, `write ${what}`).toBe(0);
            expect(Array.from({ length: len }, (_, i) => byteAt(slots, p.gpa + i)), `write ${what}`).toEqual([...src]);
            fill(slots);
          } else {
            expect(w, `write ${what}`).toBe(-EFAULT);
            expect(changes(slots, before), `write ${what}`).toEqual([]);
          }
        }
      }
    }
  });

  it('the hole between two memslots faults for every accessor', () => {
    const slots = allocateMemslots(SPLIT);
    fill(slots);
    const mem = new GuestMemory(slots);
    const hole = 0x4000_4000;
    const before = snapshot(slots);
    for (const gpa of [hole, hole + 0x7ff, hole + PAGE_SIZE - 8]) {
      for (const width of WIDTHS) {
        expect(read(mem, width, gpa)).toBe(BigInt(-EFAULT));
        expect(write(mem, width, gpa, VALUES[width])).toBe(-EFAULT);
      }
      expect(mem.readInto(gpa, new Uint8Array(4))).toBe(-EFAULT);
      expect(mem.write(gpa, new Uint8Array(4))).toBe(-EFAULT);
      expect(mem.isVisible(gpa)).toBe(false);
    }
    // Spanning the whole hole from one slot into the next is not an access to backed memory either.
    expect(mem.readInto(hole - 4, new Uint8Array(PAGE_SIZE + 8))).toBe(-EFAULT);
    expect(mem.write(hole - 4, new Uint8Array(PAGE_SIZE + 8))).toBe(-EFAULT);
    expect(changes(slots, before)).toEqual([]);
  });

  it('does not wrap: addresses at 2^48, beyond 2^53, negative, NaN and infinite fault', () => {
    const top = MAX_GPA - PAGE_SIZE;
    const slots = allocateMemslots([{ gpa: 0, size: PAGE_SIZE }, { gpa: top, size: PAGE_SIZE }]);
    fill(slots);
    const mem = new GuestMemory(slots);
    const before = snapshot(slots);
    // The top slot works right up to the last byte of the 48-bit space.
    expect(mem.read64(MAX_GPA - 8)).toBe(expectedLE(slots, MAX_GPA - 8, 8));
    expect(BigInt(mem.read8(MAX_GPA - 1))).toBe(expectedLE(slots, MAX_GPA - 1, 1));
    // Accesses crossing 2^48 from the top slot.
    for (const width of WIDTHS) {
      for (let d = 1; d < width; d++) {
        expect(read(mem, width, MAX_GPA - width + d), `read${width * 8}(2^48 - ${width - d})`).toBe(BigInt(-EFAULT));
        expect(write(mem, width, MAX_GPA - width + d, VALUES[width]), `write${width * 8}(2^48 - ${width - d})`).toBe(-EFAULT);
      }
    }
    const bad = [
      MAX_GPA, MAX_GPA + 1, 2 ** 53, Number.MAX_SAFE_INTEGER, 2 ** 64 - 4, 2 ** 64,
      -1, -2, -4, -8, -PAGE_SIZE, -(2 ** 48), NaN, Infinity, -Infinity,
    ];
    for (const gpa of bad) {
      for (const width of WIDTHS) {
        expect(read(mem, width, gpa), `read${width * 8}(${gpa})`).toBe(BigInt(-EFAULT));
        expect(write(mem, width, gpa, VALUES[width]), `write${width * 8}(${gpa})`).toBe(-EFAULT);
      }
      expect(mem.readInto(gpa, new Uint8Array(2)), `readInto(${gpa})`).toBe(-EFAULT);
      expect(mem.write(gpa, new Uint8Array(2)), `write(${gpa})`).toBe(-EFAULT);
    }
    expect(changes(slots, before)).toEqual([]);
    expect(() => allocateMemslots([{ gpa: MAX_GPA, size: PAGE_SIZE }])).toThrow(RangeError);
  });

  it('a non-integer gpa faults instead of being truncated or ignored', () => {
    const slots = allocateMemslots(SPLIT);
    fill(slots);
    const mem = new GuestMemory(slots);
    const before = snapshot(slots);
    const base = slots[0]!.gpa;
    for (const gpa of [base + 0.5, base + 1.5, base + 0x100 + 0.25]) {
      for (const width of WIDTHS) {
        expect(read(mem, width, gpa), `read${width * 8}(${gpa})`).toBe(BigInt(-EFAULT));
        expect(write(mem, width, gpa, VALUES[width]), `write${width * 8}(${gpa})`).toBe(-EFAULT);
      }
      expect(mem.readInto(gpa, new Uint8Array(2)), `readInto(${gpa})`).toBe(-EFAULT);
      expect(mem.write(gpa, new Uint8Array(2)), `write(${gpa})`).toBe(-EFAULT);
    }
    expect(changes(slots, before)).toEqual([]);
  });

  it('lays values out little-endian across widths, aligned or not', () => {
    const slots = allocateMemslots([{ gpa: 0x8000_0000, size: PAGE_SIZE }]);
    const mem = new GuestMemory(slots);
    const b = 0x8000_0000;
    expect(mem.write64(b, 0x0807060504030201n)).toBe(0);
    expect(Array.from({ length: 8 }, (_, i) => mem.read8(b + i))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mem.read16(b)).toBe(0x0201);
    expect(mem.read16(b + 3)).toBe(0x0504);
    expect(mem.read32(b + 4)).toBe(0x08070605);
    expect(mem.read32(b + 1)).toBe(0x05040302);
    expect(mem.read64(b)).toBe(0x0807060504030201n);

    expect(mem.write32(b + 0x11, 0xdeadbeef)).toBe(0); // unaligned
    expect([mem.read8(b + 0x11), mem.read8(b + 0x12), mem.read8(b + 0x13), mem.read8(b + 0x14)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(mem.read32(b + 0x11)).toBe(0xdeadbeef); // unsigned
    expect(mem.write16(b + 0x21, 0xcafe)).toBe(0);
    expect([mem.read8(b + 0x21), mem.read8(b + 0x22)]).toEqual([0xfe, 0xca]);
    for (let i = 0; i < 8; i++) expect(mem.write8(b + 0x30 + i, 0xf0 + i)).toBe(0);
    expect(mem.read64(b + 0x30)).toBe(0xf7f6f5f4f3f2f1f0n); // unsigned
    expect(mem.write64(b + 0x40, -2n)).toBe(0); // stored modulo 2^64
    expect(mem.read64(b + 0x40)).toBe(0xfffffffffffffffen);
    expect(mem.write32(b + 0x48, -1)).toBe(0);
    expect(mem.read32(b + 0x48)).toBe(0xffffffff);
    const bytes = new Uint8Array(4);
    expect(mem.readInto(b + 4, bytes)).toBe(0);
    expect([...bytes]).toEqual([5, 6, 7, 8]);
    // And the backing buffer holds exactly those bytes.
    expect([...new Uint8Array(slots[0]!.data, 0, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('guest memory: adjacent memslots', () => {
  /** Two memslots back to back, then a hole, then a third. */
  const ADJACENT: MemslotSpec[] = [
    { gpa: 0x1000_0000, size: 0x2000 },
    { gpa: 0x1000_2000, size: 0x1000 },
    { gpa: 0x1000_8000, size: 0x1000 },
  ];
  const JOIN = 0x1000_2000;

  it('an access of any width spanning the two slots succeeds, reads and writes, bytes landing in both', () => {
    const slots = allocateMemslots(ADJACENT);
    fill(slots);
    const mem = new GuestMemory(slots);
    for (const width of WIDTHS) {
      for (let gpa = JOIN - width - 1; gpa <= JOIN + 1; gpa++) {
        expect(read(mem, width, gpa), `read${width * 8} at join${gpa - JOIN}`).toBe(expectedLE(slots, gpa, width));
        expect(write(mem, width, gpa, VALUES[width]), `write${width * 8} at join${gpa - JOIN}`).toBe(0);
        expect(expectedLE(slots, gpa, width)).toBe(VALUES[width]);
        expect(read(mem, width, gpa)).toBe(VALUES[width]);
        fill(slots);
      }
      expect(mem.isVisible(JOIN - 2, 4)).toBe(true);
    }
    const span = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    expect(mem.write(JOIN - 8, span)).toBe(0);
    expect([...new Uint8Array(slots[0]!.data, 0x2000 - 8, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...new Uint8Array(slots[1]!.data, 0, 8)]).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
    const back = new Uint8Array(16);
    expect(mem.readInto(JOIN - 8, back)).toBe(0);
    expect([...back]).toEqual([...span]);
  });

  it('the outer edges of the joined slots still fault, and a write running off the end writes nothing', () => {
    const slots = allocateMemslots(ADJACENT);
    fill(slots);
    const mem = new GuestMemory(slots);
    const end = JOIN + 0x1000;
    for (const width of WIDTHS) {
      for (const p of [...boundaryProbes(ADJACENT[0]!, width).filter((x) => x.where.startsWith('start')),
        ...boundaryProbes({ gpa: ADJACENT[1]!.gpa, size: 0x1000 }, width).filter((x) => x.where.startsWith('end'))]) {
        const before = snapshot(slots);
        const want = p.inside ? expectedLE(slots, p.gpa, width) : BigInt(-EFAULT);
        expect(read(mem, width, p.gpa), `read${width * 8} at ${p.where}`).toBe(want);
        if (!p.inside) {
          expect(write(mem, width, p.gpa, VALUES[width]), `write${width * 8} at ${p.where}`).toBe(-EFAULT);
          expect(changes(slots, before)).toEqual([]);
        }
      }
    }
    // From the first slot, across the join, off the end of the second: all or nothing.
    const before = snapshot(slots);
    expect(mem.write(end - 0x1010, new Uint8Array(0x1011).fill(0x55))).toBe(-EFAULT);
    expect(mem.readInto(end - 0x1010, new Uint8Array(0x1011))).toBe(-EFAULT);
    expect(changes(slots, before)).toEqual([]);
  });
});

describe('guest memory: dirty log', () => {
  const SLOTS: MemslotSpec[] = [
    { gpa: 0x2000_0000, size: 40 * PAGE_SIZE }, // bitmap bits cross an Int32 word
    { gpa: 0x2010_0000, size: 4 * PAGE_SIZE },
  ];
  const page = (slot: number, p: number) => SLOTS[slot]!.gpa + p * PAGE_SIZE;

  /** One write of each kind, some spanning two pages, plus reads and a faulting write. */
  function writeAll(mem: GuestMemory): void {
    expect(mem.write8(page(0, 0) + 5, 1)).toBe(0);
    expect(mem.write32(page(0, 3) - 2, 0x01020304)).toBe(0); // pages 2 and 3
    expect(mem.write(page(0, 6) - 8, new Uint8Array(16).fill(7))).toBe(0); // pages 5 and 6
    expect(mem.write64(page(0, 34) - 4, 0x1122334455667788n)).toBe(0); // pages 33 and 34
    expect(mem.write16(page(1, 1) + 2, 0xabcd)).toBe(0);
    expect(mem.write32(page(1, 4) - 2, 1)).toBe(-EFAULT); // runs off the end of slot 1: no page marked
    mem.read32(page(0, 10));
    mem.read64(page(1, 2));
    mem.readInto(page(0, 20), new Uint8Array(64));
  }

  it('a dirty-logging accessor marks exactly the pages written, both pages of a spanning write', () => {
    const slots = allocateMemslots(SLOTS);
    const mem = new GuestMemory(slots, true);
    writeAll(mem);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([0, 2, 3, 5, 6, 33, 34]);
    expect(dirtyPages(mem.getDirtyLog(1))).toEqual([1]);
  });

  it('withDirtyLog() gives a dirty-logging view of the same memory', () => {
    const slots = allocateMemslots(SLOTS);
    const plain = new GuestMemory(slots);
    const dev = plain.withDirtyLog();
    expect(dev.dirtyLog).toBe(true);
    expect(dev.write32(page(0, 7), 0x5a5a5a5a)).toBe(0);
    expect(plain.read32(page(0, 7))).toBe(0x5a5a5a5a);
    expect(dirtyPages(plain.getDirtyLog(0))).toEqual([7]);
  });

  it('a plain accessor marks nothing', () => {
    const slots = allocateMemslots(SLOTS);
    const mem = new GuestMemory(slots);
    writeAll(mem);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([]);
    expect(dirtyPages(mem.getDirtyLog(1))).toEqual([]);
    expect(mem.read32(page(0, 3) - 2)).toBe(0x01020304); // the writes did happen
  });

  it('getDirtyLog clears what it returns; only later writes show up next time', () => {
    const slots = allocateMemslots(SLOTS);
    const mem = new GuestMemory(slots, true);
    expect(mem.write8(page(0, 1), 1)).toBe(0);
    expect(mem.write8(page(0, 39), 1)).toBe(0);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([1, 39]);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([]);
    expect(mem.write8(page(0, 12), 1)).toBe(0);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([12]);
    expect(() => mem.getDirtyLog(2)).toThrow(RangeError);
  });

  it('a write spanning two adjacent memslots marks the last page of one and the first of the other', () => {
    const slots = allocateMemslots([{ gpa: 0x3000_0000, size: 2 * PAGE_SIZE }, { gpa: 0x3000_2000, size: 2 * PAGE_SIZE }]);
    const mem = new GuestMemory(slots, true);
    expect(mem.write64(0x3000_2000 - 4, 0x0102030405060708n)).toBe(0);
    expect(dirtyPages(mem.getDirtyLog(0))).toEqual([1]);
    expect(dirtyPages(mem.getDirtyLog(1))).toEqual([0]);
  });
});

describe('guest memory: across threads', () => {
  const SLOTS: MemslotSpec[] = [{ gpa: 0x4000_0000, size: 0x2000 }, { gpa: 0x4000_2000, size: 0x1000 }];
  const J = 0x4000_2000;

  it('values written on the main thread are read back by a worker, faults included', async () => {
    const slots = allocateMemslots(SLOTS);
    const mem = new GuestMemory(slots);
    expect(mem.write8(0x4000_0010, 0x9c)).toBe(0);
    expect(mem.write16(0x4000_0021, 0xbeef)).toBe(0);
    expect(mem.write32(J - 2, 0xcafef00d)).toBe(0); // spans the two slots
    expect(mem.write64(0x4000_1ff0, 0x0123456789abcdefn)).toBe(0);
    const got = await runWorker(slots, [
      { op: 'read', width: 8, gpa: 0x4000_0010 },
      { op: 'read', width: 16, gpa: 0x4000_0021 },
      { op: 'read', width: 32, gpa: J - 2 },
      { op: 'read', width: 64, gpa: 0x4000_1ff0 },
      { op: 'read', width: 32, gpa: J + 0x1000 - 2 },
      { op: 'read', width: 64, gpa: 0x4000_0000 - 4 },
    ]);
    expect(got).toEqual([0x9c, 0xbeef, 0xcafef00d, 0x0123456789abcdefn, -EFAULT, -14n]);
  });

  it('values written by a worker are read on the main thread', async () => {
    const slots = allocateMemslots(SLOTS);
    const mem = new GuestMemory(slots);
    const got = await runWorker(slots, [
      { op: 'write', width: 64, gpa: J - 4, value: 0x8877665544332211n },
      { op: 'write', width: 32, gpa: 0x4000_0100, value: 0x80000001 },
      { op: 'write', width: 16, gpa: J + 0xfff, value: 0x1234 }, // off the end
    ]);
    expect(got).toEqual([0, 0, -EFAULT]);
    expect(mem.read64(J - 4)).toBe(0x8877665544332211n);
    expect(mem.read32(0x4000_0100)).toBe(0x80000001);
    expect(mem.read8(J + 0xfff)).toBe(0);
  });
});
