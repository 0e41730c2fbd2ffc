/**
 * A cached translation names one incarnation of an LPI: once the INTID is
 * freed and created again (by another mapping), a lock-free cache probe that
 * raced with the teardown must not latch the successor pending.
 */
import { describe, expect, it } from 'vitest';
import { allocateMemslots, GuestMemory } from '../dist/src/mem/index.js';
import { VcpuBlock } from '../dist/src/kvm/vcpu-block.js';
import { ItsCache } from '../dist/src/vgic/its-cache.js';
import { Vgic } from '../dist/src/vgic/vgic.js';
import { D_GICD_CTLR, D_NR_ITS, F_PENDING, VgicState } from '../dist/src/vgic/vgic-state.js';

function setup() {
  const st = new VgicState(VgicState.create({ nrVcpus: 2, cacheCapacity: 16 }));
  const mem = new GuestMemory(allocateMemslots([{ gpa: 0x4000_0000, size: 1 << 20 }]));
  st.setPropbaser(BigInt(0x4000_0000) | 15n); // IDbits 15; config bytes 0 (disabled) are fine here
  Atomics.store(st.i32, D_GICD_CTLR, 2);
  Atomics.store(st.i32, D_NR_ITS, 1);
  const vgic = new Vgic(st, new VcpuBlock(VcpuBlock.create(2, 4)), mem, 1);
  return { st, vgic, cache: new ItsCache(st, 1) };
}

describe('translation cache and LPI incarnations', () => {
  it('a translation cached before the LPI was freed and re-created does not latch the new LPI', () => {
    const { vgic, cache } = setup();
    expect(vgic.getLpi(8200, 0)).toBe(0);
    cache.insert(0, 3, 4, 8200);
    expect(cache.lookup(0, 3, 4)).toBe(8200);
    const stale = cache.lastGen;
    vgic.putLpi(8200); // the mapping goes away (DISCARD) ...
    expect(vgic.getLpi(8200, 1)).toBe(0); // ... and another mapping creates INTID 8200 again
    expect(vgic.setPending(8200, stale)).toBe(false);
    expect(vgic.lpiFlags(8200) & F_PENDING).toBe(0);
    cache.insert(0, 5, 6, 8200);
    expect(cache.lookup(0, 5, 6)).toBe(8200);
    expect(vgic.setPending(8200, cache.lastGen)).toBe(true);
    expect(vgic.lpiFlags(8200) & F_PENDING).toBe(F_PENDING);
  });

  it('a freed LPI is never latched, with or without an incarnation', () => {
    const { vgic } = setup();
    expect(vgic.getLpi(8300, 0)).toBe(0);
    vgic.putLpi(8300);
    expect(vgic.setPending(8300)).toBe(false);
    expect(vgic.lpiExists(8300)).toBe(false);
  });
});

describe('spin words of a dead thread', () => {
  it('recoverSpinlocks releases every spin word the dead tid held, and only those', () => {
    const { st, vgic } = setup();
    const dead = 7, alive = 8;
    Atomics.store(st.i32, st.cpu(1) + 4 /* C_AP_LOCK */, dead);
    Atomics.store(st.i32, st.lpi(9000), dead); // L_LOCK
    Atomics.store(st.i32, st.lpi(9001), alive);
    Atomics.store(st.i32, st.cache(0) + 1 /* K_LOCK */, dead);
    Atomics.store(st.i32, st.cache(0) /* K_SEQ */, 3); // caught mid-write
    vgic.recoverSpinlocks(dead, 1);
    expect(Atomics.load(st.i32, st.cpu(1) + 4)).toBe(0);
    expect(Atomics.load(st.i32, st.lpi(9000))).toBe(0);
    expect(Atomics.load(st.i32, st.lpi(9001))).toBe(alive);
    expect(Atomics.load(st.i32, st.cache(0) + 1)).toBe(0);
    expect(Atomics.load(st.i32, st.cache(0)) % 2).toBe(0);
  });
});
