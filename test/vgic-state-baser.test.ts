/**
 * VgicState.propbaserAddress() / pendbaserAddress(): the table addresses
 * LPI creation reads without BigInts equal the uapi decoders' on the 64-bit
 * register values, for any bit pattern (fast-check, seeded).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gicrPendbaserAddress, gicrPropbaserAddress } from '../dist/src/uapi/gic-fields.js';
import { VgicState } from '../dist/src/vgic/vgic-state.js';

describe('VgicState table addresses without BigInts', () => {
  it('equal gicrPropbaserAddress / gicrPendbaserAddress of the stored registers', () => {
    const st = new VgicState(VgicState.create({ nrVcpus: 3, cacheCapacity: 2 }));
    const reg = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 64n - 1n, 0x000f_ffff_ffff_f000n, 0x0010_0000_0000_0fffn));
    fc.assert(fc.property(reg, reg, fc.nat(2), (prop, pend, v) => {
      st.setPropbaser(prop);
      st.setPendbaser(v, pend);
      expect(st.propbaserAddress()).toBe(gicrPropbaserAddress(st.propbaser()));
      expect(st.pendbaserAddress(v)).toBe(gicrPendbaserAddress(st.pendbaser(v)));
      expect(st.propbaserAddress()).toBe(gicrPropbaserAddress(prop));
    }), { seed: 0x6a5e, numRuns: 500 });
  });
});
