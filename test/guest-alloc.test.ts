import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FREE_REGION, DEFAULT_GIC_REGION, GUEST_RAM, GpaAllocator, perVcpuRegion, SETUP_MAILBOX_GPA,
} from '../dist/src/guest/alloc.js';
import { EINVAL, ENOMEM } from '../dist/src/uapi/errno.js';

describe('guest/alloc: GpaAllocator', () => {
  it('bumps with alignment and reports usage', () => {
    const a = new GpaAllocator(0x4000_0100, 0x10_0000);
    expect(a.alloc(8)).toBe(0x4000_0100);
    expect(a.alloc(1, 256)).toBe(0x4000_0200);
    expect(a.alloc(0x1000, 0x1_0000)).toBe(0x4001_0000);
    expect(a.used).toBe(0x4001_1000 - 0x4000_0100);
    expect(a.remaining).toBe(0x10_0000 - a.used);
    expect(a.end).toBe(0x4010_0100);
  });

  it('returns -ENOMEM when exhausted and leaves the cursor alone', () => {
    const a = new GpaAllocator(0x1000, 0x3000);
    expect(a.alloc(0x2000, 0x1000)).toBe(0x1000);
    expect(a.alloc(0x2000, 0x1000)).toBe(-ENOMEM);
    expect(a.alloc(0x1000, 0x1000)).toBe(0x3000);
    expect(a.alloc(1)).toBe(-ENOMEM);
  });

  it('rejects bad sizes and alignments with -EINVAL instead of throwing', () => {
    const a = new GpaAllocator(0, 0x1000);
    expect(a.alloc(0)).toBe(-EINVAL);
    expect(a.alloc(-8)).toBe(-EINVAL);
    expect(a.alloc(1.5)).toBe(-EINVAL);
    expect(a.alloc(8, 3)).toBe(-EINVAL);
    expect(a.alloc(8, 0)).toBe(-EINVAL);
    expect(a.used).toBe(0);
  });

  it('handles alignments above 2^31', () => {
    const a = new GpaAllocator(1, 2 ** 33);
    expect(a.alloc(16, 2 ** 32)).toBe(2 ** 32);
  });
});

describe('guest/alloc: default carving', () => {
  it('mailbox, GIC region and free region are disjoint and inside the default RAM', () => {
    expect(GUEST_RAM).toEqual({ base: 0x4000_0000, size: 64 * 1024 * 1024 });
    expect(SETUP_MAILBOX_GPA).toBe(GUEST_RAM.base);
    expect(DEFAULT_GIC_REGION.base).toBeGreaterThanOrEqual(SETUP_MAILBOX_GPA + 16);
    expect(DEFAULT_GIC_REGION.base % 0x1_0000).toBe(0);
    expect(DEFAULT_FREE_REGION.base).toBe(DEFAULT_GIC_REGION.base + DEFAULT_GIC_REGION.size);
    expect(DEFAULT_FREE_REGION.base + DEFAULT_FREE_REGION.size).toBe(GUEST_RAM.base + GUEST_RAM.size);
  });

  it('perVcpuRegion gives aligned, disjoint slices', () => {
    const slices = [0, 1, 2].map((i) => perVcpuRegion(DEFAULT_FREE_REGION, i, 3)!);
    for (const s of slices) {
      expect(s.base % 0x1_0000).toBe(0);
      expect(s.size % 0x1_0000).toBe(0);
      expect(s.base + s.size).toBeLessThanOrEqual(DEFAULT_FREE_REGION.base + DEFAULT_FREE_REGION.size);
    }
    expect(slices[1]!.base).toBe(slices[0]!.base + slices[0]!.size);
    expect(slices[2]!.base).toBe(slices[1]!.base + slices[1]!.size);
    expect(perVcpuRegion(DEFAULT_FREE_REGION, 3, 3)).toBeUndefined();
    expect(perVcpuRegion({ base: 0, size: 0x1_0000 }, 0, 2)).toBeUndefined();
  });
});
