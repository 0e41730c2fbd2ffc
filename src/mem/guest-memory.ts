/**
 * Guest RAM: SharedArrayBuffers mapped at guest-physical addresses (memslots),
 * read and written little-endian from any thread. An access that does not lie
 * wholly inside backed memory returns -EFAULT: no exception, no wrap-around,
 * like kvm_read_guest()/kvm_write_guest(). Accessors created with
 * `dirtyLog: true` (device code) set a bit per 4 KiB page they write, as
 * KVM's dirty log does for writes made on the guest's behalf.
 *
 * Mirrors virt/kvm/kvm_main.c guest access helpers and rust-vmm's vm-memory.
 */
import { EFAULT } from '../uapi/errno.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const EFAULT_BIG = -BigInt(EFAULT);

/** A memslot as requested by the user: guest-physical base and size in bytes. */
export interface MemslotSpec {
  /** Guest-physical address of the first byte; must be 4 KiB aligned. */
  gpa: number;
  /** Size in bytes; a positive multiple of 4 KiB. */
  size: number;
}

/** A memslot as shared between threads. */
export interface Memslot extends MemslotSpec {
  data: SharedArrayBuffer;
  /** One bit per page, set by dirty-logging accessors. */
  dirty: SharedArrayBuffer;
}

/** Largest guest-physical address space we model: 48 bits (KVM's default IPA size is 40). */
export const MAX_GPA = 2 ** 48;

/** Validate and allocate memslots. Throws RangeError/TypeError naming the option. */
export function allocateMemslots(specs: readonly MemslotSpec[], option = 'memory'): Memslot[] {
  if (!Array.isArray(specs) || specs.length === 0) throw new TypeError(`${option}: expected a non-empty array of { gpa, size }`);
  const sorted = [...specs].sort((a, b) => a.gpa - b.gpa);
  let end = -1;
  for (const [i, s] of sorted.entries()) {
    if (!Number.isSafeInteger(s?.gpa) || !Number.isSafeInteger(s?.size)) {
      throw new TypeError(`${option}[${i}]: gpa and size must be integers`);
    }
    if (s.gpa < 0 || s.gpa % PAGE_SIZE !== 0) throw new RangeError(`${option}[${i}].gpa must be 4 KiB aligned and >= 0`);
    if (s.size <= 0 || s.size % PAGE_SIZE !== 0) throw new RangeError(`${option}[${i}].size must be a positive multiple of 4 KiB`);
    if (s.gpa + s.size > MAX_GPA) throw new RangeError(`${option}[${i}] ends beyond the 48-bit guest-physical space`);
    if (s.gpa < end) throw new RangeError(`${option}[${i}] overlaps another memslot`);
    end = s.gpa + s.size;
  }
  return sorted.map((s) => ({
    gpa: s.gpa,
    size: s.size,
    data: new SharedArrayBuffer(s.size),
    dirty: new SharedArrayBuffer(Math.ceil(s.size / PAGE_SIZE / 32) * 4),
  }));
}

interface SlotView {
  gpa: number;
  end: number;
  dv: DataView;
  u8: Uint8Array;
  i32: Int32Array;
  dirty: Int32Array;
}

export class GuestMemory {
  private readonly views: SlotView[];
  private last: SlotView;

  /** `dirtyLog`: mark written pages in the dirty bitmap (device code does; guest stores do not). */
  constructor(readonly slots: readonly Memslot[], readonly dirtyLog = false) {
    this.views = slots.map((s) => ({
      gpa: s.gpa,
      end: s.gpa + s.size,
      dv: new DataView(s.data),
      u8: new Uint8Array(s.data),
      i32: new Int32Array(s.data),
      dirty: new Int32Array(s.dirty),
    }));
    this.last = this.views[0]!;
  }

  /** The same memory seen by device code: writes are dirty-logged. */
  withDirtyLog(): GuestMemory {
    return new GuestMemory(this.slots, true);
  }

  /** The slot wholly containing [gpa, gpa+len), or undefined. */
  private find(gpa: number, len: number): SlotView | undefined {
    if (Math.floor(gpa) !== gpa) return undefined; // NaN, ±Infinity, fractions: no such address
    const l = this.last;
    if (gpa >= l.gpa && gpa + len <= l.end) return l;
    for (const v of this.views) {
      if (gpa >= v.gpa && gpa + len <= v.end) return (this.last = v);
    }
    return undefined;
  }

  /** kvm_is_visible_gfn: is [gpa, gpa+len) backed by memory? */
  isVisible(gpa: number, len = 1): boolean {
    if (!(gpa >= 0) || !Number.isSafeInteger(gpa)) return false;
    if (this.find(gpa, len) !== undefined) return true;
    return len > 1 && this.readSpanning(gpa, new Uint8Array(len), false) === 0;
  }

  read8(gpa: number): number {
    const v = this.find(gpa, 1);
    return v === undefined ? -EFAULT : v.u8[gpa - v.gpa]!;
  }

  read16(gpa: number): number {
    const v = this.find(gpa, 2);
    return v === undefined ? this.readSmallSpanning(gpa, 2) : v.dv.getUint16(gpa - v.gpa, true);
  }

  read32(gpa: number): number {
    const v = this.find(gpa, 4);
    return v === undefined ? this.readSmallSpanning(gpa, 4) : v.dv.getUint32(gpa - v.gpa, true);
  }

  read64(gpa: number): bigint {
    const v = this.find(gpa, 8);
    if (v !== undefined) return v.dv.getBigUint64(gpa - v.gpa, true);
    const b = new Uint8Array(8);
    if (this.readSpanning(gpa, b, true) !== 0) return EFAULT_BIG;
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  write8(gpa: number, value: number): number {
    const v = this.find(gpa, 1);
    if (v === undefined) return -EFAULT;
    v.u8[gpa - v.gpa] = value;
    if (this.dirtyLog) markDirty(v, gpa, 1);
    return 0;
  }

  write16(gpa: number, value: number): number {
    const v = this.find(gpa, 2);
    if (v === undefined) return this.writeSmallSpanning(gpa, 2, value);
    v.dv.setUint16(gpa - v.gpa, value, true);
    if (this.dirtyLog) markDirty(v, gpa, 2);
    return 0;
  }

  write32(gpa: number, value: number): number {
    const v = this.find(gpa, 4);
    if (v === undefined) return this.writeSmallSpanning(gpa, 4, value);
    v.dv.setUint32(gpa - v.gpa, value >>> 0, true);
    if (this.dirtyLog) markDirty(v, gpa, 4);
    return 0;
  }

  write64(gpa: number, value: bigint): number {
    const v = this.find(gpa, 8);
    if (v !== undefined) {
      v.dv.setBigUint64(gpa - v.gpa, BigInt.asUintN(64, value), true);
      if (this.dirtyLog) markDirty(v, gpa, 8);
      return 0;
    }
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.write(gpa, b);
  }

  /** Copy guest bytes into `dst`: 0 or -EFAULT (nothing is copied on -EFAULT). */
  readInto(gpa: number, dst: Uint8Array): number {
    const v = this.find(gpa, dst.length);
    if (v !== undefined) {
      dst.set(v.u8.subarray(gpa - v.gpa, gpa - v.gpa + dst.length));
      return 0;
    }
    return this.readSpanning(gpa, dst, true);
  }

  /** Copy `src` into guest memory: 0 or -EFAULT (nothing is written on -EFAULT). */
  write(gpa: number, src: Uint8Array): number {
    const v = this.find(gpa, src.length);
    if (v !== undefined) {
      v.u8.set(src, gpa - v.gpa);
      if (this.dirtyLog) markDirty(v, gpa, src.length);
      return 0;
    }
    // Spanning adjacent slots: check the whole range first so a fault writes nothing.
    if (!this.coveredBySlots(gpa, src.length)) return -EFAULT;
    for (let i = 0; i < src.length; i++) this.write8(gpa + i, src[i]!);
    return 0;
  }

  /**
   * Direct access for hot loops (table save/restore): a DataView over the slot
   * and the byte offset of `gpa` in it, when [gpa, gpa+len) lies in one slot.
   * Writes through it are not dirty-logged; call markDirty() for them.
   */
  span(gpa: number, len: number): { dv: DataView; offset: number; u8: Uint8Array } | undefined {
    const v = this.find(gpa, len);
    return v === undefined ? undefined : { dv: v.dv, offset: gpa - v.gpa, u8: v.u8 };
  }

  /** Mark [gpa, gpa+len) dirty (after writes made through span()). */
  markDirty(gpa: number, len: number): void {
    const v = this.find(gpa, len);
    if (v !== undefined) markDirty(v, gpa, len);
  }

  /** An Int32Array over guest RAM at `gpa` (4-byte aligned), for atomics shared by guest threads. */
  atomics32(gpa: number, count: number): Int32Array | undefined {
    const v = this.find(gpa, count * 4);
    if (v === undefined || (gpa - v.gpa) % 4 !== 0) return undefined;
    return v.i32.subarray((gpa - v.gpa) / 4, (gpa - v.gpa) / 4 + count);
  }

  /** KVM_GET_DIRTY_LOG: the bitmap of slot `index` (bit n = page n), cleared as it is read. */
  getDirtyLog(index: number): Uint8Array {
    const v = this.views[index];
    if (v === undefined) throw new RangeError(`no memslot ${index}`);
    const out = new Int32Array(v.dirty.length);
    for (let i = 0; i < out.length; i++) out[i] = Atomics.exchange(v.dirty, i, 0);
    return new Uint8Array(out.buffer);
  }

  private coveredBySlots(gpa: number, len: number): boolean {
    if (!(gpa >= 0) || !Number.isSafeInteger(gpa) || !Number.isSafeInteger(gpa + len)) return false;
    let at = gpa;
    const end = gpa + len;
    while (at < end) {
      const v = this.views.find((s) => at >= s.gpa && at < s.end);
      if (v === undefined) return false;
      at = v.end;
    }
    return true;
  }

  private readSpanning(gpa: number, dst: Uint8Array, copy: boolean): number {
    if (!this.coveredBySlots(gpa, dst.length)) return -EFAULT;
    if (copy) for (let i = 0; i < dst.length; i++) dst[i] = this.read8(gpa + i);
    return 0;
  }

  private readSmallSpanning(gpa: number, len: number): number {
    const b = new Uint8Array(len);
    if (this.readSpanning(gpa, b, true) !== 0) return -EFAULT;
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return v;
  }

  private writeSmallSpanning(gpa: number, len: number, value: number): number {
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = (value >>> (8 * i)) & 0xff;
    return this.write(gpa, b);
  }
}

function markDirty(v: SlotView, gpa: number, len: number): void {
  const first = (gpa - v.gpa) >>> PAGE_SHIFT;
  const last = (gpa - v.gpa + len - 1) >>> PAGE_SHIFT;
  for (let p = first; p <= last; p++) Atomics.or(v.dirty, p >>> 5, 1 << (p & 31));
}
