/**
 * Spec 9 behaviours owned by issue 3, end to end on one real VM: 4 vCPUs and
 * 2 ITSs, every vCPU running the console guest (test/fixtures/guest-e2e-console.mjs).
 * vCPU 0 is the boot CPU: it brings up the GIC and both ITSs with the guest
 * driver library and issues every ITS command (in guest RAM, published with
 * GITS_CWRITER writes); every vCPU handles the LPIs that reach it and counts
 * them per INTID. Userspace injects with vm.signalMsi.
 *
 * The VM is shared; each test uses its own DeviceIDs, INTIDs and (where it
 * matters) collection IDs, so tests do not depend on each other's state.
 * Collections 0..3 of both ITSs target vCPUs 0..3.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import { EBUSY, EINVAL } from '../dist/src/uapi/errno.js';
import { GITS_CREADR, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CTLR_QUIESCENT, GITS_CWRITER } from '../dist/src/uapi/gits.js';
import { GICR_PENDBASER, GICR_PROPBASER, KVM_MSI_VALID_DEVID } from '../dist/src/uapi/index.js';
import { ItsCache } from '../dist/src/vgic/its-cache.js';
import { defaultItsBase, GICD_BASE, GICR_BASE } from '../dist/src/vgic/layout.js';
import {
  acks, acksPerVcpu, barrier, bootConsoleVm, doorbell, expectDeliveredOn, lpiState, msi, R_VIOLATIONS, SCRATCH_GPA,
  waitAcks, type ConsoleVm, type GuestConsole, type Step, mapSteps as map, cmdsStep as cmds, deliverOn, expectQuiet,
} from './helpers/e2e-console.js';

const deliver = (its: number, devid: number, eventId: number, intid: number, v: number) => deliverOn(vm, its, devid, eventId, intid, v);

let booted: ConsoleVm;
let vm: GicVm;
let con: GuestConsole[];
let c0: GuestConsole;



const cacheSize = (its: number) => new ItsCache(vm.gic.st, vm.rt.tid).size(its);

beforeAll(async () => {
  booted = await bootConsoleVm({ vcpus: 4, gic: { its: 2 } });
  ({ vm, con } = booted);
  c0 = con[0]!;
  await c0.ok([
    { op: 'gicInit' },
    { op: 'itsInit', its: 0 },
    { op: 'itsInit', its: 1 },
    cmds(0, ...[0, 1, 2, 3].map((v) => ['mapc', v, v])),
    cmds(1, ...[0, 1, 2, 3].map((v) => ['mapc', v, v])),
  ]);
});

afterAll(async () => {
  await vm?.destroy();
});

afterEach(() => expectQuiet(vm, con));

describe('spec 9 on a VM with 4 vCPUs and 2 ITSs (guest driver, vm.signalMsi)', () => {
  it('9.5 KVM_SIGNAL_MSI without KVM_MSI_VALID_DEVID or outside every ITS frame is -EINVAL; any address inside a frame selects that ITS', async () => {
    // The same DeviceID/EventID on both ITSs, translating to different LPIs on different vCPUs.
    await c0.ok([...map(0, 50, [[0, 8250, 1]]), ...map(1, 50, [[0, 8251, 2]])]);
    const m = { devid: 50, data: 0 };
    expect(await vm.signalMsi({ ...m, address: doorbell(0), flags: 0 })).toBe(-EINVAL);
    expect(await vm.signalMsi({ ...m, address: doorbell(0), flags: KVM_MSI_VALID_DEVID | 2 })).toBe(-EINVAL);
    for (const address of [defaultItsBase(2), defaultItsBase(0) - 1, GICD_BASE, GICR_BASE, 0x4000_0000, 0]) {
      expect(await vm.signalMsi({ ...m, address }), `doorbell ${address.toString(16)}`).toBe(-EINVAL);
    }
    await barrier(con);
    expect(lpiState(vm, 8250)).toMatchObject({ pending: false, delivered: 0 });
    expect(lpiState(vm, 8251)).toMatchObject({ pending: false, delivered: 0 });
    // Any address in ITS0's frame is ITS0 (first byte, GITS_TRANSLATER, last word); same for ITS1.
    let n = 0;
    for (const off of [0, 0x1_0040, 0x1_fffc]) {
      expect(await vm.signalMsi({ ...m, address: defaultItsBase(0) + off })).toBe(1);
      await waitAcks(vm, 1, 8250, ++n);
    }
    n = 0;
    for (const off of [0, 0x8, 0x1_0040, 0x1_ffff]) {
      expect(await vm.signalMsi({ ...m, address: BigInt(defaultItsBase(1) + off) })).toBe(1);
      await waitAcks(vm, 2, 8251, ++n);
    }
    await barrier(con);
    expectDeliveredOn(vm, 8250, 1, 3);
    expectDeliveredOn(vm, 8251, 2, 4);
  });

  it('9.6 KVM_SIGNAL_MSI with the ITS disabled, or with the target vCPU\'s LPIs disabled, returns -EBUSY (a warm cache does not hide it)', async () => {
    await c0.ok([...map(1, 51, [[0, 8260, 1]]), ...map(0, 51, [[0, 8261, 2]])]);
    await deliver(1, 51, 0, 8260, 1); // the translation is cached now
    await c0.ok([cmds(1, ['disable'])]);
    expect(await msi(vm, 1, 51, 0)).toBe(-EBUSY);
    await c0.ok([cmds(1, ['enable'])]);
    await deliver(1, 51, 0, 8260, 1);

    await deliver(0, 51, 0, 8261, 2);
    await c0.ok([{ op: 'lpisOff', vcpu: 2 }]);
    expect(await msi(vm, 0, 51, 0)).toBe(-EBUSY);
    await barrier(con);
    expect(lpiState(vm, 8261).pending).toBe(false);
    await c0.ok([{ op: 'lpisOn', vcpu: 2 }]);
    await deliver(0, 51, 0, 8261, 2);
    await barrier(con);
    expectDeliveredOn(vm, 8260, 1, 2);
    expectDeliveredOn(vm, 8261, 2, 2);
  });

  it('9.7 KVM_SIGNAL_MSI for an unmapped DeviceID or EventID, or an ITE whose collection is unmapped, returns 0', async () => {
    // Event 1's collection 12 was never MAPC'd; event 2's collection 13 is unmapped again later.
    await c0.ok([
      cmds(0, ['mapc', 13, 3]),
      ...map(0, 52, [[0, 8270, 3], [1, 8271, 12], [2, 8272, 13]]),
    ]);
    expect(await msi(vm, 0, 999, 0)).toBe(0); // no such device
    expect(await msi(vm, 0, 0x1_0000, 0)).toBe(0); // DeviceID beyond 16 bits
    expect(await msi(vm, 0, 52, 5)).toBe(0); // no ITE for event 5
    expect(await msi(vm, 0, 52, 0x1_0000)).toBe(0); // EventID beyond 16 bits
    expect(await msi(vm, 0, 52, 1)).toBe(0); // collection never mapped
    await deliver(0, 52, 2, 8272, 3);
    await c0.ok([cmds(0, ['mapc', 13, 3, false])]); // MAPC V=0
    expect(await msi(vm, 0, 52, 2)).toBe(0);
    await deliver(0, 52, 0, 8270, 3); // the device itself still works
    await barrier(con);
    expect(lpiState(vm, 8271)).toMatchObject({ exists: true, pending: false, target: -1, delivered: 0 });
    expectDeliveredOn(vm, 8272, 3, 1);
    expectDeliveredOn(vm, 8270, 3, 1);
  });

  it('9.8 an MSI to an LPI whose config byte has Enable=0 returns 1, latches pending, and is delivered only after INV/INVALL once the byte has Enable=1', async () => {
    await c0.ok(map(1, 53, [[0, 8280, 2], [1, 8281, 3]], false));
    expect(await msi(vm, 1, 53, 0)).toBe(1);
    expect(await msi(vm, 1, 53, 1)).toBe(1);
    await barrier(con);
    expect(lpiState(vm, 8280)).toMatchObject({ pending: true, enabled: false, delivered: 0 });
    // INV while the byte still says disabled: nothing.
    await c0.ok([cmds(1, ['inv', 53, 0])]);
    await barrier(con);
    expect(lpiState(vm, 8280)).toMatchObject({ pending: true, enabled: false, delivered: 0 });
    // Enable=1 in the table alone: the LPI keeps its cached config, still nothing.
    await c0.ok([{ op: 'lpi', list: [[8280, true], [8281, true]] }]);
    await barrier(con);
    expect(lpiState(vm, 8280)).toMatchObject({ pending: true, enabled: false, delivered: 0 });
    expect(acksPerVcpu(vm, 8280)).toEqual([0, 0, 0, 0]);
    // INV re-reads the byte: the latched MSI is delivered, once, on the target.
    await c0.ok([cmds(1, ['inv', 53, 0])]);
    await waitAcks(vm, 2, 8280, 1);
    // INVALL (collection 3 = vCPU 3) does the same for event 1.
    expect(lpiState(vm, 8281)).toMatchObject({ pending: true, enabled: false });
    await c0.ok([cmds(1, ['invall', 3])]);
    await waitAcks(vm, 3, 8281, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8280, 2, 1);
    expectDeliveredOn(vm, 8281, 3, 1);
  });

  it('9.9 a guest write to GITS_TRANSLATER (base + 0x10040) never raises an LPI', async () => {
    await c0.ok(map(0, 54, [[0, 8290, 1], [1, 8291, 1]]));
    const unhandled = vm.vcpuCounters(0).unhandledMmio;
    const exits = vm.vcpuCounters(0).mmioExits;
    const [,,, rd] = await c0.ok([
      { op: 'wr', its: 0, off: 0x1_0040, size: 4, value: 0 },
      { op: 'wr', its: 0, off: 0x1_0040, size: 4, value: 1 },
      { op: 'wr', its: 0, off: 0x1_0040, size: 2, value: 0 },
      { op: 'rd', its: 0, off: 0x1_0040, size: 4 },
      { op: 'wr', its: 1, off: 0x1_0040, size: 4, value: 0 },
    ]);
    expect(rd!.value).toBe(0n);
    // The accesses reached the ITS (decoded, not unhandled) and were dropped there.
    expect(vm.vcpuCounters(0).mmioExits).toBeGreaterThanOrEqual(exits + 5);
    expect(vm.vcpuCounters(0).unhandledMmio).toBe(unhandled);
    await barrier(con);
    for (const intid of [8290, 8291]) expect(lpiState(vm, intid)).toMatchObject({ pending: false, delivered: 0 });
    expect(acksPerVcpu(vm, 8290)).toEqual([0, 0, 0, 0]);
    // The mapping is live: the same event through KVM_SIGNAL_MSI is delivered.
    await deliver(0, 54, 0, 8290, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8290, 1, 1);
  });

  it('9.10 after a CWRITER write with the ITS enabled, CREADR == CWRITER and GITS_CTLR.Quiescent = 1 when the store returns', async () => {
    const events = Array.from({ length: 32 }, (_, e): [number, number, number] => [e, 8300 + e, e % 4]);
    await c0.ok([{ op: 'lpi', list: events.map(([, intid]) => [intid, true]) }]);
    // One batch: MAPD + 32 MAPTI + SYNC written to the queue, published by a single GITS_CWRITER store,
    // then the registers read right after the store.
    const [, , creadr, cwriter, ctlr, q] = await c0.ok([
      {
        op: 'cmds', its: 1, wait: false,
        list: [['begin'], ['mapd', 55, 5], ...events.map(([e, intid, icid]) => ['mapti', 55, e, intid, icid]), ['sync', 0]],
      },
      { op: 'cmds', its: 1, list: [['flush']], wait: false },
      { op: 'rd', its: 1, off: GITS_CREADR },
      { op: 'rd', its: 1, off: GITS_CWRITER },
      { op: 'rd', its: 1, off: GITS_CTLR, size: 4 },
      { op: 'queueState', its: 1 },
    ]);
    expect(cwriter!.value).toBe(BigInt(q!.writeOffset));
    expect(creadr!.value).toBe(cwriter!.value);
    expect(ctlr!.value & BigInt(GITS_CTLR_QUIESCENT >>> 0)).toBe(BigInt(GITS_CTLR_QUIESCENT >>> 0));
    expect(ctlr!.value & BigInt(GITS_CTLR_ENABLE)).toBe(BigInt(GITS_CTLR_ENABLE));
    // Every command of the batch took effect.
    for (const [e, intid, v] of events) await deliver(1, 55, e, intid, v);
    await barrier(con);
    for (const [, intid, v] of events) expectDeliveredOn(vm, intid, v, 1);
  });

  it('9.14 disabling GITS_CTLR empties that ITS\'s translation cache (and only that one\'s)', async () => {
    await c0.ok([...map(1, 56, [[0, 8340, 3]]), ...map(0, 56, [[0, 8341, 3]])]);
    await deliver(1, 56, 0, 8340, 3);
    await deliver(0, 56, 0, 8341, 3);
    expect(cacheSize(1)).toBeGreaterThan(0);
    const its0Cached = cacheSize(0);
    expect(its0Cached).toBeGreaterThan(0);
    await c0.ok([cmds(1, ['disable'])]);
    expect(cacheSize(1)).toBe(0);
    expect(cacheSize(0)).toBe(its0Cached);
    // No stale fast-path hit: the MSI goes to the (disabled) ITS.
    expect(await msi(vm, 1, 56, 0)).toBe(-EBUSY);
    await c0.ok([cmds(1, ['enable'])]);
    await deliver(1, 56, 0, 8340, 3);
    await barrier(con);
    expectDeliveredOn(vm, 8340, 3, 2);
  });

  it('9.17 MAPTI on an already-mapped (DeviceID, EventID) is a silent no-op', async () => {
    await c0.ok([
      ...map(0, 57, [[0, 8350, 1]]),
      { op: 'lpi', list: [[8351, true]] },
      cmds(0, ['mapti', 57, 0, 8351, 2], ['mapi', 57, 0, 3]),
    ]);
    expect(lpiState(vm, 8351).exists).toBe(false);
    await deliver(0, 57, 0, 8350, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8350, 1, 1);
    expect(acksPerVcpu(vm, 8351)).toEqual([0, 0, 0, 0]);
  });

  it('9.18 MAPTI with a collection ID never MAPC\'d creates an unmapped collection; a later MAPC makes its LPIs deliverable and retargets them', async () => {
    await c0.ok(map(1, 58, [[0, 8360, 20], [1, 8361, 20]]));
    expect(lpiState(vm, 8360)).toMatchObject({ exists: true, target: -1 });
    expect(await msi(vm, 1, 58, 0)).toBe(0);
    // MOVI away from an unmapped collection is refused too (its collection is not mapped).
    await c0.ok([cmds(1, ['movi', 58, 1, 1])]);
    expect(lpiState(vm, 8361).target).toBe(-1);
    await c0.ok([cmds(1, ['mapc', 20, 3])]);
    expect(lpiState(vm, 8360).target).toBe(3);
    expect(lpiState(vm, 8361).target).toBe(3);
    await deliver(1, 58, 0, 8360, 3);
    await deliver(1, 58, 1, 8361, 3);
    await c0.ok([cmds(1, ['mapc', 20, 0])]); // remap: both LPIs follow the collection
    expect(lpiState(vm, 8361).target).toBe(0);
    await deliver(1, 58, 0, 8360, 0);
    await deliver(1, 58, 1, 8361, 0);
    await barrier(con);
    expect(acksPerVcpu(vm, 8360)).toEqual([1, 0, 0, 1]);
    expect(acksPerVcpu(vm, 8361)).toEqual([1, 0, 0, 1]);
    expect(lpiState(vm, 8360).delivered).toBe(2);
  });

  it('9.20 MAPD with Size+1 > 16 is rejected; MAPD on an existing device drops its ITEs (and their pending state); MAPD V=0 removes the device', async () => {
    const itt = SCRATCH_GPA + 0x1_0000;
    await c0.ok([
      { op: 'lpi', list: [[8370, true], [8371, false]] },
      cmds(0, ['send', { cmd: 'MAPD', deviceId: 59, size: 16, ittAddr: itt, valid: true }], ['mapti', 59, 0, 8370, 1]),
    ]);
    expect(lpiState(vm, 8370).exists).toBe(false);
    expect(await msi(vm, 0, 59, 0)).toBe(0);
    await c0.ok([cmds(0, ['mapd', 59, 2], ['mapti', 59, 0, 8370, 1], ['mapti', 59, 1, 8371, 2])]);
    await deliver(0, 59, 0, 8370, 1);
    expect(await msi(vm, 0, 59, 1)).toBe(1); // 8371 is disabled: latched
    expect(lpiState(vm, 8371)).toMatchObject({ exists: true, pending: true });
    // Remap the mapped device: its ITEs go, the LPIs with them (pending state included).
    await c0.ok([cmds(0, ['mapd', 59, 2])]);
    expect(lpiState(vm, 8370).exists).toBe(false);
    expect(lpiState(vm, 8371)).toMatchObject({ exists: false, pending: false });
    expect(await msi(vm, 0, 59, 0)).toBe(0);
    expect(await msi(vm, 0, 59, 1)).toBe(0);
    // The remapped device takes new ITEs; re-creating 8371 does not resurrect the old pending state.
    await c0.ok([{ op: 'lpi', list: [[8371, true]] }, cmds(0, ['mapti', 59, 0, 8370, 1], ['mapti', 59, 1, 8371, 2])]);
    expect(lpiState(vm, 8371)).toMatchObject({ exists: true, pending: false });
    await deliver(0, 59, 0, 8370, 1);
    // MAPD V=0.
    await c0.ok([cmds(0, ['mapd', 59, 2, false])]);
    expect(await msi(vm, 0, 59, 0)).toBe(0);
    expect(lpiState(vm, 8370).exists).toBe(false);
    await barrier(con);
    expect(acksPerVcpu(vm, 8370)).toEqual([0, 2, 0, 0]);
    expect(acksPerVcpu(vm, 8371)).toEqual([0, 0, 0, 0]);
  });

  it('9.21 DISCARD of an ITE whose collection is unmapped is rejected (the ITE stays)', async () => {
    await c0.ok([...map(0, 60, [[0, 8380, 21]]), cmds(0, ['discard', 60, 0])]);
    expect(lpiState(vm, 8380).exists).toBe(true);
    await c0.ok([cmds(0, ['mapc', 21, 1])]);
    await deliver(0, 60, 0, 8380, 1);
    // With the collection mapped, DISCARD works: the MSI is now blocked.
    await c0.ok([cmds(0, ['discard', 60, 0])]);
    expect(await msi(vm, 0, 60, 0)).toBe(0);
    expect(lpiState(vm, 8380).exists).toBe(false);
    await barrier(con);
    expect(acksPerVcpu(vm, 8380)).toEqual([0, 1, 0, 0]);
  });

  it('9.21 CLEAR drops the pending latch without requeueing', async () => {
    await c0.ok(map(1, 61, [[0, 8390, 2]], false));
    expect(await msi(vm, 1, 61, 0)).toBe(1);
    expect(lpiState(vm, 8390)).toMatchObject({ pending: true, delivered: 0 });
    await c0.ok([cmds(1, ['clear', 61, 0])]);
    expect(lpiState(vm, 8390).pending).toBe(false);
    await c0.ok([{ op: 'lpi', list: [[8390, true]] }, cmds(1, ['inv', 61, 0])]);
    await barrier(con);
    expect(lpiState(vm, 8390)).toMatchObject({ pending: false, enabled: true, delivered: 0 });
    expect(acksPerVcpu(vm, 8390)).toEqual([0, 0, 0, 0]);
    await deliver(1, 61, 0, 8390, 2);
    await barrier(con);
    expectDeliveredOn(vm, 8390, 2, 1);
  });

  it('9.21 INVALL touches the LPIs of all ITSs that target the collection\'s vCPU', async () => {
    await c0.ok([
      ...map(0, 62, [[0, 8400, 2]], false),
      ...map(1, 62, [[0, 8401, 2], [1, 8402, 3]], false),
    ]);
    for (const [its, e] of [[0, 0], [1, 0], [1, 1]]) expect(await msi(vm, its!, 62, e!)).toBe(1);
    await c0.ok([{ op: 'lpi', list: [[8400, true], [8401, true], [8402, true]] }]);
    await barrier(con);
    expect([8400, 8401, 8402].map((i) => lpiState(vm, i).delivered)).toEqual([0, 0, 0]);
    // INVALL on ITS0 for collection 2 (vCPU 2) re-reads ITS1's LPI on vCPU 2 as well, not the one on vCPU 3.
    await c0.ok([cmds(0, ['invall', 2])]);
    await waitAcks(vm, 2, 8400, 1);
    await waitAcks(vm, 2, 8401, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8400, 2, 1);
    expectDeliveredOn(vm, 8401, 2, 1);
    expect(lpiState(vm, 8402)).toMatchObject({ pending: true, enabled: false, delivered: 0 });
    await c0.ok([cmds(1, ['inv', 62, 1])]);
    await waitAcks(vm, 3, 8402, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8402, 3, 1);
  });

  it('9.32 disabling a vCPU\'s EnableLPIs takes its pending LPIs off its ap_list and empties every ITS\'s cache; PROPBASER/PENDBASER writes are ignored while LPIs are enabled', async () => {
    const c3 = con[3]!;
    await c0.ok([...map(0, 64, [[0, 8420, 3]]), ...map(1, 64, [[0, 8421, 2]])]);
    await deliver(0, 64, 0, 8420, 3);
    await deliver(1, 64, 0, 8421, 2);
    expect(cacheSize(0)).toBeGreaterThan(0);
    expect(cacheSize(1)).toBeGreaterThan(0);
    // vCPU 3 masks interrupts: the next LPI stays queued on its ap_list.
    await c3.ok([{ op: 'irqs', on: false }]);
    expect(await msi(vm, 0, 64, 0)).toBe(1);
    expect(vm.gic.vgic.hasPending(3)).toBe(true);
    expect((await c3.ok([{ op: 'hasPending' }]))[0]!.value).toBe(true);
    await c0.ok([{ op: 'lpisOff', vcpu: 3 }]);
    expect(vm.gic.vgic.hasPending(3)).toBe(false);
    expect(cacheSize(0)).toBe(0);
    expect(cacheSize(1)).toBe(0);
    expect(await msi(vm, 0, 64, 0)).toBe(-EBUSY);
    await deliver(1, 64, 0, 8421, 2); // other vCPUs are unaffected
    // Unmasking finds nothing to acknowledge: the LPI left the ap_list.
    const [unmask] = await c3.ok([{ op: 'irqs', on: true }]);
    expect(unmask!.acked).toBe(0);
    expect(acks(vm, 3, 8420)).toBe(1);

    // PROPBASER/PENDBASER of a redistributor with LPIs enabled are frozen; with LPIs disabled they are not.
    const [prop2, pend2, , , prop2b, pend2b, pend3, , pend3b] = await c0.ok([
      { op: 'rd', vcpu: 2, off: GICR_PROPBASER },
      { op: 'rd', vcpu: 2, off: GICR_PENDBASER },
      { op: 'wr', vcpu: 2, off: GICR_PROPBASER, value: 0x4200_0000n | 0x13n },
      { op: 'wr', vcpu: 2, off: GICR_PENDBASER, value: 0x4210_0000n },
      { op: 'rd', vcpu: 2, off: GICR_PROPBASER },
      { op: 'rd', vcpu: 2, off: GICR_PENDBASER },
      { op: 'rd', vcpu: 3, off: GICR_PENDBASER },
      { op: 'wr', vcpu: 3, off: GICR_PENDBASER, value: 0x4210_0000n },
      { op: 'rd', vcpu: 3, off: GICR_PENDBASER },
    ]);
    expect(prop2b!.value).toBe(prop2!.value);
    expect(pend2b!.value).toBe(pend2!.value);
    expect(pend3b!.value & 0xf_ffff_ffff_0000n).toBe(0x4210_0000n);
    // Put vCPU 3's pending table back and enable its LPIs again: it is reachable again.
    await c0.ok([{ op: 'wr', vcpu: 3, off: GICR_PENDBASER, value: pend3!.value }, { op: 'lpisOn', vcpu: 3 }]);
    await deliver(0, 64, 0, 8420, 3);
    await barrier(con);
    expectDeliveredOn(vm, 8420, 3, 2);
    expectDeliveredOn(vm, 8421, 2, 2);
  });

  it('9.22 MOVALL with identical RDbases is a no-op; with a nonexistent vcpu_id it is rejected', async () => {
    await c0.ok(map(1, 63, [[0, 8410, 1]]));
    await deliver(1, 63, 0, 8410, 1);
    await c0.ok([cmds(1, ['movall', 1, 1])]);
    expect(lpiState(vm, 8410).target).toBe(1);
    await deliver(1, 63, 0, 8410, 1);
    await c0.ok([cmds(1, ['movall', 1, 7]), cmds(1, ['movall', 7, 2])]);
    expect(lpiState(vm, 8410).target).toBe(1);
    await deliver(1, 63, 0, 8410, 1);
    // A valid MOVALL does move it (so the two above were really refused).
    await c0.ok([cmds(1, ['movall', 1, 2])]);
    expect(lpiState(vm, 8410).target).toBe(2);
    await deliver(1, 63, 0, 8410, 2);
    await barrier(con);
    expect(acksPerVcpu(vm, 8410)).toEqual([0, 3, 1, 0]);
  });
});
