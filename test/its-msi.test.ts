/**
 * The ITS side of MSI injection (spec 4.2 steps 3-4): Its.injectMsi, the slow
 * path after the caller's cache probe missed. Items 9.4 and 9.6-9.8 on the
 * ITS side; the KVM_SIGNAL_MSI front end (flags, doorbell, fast path) is the
 * caller's.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { harnessItt, ItsHarness, itsCmd as C } from './helpers/its-harness.js';
import type { Its } from '../dist/src/vgic/its/its.js';
import * as u from '../dist/src/uapi/index.js';
import { REQ_IRQ_PENDING } from '../dist/src/kvm/vcpu-block.js';
import { C_AP_COUNT, C_GICR_CTLR, D_GICD_CTLR, F_ENABLED, F_PENDING, L_QUEUED_ON } from '../dist/src/vgic/vgic-state.js';

const EBUSY = -u.EBUSY;

describe('ITS MSI slow path (injectMsi)', () => {
  let h: ItsHarness;
  let its: Its;
  const apCount = (v: number) => Atomics.load(h.st.i32, h.st.cpu(v) + C_AP_COUNT);
  const queuedOn = (intid: number) => Atomics.load(h.st.i32, h.st.lpi(intid) + L_QUEUED_ON);
  beforeEach(() => {
    h = new ItsHarness();
    its = h.enable(0);
    // Device 1: event 0 -> 8192 on collection 1 (vCPU 1); event 1 -> 8193 on collection 9 (never mapped).
    expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(1, 1), C.mapti(1, 0, 8192, 1), C.mapti(1, 1, 8193, 9)))
      .toEqual([0, 0, 0, 0]);
  });

  it('9.4 (ITS side) with the ITS enabled, a mapping and EnableLPIs=1: 1, pending, queued on the target, kicked, cached', () => {
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.vgic.lpiFlags(8192)).toBe(F_ENABLED | F_PENDING);
    expect(queuedOn(8192)).toBe(1);
    expect(apCount(1)).toBe(1);
    expect(h.vcpus.requests(1) & REQ_IRQ_PENDING).toBe(REQ_IRQ_PENDING);
    expect(h.cache.lookup(0, 1, 0)).toBe(8192);
    expect(its.stats.msi).toEqual({ delivered: 1, blocked: 0, busy: 0, other: 0 });
    // Acknowledging consumes it; the next MSI latches it again.
    expect(h.vgic.ack(1)).toBe(8192);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.vgic.ack(1)).toBe(8192);
  });

  it('9.6 with the ITS disabled the result is -EBUSY, whatever the IDs', () => {
    its.mmioWrite(u.GITS_CTLR, 4, 0n);
    expect(its.injectMsi(1, 0)).toBe(EBUSY);
    expect(its.injectMsi(77, 77)).toBe(EBUSY);
    expect(h.vgic.lpiFlags(8192) & F_PENDING).toBe(0);
    expect(h.cache.size(0)).toBe(0);
    expect(its.stats.msi.busy).toBe(2);
  });

  it('9.6 with the target vCPU\'s LPIs disabled (or a disable in progress) the result is -EBUSY', () => {
    h.setLpisEnabled(1, false);
    expect(its.injectMsi(1, 0)).toBe(EBUSY);
    Atomics.store(h.st.i32, h.st.cpu(1) + C_GICR_CTLR, 8); // RWP: "enabled" means exactly EnableLPIs
    expect(its.injectMsi(1, 0)).toBe(EBUSY);
    expect(h.vgic.lpiFlags(8192) & F_PENDING).toBe(0);
    expect(h.cache.size(0)).toBe(0);
    h.setLpisEnabled(1, true);
    expect(its.injectMsi(1, 0)).toBe(1);
  });

  it('9.7 an unmapped DeviceID/EventID, or an ITE whose collection is unmapped or gone, gives 0', () => {
    expect(its.injectMsi(2, 0)).toBe(0);
    expect(its.injectMsi(1, 2)).toBe(0);
    expect(its.injectMsi(1, 31)).toBe(0);
    expect(its.injectMsi(0x1_0000, 0)).toBe(0);
    expect(its.injectMsi(0xffff_ffff, 0xffff_ffff)).toBe(0);
    expect(its.injectMsi(-1, -1)).toBe(0);
    expect(its.injectMsi(1, 1)).toBe(0); // collection 9 was never MAPC'd
    expect(h.vgic.lpiFlags(8193) & F_PENDING).toBe(0);
    expect(h.run1(0, C.mapc(1, 0, false))).toBe(0);
    expect(its.injectMsi(1, 0)).toBe(0); // collection removed under the ITE
    expect(h.vgic.lpiFlags(8192) & F_PENDING).toBe(0);
    expect(h.cache.size(0)).toBe(0);
    expect(its.stats.msi.blocked).toBe(8);
  });

  it('9.8 an LPI disabled in the property table: 1, latched pending, delivered only after INV sees Enable=1', () => {
    h.setLpiProp(8192, 0x80, false);
    expect(h.run1(0, C.inv(1, 0))).toBe(0);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.vgic.lpiFlags(8192)).toBe(F_PENDING);
    expect(apCount(1)).toBe(0);
    h.setLpiProp(8192, 0x80, true);
    expect(apCount(1)).toBe(0); // the config byte is cached in the LPI until INV/INVALL
    expect(h.run1(0, C.inv(1, 0))).toBe(0);
    expect(queuedOn(8192)).toBe(1);
    expect(h.vgic.ack(1)).toBe(8192);
  });

  it('9.8 ... or after INVALL on the collection', () => {
    h.setLpiProp(8192, 0x80, false);
    expect(h.run1(0, C.invall(1))).toBe(0);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(apCount(1)).toBe(0);
    h.setLpiProp(8192, 0x80, true);
    expect(h.run1(0, C.invall(1))).toBe(0);
    expect(queuedOn(8192)).toBe(1);
  });

  it('with the distributor disabled the MSI is still accepted (1) and stays pending, unqueued', () => {
    Atomics.store(h.st.i32, D_GICD_CTLR, 0);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.vgic.lpiFlags(8192) & F_PENDING).toBe(F_PENDING);
    expect(apCount(1)).toBe(0);
  });

  it('only a delivered MSI caches its translation; the cache entry goes with the mapping', () => {
    expect(its.injectMsi(1, 1)).toBe(0);
    expect(h.cache.lookup(0, 1, 1)).toBe(-1);
    expect(its.injectMsi(1, 0)).toBe(1);
    expect(h.cache.lookup(0, 1, 0)).toBe(8192);
    expect(h.run1(0, C.discard(1, 0))).toBe(0);
    expect(h.cache.lookup(0, 1, 0)).toBe(-1);
    expect(h.locksFree()).toBe(true);
  });
});
