/**
 * Guest-physical memory for guest programs: a bump allocator over a caller-
 * chosen RAM range, and the default carving of the VM's RAM so that several
 * vCPUs/guest programs do not collide. Owns no memory itself: it hands out
 * GPAs; callers zero/fill what they get (see fillGuest in driver-util.ts).
 *
 * Default carving of the default RAM (64 MiB at 0x4000_0000, VM_DEFAULTS):
 *   [ramBase,          ramBase + 64K)   setup mailbox (its-setup <-> lpi-handler handshake)
 *   [ramBase + 64K,    ramBase + 32M)   GIC tables, owned by the boot vCPU (its-setup)
 *   [ramBase + 32M,    ramBase + 64M)   free for other guest programs (perVcpuRegion splits it)
 * Mirrors what a guest OS early allocator (memblock) provides to the GIC driver.
 */
import { ENOMEM, EINVAL } from '../uapi/errno.js';
import { VM_DEFAULTS } from '../kvm/options.js';

const SZ_64K = 0x1_0000;
const SZ_1M = 0x10_0000;

/** A guest-physical range [base, base + size). */
export interface GpaRegion {
  /** First GPA. */
  base: number;
  /** Bytes. */
  size: number;
}

/** Base and size of the default VM RAM (one memslot). */
export const GUEST_RAM: Readonly<GpaRegion> = Object.freeze({ base: VM_DEFAULTS.ramBase, size: VM_DEFAULTS.memory });
/** First 64 KiB of RAM: the setup mailbox words (see handshake.ts). */
export const SETUP_MAILBOX_GPA = GUEST_RAM.base;
/** Where its-setup allocates GIC tables by default (after the mailbox page). */
export const DEFAULT_GIC_REGION: Readonly<GpaRegion> = Object.freeze({ base: GUEST_RAM.base + SZ_64K, size: 32 * SZ_1M - SZ_64K });
/** RAM left to other guest programs by default. */
export const DEFAULT_FREE_REGION: Readonly<GpaRegion> = Object.freeze({
  base: GUEST_RAM.base + 32 * SZ_1M, size: GUEST_RAM.size - 32 * SZ_1M,
});

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}

/**
 * Bump allocator over [base, base + size). alloc() returns a GPA, or a
 * negative errno (-ENOMEM when the region is exhausted, -EINVAL for a bad
 * request): it never throws, so guest code can report the failure.
 */
export class GpaAllocator {
  private next: number;

  constructor(
    /** First GPA of the region. */
    readonly base: number,
    /** Bytes in the region. */
    readonly size: number,
  ) {
    this.next = base;
  }

  /** An allocator over `region`. */
  static of(region: GpaRegion): GpaAllocator {
    return new GpaAllocator(region.base, region.size);
  }

  /** First GPA after the region. */
  get end(): number {
    return this.base + this.size;
  }
  /** Bytes handed out so far (alignment padding included). */
  get used(): number {
    return this.next - this.base;
  }
  /** Bytes still free. */
  get remaining(): number {
    return this.end - this.next;
  }

  /** `size` bytes aligned to `align` (a power of two, default 8): the GPA, or -ENOMEM / -EINVAL. */
  alloc(size: number, align = 8): number {
    if (!Number.isSafeInteger(size) || size <= 0 || !isPow2(align)) return -EINVAL;
    const at = Math.ceil(this.next / align) * align;
    if (at + size > this.end) return -ENOMEM;
    this.next = at + size;
    return at;
  }
}

/**
 * Slice `index` of `count` equal, `align`-aligned slices of a region (e.g. one
 * scratch area per vCPU): each slice is floor(size / count) rounded down to
 * `align`. Returns undefined if the slices would be empty.
 */
export function perVcpuRegion(region: GpaRegion, index: number, count: number, align = SZ_64K): GpaRegion | undefined {
  if (!(count > 0) || !(index >= 0 && index < count)) return undefined;
  const start = Math.ceil(region.base / align) * align;
  const slice = Math.floor((region.base + region.size - start) / count / align) * align;
  if (slice <= 0) return undefined;
  return { base: start + index * slice, size: slice };
}
