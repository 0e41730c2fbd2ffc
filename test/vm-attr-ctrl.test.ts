/**
 * The device-attribute API on real VMs (vCPU worker threads running a guest
 * that set the ITS up, the distributor and ITS actors, futex mutexes in the
 * lock arena): spec 9 items 1, 2, 3, 28 and 34, and SAVE_PENDING_TABLES (9.26,
 * VM side). Each test waits on events (guest handshake words, result
 * counters); timeouts only guard against hangs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, translationView, type GicVm } from '../dist/src/index.js';
import * as u from '../dist/src/uapi/index.js';
import { OP_MMIO_READ } from '../dist/src/actors/protocol.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';
import {
  bootVm, doorbell, handled, lockClass, lpi, pendBit, pendTable, R_PROPB_HI, R_PROPB_LO, R_SPIN, ram, waitHandled,
} from './helpers/vm-boot.js';
import { waitForWord, waitUntil } from './helpers/wait.js';

const { KVM_DEV_ARM_VGIC_GRP_ADDR: GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL: GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_ITS_REGS: GRP_ITS_REGS } = u;
const { KVM_DEV_ARM_ITS_SAVE_TABLES: SAVE, KVM_DEV_ARM_ITS_RESTORE_TABLES: RESTORE, KVM_DEV_ARM_ITS_CTRL_RESET: RESET } = u;

let vms: GicVm[] = [];
const track = (vm: GicVm) => vms.push(vm);
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy()));
  vms = [];
});

/** Device 7, events 0..3 -> LPIs 8192..8195, collection e % 2 (vCPU e % 2). */
const DEV7 = { deviceId: 7, events: [0, 1, 2, 3].map((e) => ({ eventId: e, intid: 8192 + e, icid: e % 2 })) };
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

describe('9.1 SAVE_TABLES, RESTORE_TABLES and CTRL_RESET return -EBUSY while any vCPU holds its mutex; state unchanged', () => {
  for (const variant of [
    { name: 'every vCPU idle in WFI', roles: { 0: ['setup', 'handle'], 1: ['handle'] } },
    { name: 'vCPU 1 running a busy guest', roles: { 0: ['setup', 'handle'], 1: ['spin'] } },
  ]) {
    it(`9.1 ${variant.name}`, async () => {
      const vm = await bootVm({ vcpus: 2, devices: [DEV7], roles: variant.roles }, track);
      // Some live state: an MSI delivered to vCPU 0 (its translation now cached).
      expect(await vm.signalMsi({ address: doorbell(0), data: 2, devid: 7 })).toBe(1);
      await waitHandled(vm, 0, 8194, 1);
      if (variant.roles[1]![0] === 'spin') {
        await waitForWord(vm.results(1), R_SPIN, (n) => n > 0, 'vCPU 1 spinning');
      } else {
        await waitUntil(() => vm.vcpuCounters(1).wfi > 0, 'vCPU 1 in WFI');
      }
      for (let v = 0; v < 2; v++) expect(vm.vcpuState(v)).toBe('running');

      const its = vm.gic.its[0]!;
      const before = { view: await translationView(vm.gic), snap: await its.snapshot(), ram: ram(vm) };
      const tryFails = lockClass(vm, 'vcpu.mutex').trylockFailures;
      expect(before.snap.enabled).toBe(true);
      expect(before.view.its[0]!.mappings).toHaveLength(4);

      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(-u.EBUSY);
      expect(await its.setAttr(GRP_CTRL, RESTORE)).toBe(-u.EBUSY);
      expect(await its.setAttr(GRP_CTRL, RESET)).toBe(-u.EBUSY);
      // An unknown CTRL attribute also says -EBUSY first: today's -ENXIO comes after the locks.
      expect(await its.setAttr(GRP_CTRL, 9)).toBe(-u.EBUSY);

      expect(lockClass(vm, 'vcpu.mutex').trylockFailures, 'each call failed a vcpu.mutex trylock').toBeGreaterThanOrEqual(tryFails + 4);
      expect(await its.snapshot()).toEqual(before.snap);
      expect(await translationView(vm.gic)).toEqual(before.view);
      expect(same(ram(vm), before.ram), 'SAVE wrote nothing to guest RAM').toBe(true);
      // RESET did not reset: the ITS still translates and delivers.
      expect(await vm.signalMsi({ address: doorbell(0), data: 2, devid: 7 })).toBe(1);
      await waitHandled(vm, 0, 8194, 2);

      // Positive control: once paused the same calls go through, and they do have effects.
      expect(await vm.pause()).toBe(0);
      const paused = ram(vm);
      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(0);
      expect(same(ram(vm), paused), 'SAVE wrote the tables').toBe(false);
      expect(await its.setAttr(GRP_CTRL, RESET)).toBe(0);
      expect(await its.snapshot()).toMatchObject({ enabled: false, devices: [], collections: [] });
      expect(await its.setAttr(GRP_CTRL, 9)).toBe(-u.ENXIO);
    });
  }
});

describe('9.2 CTRL_INIT', () => {
  it('9.2 CTRL_INIT returns 0 with vCPUs running, with no effect and no lock taken', async () => {
    const vm = await bootVm({ vcpus: 2, devices: [DEV7], roles: { 0: ['setup', 'handle'], 1: ['spin'] } }, track);
    await waitForWord(vm.results(1), R_SPIN, (n) => n > 0, 'vCPU 1 spinning');
    const its = vm.gic.its[0]!;
    const snap = await its.snapshot();
    const kvm = lockClass(vm, 'kvm.lock'), vcpu = lockClass(vm, 'vcpu.mutex');
    expect(its.hasAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_CTRL_INIT)).toBe(0);
    for (let i = 0; i < 3; i++) expect(await its.setAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_CTRL_INIT)).toBe(0);
    expect(await vm.gic.v3.setAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_CTRL_INIT)).toBe(0);
    expect(lockClass(vm, 'kvm.lock').acquisitions).toBe(kvm.acquisitions);
    expect(lockClass(vm, 'vcpu.mutex').trylockFailures).toBe(vcpu.trylockFailures);
    expect(await its.snapshot()).toEqual(snap);
    for (let v = 0; v < 2; v++) expect(vm.vcpuState(v)).toBe('running');
    // Control: a call that does lock is seen by lock_stat.
    expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(-u.EBUSY);
    expect(lockClass(vm, 'kvm.lock').acquisitions).toBe(kvm.acquisitions + 1);
  });
});

describe('9.3 GRP_ADDR', () => {
  it('9.3 twice -> -EEXIST, unaligned -> -EINVAL, beyond the 40-bit IPA -> -E2BIG, attr != 4 -> -ENODEV (vCPUs running, no kvm.lock)', async () => {
    const vm = await createVm({ vcpus: 2, memory: 2 ** 20, gic: { its: 2, setItsBases: false } });
    track(vm);
    expect(await vm.start()).toBe(0);
    const [its0, its1] = vm.gic.its as [typeof vm.gic.its[0], typeof vm.gic.its[0]];
    const kvm = lockClass(vm, 'kvm.lock').acquisitions;
    const base = BigInt(defaultItsBase(0));
    const TYPE = u.KVM_VGIC_ITS_ADDR_TYPE;

    expect(await its0.setAttr(GRP_ADDR, 3, base)).toBe(-u.ENODEV);
    expect(await its0.getAttr(GRP_ADDR, 3)).toEqual({ ret: -u.ENODEV });
    expect(its0.hasAttr(GRP_ADDR, 3)).toBe(-u.ENXIO);
    expect(await its0.setAttr(GRP_ADDR, TYPE, base + 0x1000n)).toBe(-u.EINVAL);
    expect(await its0.setAttr(GRP_ADDR, TYPE, base + 0x8000n)).toBe(-u.EINVAL);
    const ipa = 1n << 40n;
    expect(await its0.setAttr(GRP_ADDR, TYPE, ipa)).toBe(-u.E2BIG);
    expect(await its0.setAttr(GRP_ADDR, TYPE, ipa - 0x1_0000n)).toBe(-u.E2BIG); // the 128 KiB frame would end beyond
    expect(await its0.setAttr(GRP_ADDR, TYPE, 1n << 44n)).toBe(-u.E2BIG);
    // Nothing was recorded and nothing decodes.
    expect(await its0.getAttr(GRP_ADDR, TYPE)).toEqual({ ret: 0, value: u.VGIC_ADDR_UNDEF });
    expect(its0.baseAddress).toBeUndefined();
    expect(await vm.signalMsi({ address: base + 0x1_0040n, data: 0, devid: 1 })).toBe(-u.EINVAL);

    // The last frame that fits, and the normal one, while the vCPUs run.
    expect(await its1.setAttr(GRP_ADDR, TYPE, ipa - 0x2_0000n)).toBe(0);
    expect(await its0.setAttr(GRP_ADDR, TYPE, base)).toBe(0);
    expect(await its0.getAttr(GRP_ADDR, TYPE)).toEqual({ ret: 0, value: base });
    // The frame decodes now: the ITS answers (disabled: -EBUSY) instead of "no ITS here" (-EINVAL).
    expect(await vm.signalMsi({ address: base + 0x1_0040n, data: 0, devid: 1 })).toBe(-u.EBUSY);
    expect(await its0.setAttr(GRP_ADDR, TYPE, base)).toBe(-u.EEXIST);
    expect(await its0.setAttr(GRP_ADDR, TYPE, base + 0x4_0000n)).toBe(-u.EEXIST);
    expect(await its1.setAttr(GRP_ADDR, TYPE, base + 0x4_0000n)).toBe(-u.EEXIST);
    expect(await its0.getAttr(GRP_ADDR, TYPE)).toEqual({ ret: 0, value: base });
    expect(lockClass(vm, 'kvm.lock').acquisitions, 'GRP_ADDR takes no kvm.lock').toBe(kvm);
    for (let v = 0; v < 2; v++) expect(vm.vcpuState(v)).toBe('running');
  });
});

describe('9.28 GRP_ITS_REGS checks', () => {
  it('9.28 a misaligned offset is -EINVAL before any lock, even while vCPUs run; base unset is -EBUSY while running, -ENXIO when paused', async () => {
    const vm = await createVm({ vcpus: 2, memory: 2 ** 20, gic: { its: 2, setItsBases: false } });
    track(vm);
    const [its0, its1] = vm.gic.its as [typeof vm.gic.its[0], typeof vm.gic.its[0]];
    expect(await its0.setAttr(GRP_ADDR, u.KVM_VGIC_ITS_ADDR_TYPE, BigInt(defaultItsBase(0)))).toBe(0);
    expect(await vm.start()).toBe(0);
    const locks = () => ({ kvm: lockClass(vm, 'kvm.lock'), vcpu: lockClass(vm, 'vcpu.mutex') });
    const l0 = locks();

    for (const its of [its0, its1]) {
      for (const off of [0x2, 0x6, 0x84, 0x8c, 0x104, 0xffd2]) expect(await its.getAttr(GRP_ITS_REGS, off), `get 0x${off.toString(16)}`).toEqual({ ret: -u.EINVAL });
      for (const off of [0x1, 0x81, 0x94]) expect(await its.setAttr(GRP_ITS_REGS, off, 0n), `set 0x${off.toString(16)}`).toBe(-u.EINVAL);
      expect(its.hasAttr(GRP_ITS_REGS, 0x84)).toBe(-u.EINVAL);
    }
    const l1 = locks();
    expect(l1.kvm.acquisitions, 'no kvm.lock acquisition for a misaligned offset').toBe(l0.kvm.acquisitions);
    expect(l1.kvm.contentions).toBe(l0.kvm.contentions);
    expect(l1.vcpu.trylockFailures, 'no vcpu.mutex trylock').toBe(l0.vcpu.trylockFailures);

    // Aligned: the lock path runs (kvm.lock taken, the vCPU trylock fails), base set or not.
    expect(await its0.getAttr(GRP_ITS_REGS, u.GITS_CTLR)).toEqual({ ret: -u.EBUSY });
    expect(await its1.getAttr(GRP_ITS_REGS, u.GITS_CBASER)).toEqual({ ret: -u.EBUSY });
    expect(await its1.setAttr(GRP_ITS_REGS, u.GITS_CBASER, 0n)).toBe(-u.EBUSY);
    const l2 = locks();
    expect(l2.kvm.acquisitions).toBe(l1.kvm.acquisitions + 3);
    expect(l2.vcpu.trylockFailures).toBeGreaterThanOrEqual(l1.vcpu.trylockFailures + 3);

    expect(await vm.pause()).toBe(0);
    expect(await its1.getAttr(GRP_ITS_REGS, u.GITS_CBASER)).toEqual({ ret: -u.ENXIO });
    expect(await its1.setAttr(GRP_ITS_REGS, u.GITS_CBASER, 0n)).toBe(-u.ENXIO);
    expect(await its1.getAttr(GRP_ITS_REGS, 0x84)).toEqual({ ret: -u.EINVAL });
    const ctlr = await its0.getAttr(GRP_ITS_REGS, u.GITS_CTLR);
    expect(ctlr).toEqual({ ret: 0, value: BigInt(u.GITS_CTLR_QUIESCENT) });
  });
});

describe('9.34 ITS creation and PROPBASER', () => {
  it('9.34 creating an ITS resets PROPBASER to 0x580, as a running guest reading GICR_PROPBASER sees', async () => {
    const vm = await bootVm({ vcpus: 2, devices: [DEV7], roles: { 0: ['setup', 'handle'], 1: ['propbaser'] } }, track);
    const seen = () => (BigInt(Atomics.load(vm.results(1), R_PROPB_HI) >>> 0) << 32n) | BigInt(Atomics.load(vm.results(1), R_PROPB_LO) >>> 0);
    const programmed = vm.gic.st.propbaser();
    expect(u.gicrPropbaserAddress(programmed)).toBeGreaterThanOrEqual(0x4000_0000);
    await waitUntil(() => seen() === programmed, 'the guest to read its PROPBASER');
    expect(u.INITIAL_PROPBASER_VALUE).toBe(0x580n);

    const its1 = await vm.gic.createIts();
    expect(its1.index).toBe(1);
    expect(vm.gic.st.propbaser()).toBe(0x580n);
    await waitForWord(vm.results(1), R_PROPB_LO, (v) => v === 0x580, 'the guest to read 0x580 from GICR_PROPBASER');
    expect(seen()).toBe(0x580n);
    // A userspace (VMM) read of the register agrees.
    const { result, values } = await vm.rt.client.requestAsync(vm.gic.shared.distActor, OP_MMIO_READ, [1, u.GICR_PROPBASER, 8]);
    expect(result).toBe(0);
    expect(values[0]).toBe(0x580);
    expect(values[1]).toBe(0);
  });
});

describe('9.26 SAVE_PENDING_TABLES (VM side)', () => {
  it('9.26 pending LPIs are written into their target vCPU pending table; first KiB untouched, untargeted LPIs skipped; -EBUSY while running', async () => {
    // vCPU 1 never acknowledges: what targets it stays pending. Collection 9 is never mapped: LPI 8195 has no target.
    const dev = {
      deviceId: 7, events: [
        { eventId: 0, intid: 8192, icid: 1 }, // A: pending on vCPU 1 (not acknowledged)
        { eventId: 1, intid: 8193, icid: 0, enabled: false }, // B: pending on vCPU 0, masked
        { eventId: 2, intid: 8194, icid: 0 }, // C: delivered, not pending
        { eventId: 3, intid: 8195, icid: 9 }, // D: no target
        { eventId: 4, intid: 8196, icid: 1 }, // E: never signalled
      ],
    };
    const vm = await bootVm({
      vcpus: 2, devices: [dev], collections: [{ icid: 0, vcpu: 0 }, { icid: 1, vcpu: 1 }], roles: { 0: ['setup', 'handle'], 1: ['noack'] },
    }, track);
    const msi = (e: number) => vm.signalMsi({ address: doorbell(0), data: e, devid: 7 });
    expect(await msi(0)).toBe(1);
    expect(await msi(1)).toBe(1);
    expect(await msi(2)).toBe(1);
    expect(await msi(3)).toBe(0); // collection unmapped (9.7)
    await waitHandled(vm, 0, 8194, 1);
    expect(lpi(vm, 8192)).toMatchObject({ pending: true, target: 1, delivered: 0 });
    expect(lpi(vm, 8193)).toMatchObject({ pending: true, enabled: false, target: 0 });
    expect(lpi(vm, 8194)).toMatchObject({ pending: false, target: 0, delivered: 1 });
    expect(lpi(vm, 8195)).toMatchObject({ exists: true, pending: false, target: -1 });

    // Guest RAM the save must leave alone: a pattern over the first KiB of each pending table,
    // D's bit set in both tables; and a stale bit for C (not pending) that the save must clear.
    const mem = vm.rt.mem;
    const pattern = new Uint8Array(1024).fill(0xa5);
    for (let v = 0; v < 2; v++) expect(mem.write(pendTable(vm, v), pattern)).toBe(0);
    const byte = (v: number) => mem.read8(pendTable(vm, v) + 1024); // LPIs 8192..8199
    expect(mem.write8(pendTable(vm, 0) + 1024, (1 << 2) | (1 << 3))).toBe(0);
    expect(mem.write8(pendTable(vm, 1) + 1024, 1 << 3)).toBe(0);

    const running = ram(vm);
    expect(await vm.gic.v3.setAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)).toBe(-u.EBUSY);
    expect(same(ram(vm), running), '-EBUSY wrote nothing').toBe(true);

    expect(await vm.pause()).toBe(0);
    expect(await vm.gic.v3.setAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)).toBe(0);
    expect(byte(0), 'vCPU 0: B pending, C cleared, D untouched').toBe((1 << 1) | (1 << 3));
    expect(byte(1), 'vCPU 1: A pending, D untouched, E clear').toBe((1 << 0) | (1 << 3));
    expect(pendBit(vm, 1, 8192) && pendBit(vm, 0, 8193) && !pendBit(vm, 0, 8194) && !pendBit(vm, 1, 8196)).toBe(true);
    for (let v = 0; v < 2; v++) {
      const first = new Uint8Array(1024);
      expect(mem.readInto(pendTable(vm, v), first)).toBe(0);
      expect(same(first, pattern), `first KiB of vCPU ${v}'s pending table`).toBe(true);
    }
    // Only those two bytes changed in all of guest RAM.
    const after = ram(vm);
    const changed: number[] = [];
    for (let i = 0; i < after.length; i++) if (after[i] !== running[i]) changed.push(0x4000_0000 + i);
    expect(changed).toEqual([pendTable(vm, 0) + 1024, pendTable(vm, 1) + 1024].sort((a, b) => a - b));
    // Saving does not consume: the latches are still set.
    expect(lpi(vm, 8192).pending && lpi(vm, 8193).pending).toBe(true);
    expect(handled(vm, 1, 8192)).toBe(0);
  });
});
