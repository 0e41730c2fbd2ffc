/**
 * End to end, spec 8 and 9.4: when an ITS frame decodes. Real VMs (vCPU
 * workers running the console guest, distributor and ITS actors). Under
 * 'base-address' (KVM >= v4.12) an ITS works as soon as its base is set, with
 * or without a vCPU run; under 'first-run' (before v4.12) frames are
 * registered once, by map_resources at the first vCPU run, so an ITS set up
 * after that is a blind spot: its MSIs fail with -EINVAL and the guest's
 * accesses to its frame are not decoded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EINVAL } from '../dist/src/uapi/errno.js';
import { KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE } from '../dist/src/uapi/kvm.js';
import { GITS_PIDR2 } from '../dist/src/uapi/gits.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';
import {
  barrier, bootConsoleVm, expectDeliveredOn, lpiState, msi, waitAcks, type ConsoleVm,
} from './helpers/e2e-console.js';
import { restoreIts } from './helpers/e2e-uaccess.js';

let booted: ConsoleVm | undefined;
afterEach(async () => {
  await booted?.vm.destroy();
  booted = undefined;
});

describe('e2e: ITS frames and the first run', () => {
  it('9.4 KVM_SIGNAL_MSI works before any vCPU has run once the base is set, the ITS enabled, mappings exist and the target has EnableLPIs=1', async () => {
    booted = await bootConsoleVm({ vcpus: 2, gic: { its: 1, iodevRegistration: 'base-address' } }, false);
    const { vm, con } = booted;
    // Before: mapped nothing, so the frame decodes but nothing translates.
    expect(await msi(vm, 0, 3, 1)).toBe(-16 /* -EBUSY: ITS disabled */);
    expect(await restoreIts(vm, 0, { devid: 3, eventId: 1, intid: 8300, vcpu: 1 })).toBe(96n);
    expect(vm.rt.bus.ready(), 'map_resources has not run').toBe(false);
    for (let v = 0; v < 2; v++) expect(vm.vcpuCounters(v).entries, `vCPU ${v} KVM_RUN entries`).toBe(0);
    expect(await msi(vm, 0, 3, 1)).toBe(1);
    expect(lpiState(vm, 8300)).toMatchObject({ exists: true, pending: true, enabled: true, target: 1, delivered: 0 });
    // The first run delivers it, exactly once, on the vCPU its collection names.
    expect(await vm.start()).toBe(0);
    await waitAcks(vm, 1, 8300, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8300, 1);
  });

  it("8 'first-run': an ITS set up before the first run decodes only from map_resources on", async () => {
    booted = await bootConsoleVm({ vcpus: 2, gic: { its: 1, iodevRegistration: 'first-run' } }, false);
    const { vm, con } = booted;
    expect(await restoreIts(vm, 0, { devid: 3, eventId: 1, intid: 8300, vcpu: 0 })).toBe(96n);
    // The translation exists, but no device is on the bus at the doorbell yet.
    expect(await msi(vm, 0, 3, 1)).toBe(-EINVAL);
    expect(lpiState(vm, 8300)).toMatchObject({ exists: true, pending: false });
    expect(await vm.start()).toBe(0);
    // start() resolves once every vCPU entered KVM_RUN; the first one ran map_resources before its guest code.
    await barrier(con);
    expect(vm.rt.bus.ready()).toBe(true);
    expect(await msi(vm, 0, 3, 1)).toBe(1);
    await waitAcks(vm, 0, 8300, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8300, 0);
  });

  for (const policy of ['first-run', 'base-address'] as const) {
    it(`e2e (${policy}): an MSI through an ITS configured after the first run is ${policy === 'first-run' ? 'lost' : 'delivered'}`, async () => {
      booted = await bootConsoleVm({ vcpus: 2, gic: { its: 1, iodevRegistration: policy } });
      const { vm, con } = booted;
      await barrier(con); // both vCPUs have run: map_resources is done
      expect(vm.rt.bus.ready()).toBe(true);
      // Hot-add a second ITS after the first run (KVM_CREATE_DEVICE + GRP_ADDR), before the guest brings the GIC up.
      const its1 = await vm.gic.createIts();
      expect(await its1.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, BigInt(defaultItsBase(1)))).toBe(0);
      expect(its1.baseAddress).toBe(defaultItsBase(1));

      // The guest: GIC, ITS0 (registered at the first run under both policies), mappings on ITS0.
      await con[0]!.ok([
        { op: 'gicInit' },
        { op: 'lpi', list: [[8200, true], [8201, true]] },
        { op: 'itsInit', its: 0 },
        { op: 'cmds', its: 0, list: [['mapc', 0, 0], ['mapc', 1, 1], ['mapd', 5, 2], ['mapti', 5, 0, 8200, 1]] },
      ]);
      expect(await msi(vm, 0, 5, 0)).toBe(1);
      await waitAcks(vm, 1, 8200, 1);

      // The guest now brings ITS1 up the same way.
      const unhandled = vm.vcpuCounters(0).unhandledMmio;
      const [pidr2, init] = await con[0]!.run([
        { op: 'rd', its: 1, off: GITS_PIDR2, size: 4 },
        { op: 'itsInit', its: 1 },
      ]);
      if (policy === 'first-run') {
        // Nothing decodes the frame: reads are RAZ, so the driver finds no ITS there.
        expect(pidr2!.value).toBe(0n);
        expect(init!.ret).toBe(-19 /* -ENODEV */);
        expect(init!.error?.where).toBe('ITS1 PIDR2');
        expect(vm.vcpuCounters(0).unhandledMmio).toBeGreaterThan(unhandled);
        // A device MSI through ITS1 finds no ITS on the bus.
        expect(await msi(vm, 1, 5, 0)).toBe(-EINVAL);
        // Even a guest that tries the commands anyway changes nothing: no LPI exists.
        expect(lpiState(vm, 8201).exists).toBe(false);
      } else {
        expect(pidr2!.value & 0xf0n).toBe(0x30n);
        expect(init!.ret).toBe(0);
        expect(vm.vcpuCounters(0).unhandledMmio).toBe(unhandled);
        await con[0]!.ok([{ op: 'cmds', its: 1, list: [['mapc', 0, 0], ['mapd', 5, 2], ['mapti', 5, 0, 8201, 0]] }]);
        expect(await msi(vm, 1, 5, 0)).toBe(1);
        await waitAcks(vm, 0, 8201, 1);
      }
      // ITS0 keeps working under both policies.
      expect(await msi(vm, 0, 5, 0)).toBe(1);
      await waitAcks(vm, 1, 8200, 2);
      await barrier(con);
      expectDeliveredOn(vm, 8200, 1, 2);
      if (policy === 'base-address') expectDeliveredOn(vm, 8201, 0);
    });
  }
});
