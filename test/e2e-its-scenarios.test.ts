/**
 * The end-to-end scenarios of issue 3 on one real VM with 4 vCPUs and 2 ITSs:
 * the guest maps devices with the driver library (vCPU 0 issues the
 * commands), userspace injects with vm.signalMsi and injector threads, and
 * every vCPU counts the LPIs it acknowledges per INTID. "Exactly once on the
 * mapped vCPU" is checked after a barrier (a script round trip on every vCPU,
 * which handles everything queued before it): the guest's per-vCPU counts
 * and the model's delivery counter must agree, and no other vCPU may have
 * acknowledged the LPI.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import { runInjectors } from '../dist/src/vgic/injectors.js';
import { GITS_CREADR, GITS_CWRITER } from '../dist/src/uapi/gits.js';
import {
  acks, acksPerVcpu, barrier, bootConsoleVm, doorbell, expectDeliveredOn, lpiState, msi, R_TOTAL, R_VIOLATIONS,
  waitAcks, type ConsoleVm, type GuestConsole, type Step, mapSteps as map, cmdsStep as cmds, deliverOn, expectQuiet,
} from './helpers/e2e-console.js';

const deliver = (its: number, devid: number, eventId: number, intid: number, v: number) => deliverOn(vm, its, devid, eventId, intid, v);

let booted: ConsoleVm;
let vm: GicVm;
let con: GuestConsole[];
let c0: GuestConsole;

const totals = () => Array.from({ length: 4 }, (_, v) => Atomics.load(vm.results(v), R_TOTAL));
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);


beforeAll(async () => {
  booted = await bootConsoleVm({ vcpus: 4, gic: { its: 2 } });
  ({ vm, con } = booted);
  c0 = con[0]!;
  await c0.ok([
    { op: 'gicInit' },
    { op: 'itsInit', its: 0 },
    { op: 'itsInit', its: 1, twoLevel: true },
    cmds(0, ...[0, 1, 2, 3].map((v) => ['mapc', v, v])),
    cmds(1, ...[0, 1, 2, 3].map((v) => ['mapc', v, v])),
  ]);
});
afterAll(async () => {
  await vm?.destroy();
});
afterEach(() => expectQuiet(vm, con));

describe('e2e scenarios: 4 vCPUs, 2 ITSs, guest driver, userspace MSIs', () => {
  it('MAPD/MAPC/MAPTI on both ITSs, then every MSI lands exactly once on the mapped vCPU', async () => {
    // The same DeviceID on both ITSs (translations are per ITS), and a second device on ITS1 (two-level table).
    const lpis: { its: number; devid: number; e: number; intid: number; v: number }[] = [];
    for (let e = 0; e < 16; e++) lpis.push({ its: 0, devid: 1, e, intid: 8192 + e, v: e % 4 });
    for (let e = 0; e < 16; e++) lpis.push({ its: 1, devid: 1, e, intid: 8208 + e, v: (e + 1) % 4 });
    for (let e = 0; e < 8; e++) lpis.push({ its: 1, devid: 9000, e, intid: 8224 + e, v: (e + 2) % 4 });
    for (const [its, devid] of [[0, 1], [1, 1], [1, 9000]] as const) {
      await c0.ok(map(its, devid, lpis.filter((l) => l.its === its && l.devid === devid).map((l) => [l.e, l.intid, l.v])));
    }
    for (const l of lpis) expect(lpiState(vm, l.intid)).toMatchObject({ exists: true, target: l.v, pending: false });
    const t0 = totals();
    // Round 1 from the VMM thread, all at once.
    const r1 = await Promise.all(lpis.map((l) => msi(vm, l.its, l.devid, l.e)));
    expect(r1).toEqual(lpis.map(() => 1));
    for (const l of lpis) await waitAcks(vm, l.v, l.intid, 1);
    await barrier(con);
    for (const l of lpis) expectDeliveredOn(vm, l.intid, l.v, 1);
    expect(sum(totals()) - sum(t0)).toBe(lpis.length);
    // Round 2 from two injector threads (one per ITS), each LPI once more.
    const res = await runInjectors(vm.gic.injectorHandle(), [0, 1].map((its) => ({
      msis: lpis.filter((l) => l.its === its).map((l) => ({ address: doorbell(its), devid: l.devid, data: l.e })),
    })));
    expect(res.map((r) => [r.delivered, r.blocked, r.errors])).toEqual([[16, 0, 0], [24, 0, 0]]);
    for (const l of lpis) await waitAcks(vm, l.v, l.intid, 2);
    await barrier(con);
    for (const l of lpis) expectDeliveredOn(vm, l.intid, l.v, 2);
    expect(sum(totals()) - sum(t0)).toBe(2 * lpis.length);
  });

  it('MOVI retargets: later MSIs land on the new vCPU; a latched or queued LPI moves with its pending state and is delivered once', async () => {
    await c0.ok([
      { op: 'lpi', list: [[8300, true], [8301, false], [8302, true]] },
      cmds(0, ['mapd', 3, 4], ['mapti', 3, 0, 8300, 1], ['mapti', 3, 1, 8301, 1], ['mapti', 3, 2, 8302, 1]),
    ]);
    await deliver(0, 3, 0, 8300, 1);
    await c0.ok([cmds(0, ['movi', 3, 0, 2])]);
    expect(lpiState(vm, 8300).target).toBe(2);
    await deliver(0, 3, 0, 8300, 2);
    await c0.ok([cmds(0, ['movi', 3, 0, 0])]);
    await deliver(0, 3, 0, 8300, 0);
    await barrier(con);
    expect(acksPerVcpu(vm, 8300)).toEqual([1, 1, 1, 0]);

    // Latched (disabled) on vCPU 1, moved to vCPU 3, then enabled: delivered on 3 only.
    expect(await msi(vm, 0, 3, 1)).toBe(1);
    expect(lpiState(vm, 8301)).toMatchObject({ pending: true, target: 1 });
    await c0.ok([cmds(0, ['movi', 3, 1, 3])]);
    expect(lpiState(vm, 8301)).toMatchObject({ pending: true, target: 3 });
    await c0.ok([{ op: 'lpi', list: [[8301, true]] }, cmds(0, ['inv', 3, 1])]);
    await waitAcks(vm, 3, 8301, 1);

    // Queued on vCPU 1's ap_list while vCPU 1 has interrupts masked: MOVI takes it off there and vCPU 2 gets it.
    await con[1]!.ok([{ op: 'irqs', on: false }]);
    expect(await msi(vm, 0, 3, 2)).toBe(1);
    expect(vm.gic.vgic.hasPending(1)).toBe(true);
    await c0.ok([cmds(0, ['movi', 3, 2, 2])]);
    await waitAcks(vm, 2, 8302, 1);
    const [unmask] = await con[1]!.ok([{ op: 'irqs', on: true }]);
    expect(unmask!.acked).toBe(0);
    await barrier(con);
    expectDeliveredOn(vm, 8301, 3, 1);
    expectDeliveredOn(vm, 8302, 2, 1);
  });

  it('DISCARD stops delivery: signalMsi then returns 0 (from the VMM and from an injector thread), and a latched interrupt is dropped with the ITE', async () => {
    await c0.ok(map(1, 4, [[0, 8310, 3], [1, 8311, 3]]));
    await deliver(1, 4, 0, 8310, 3);
    await deliver(1, 4, 1, 8311, 3);
    await c0.ok([cmds(1, ['discard', 4, 0])]);
    expect(await msi(vm, 1, 4, 0)).toBe(0);
    const [r] = await runInjectors(vm.gic.injectorHandle(), [{ msis: [{ address: doorbell(1), devid: 4, data: 0 }], rounds: 200 }]);
    expect([r!.delivered, r!.blocked, r!.errors]).toEqual([0, 200, 0]);
    await deliver(1, 4, 1, 8311, 3); // the other event of the device is untouched
    // A pending (latched, disabled) LPI is discarded with its ITE: mapping it again brings no interrupt.
    await c0.ok([{ op: 'lpi', list: [[8312, false]] }, cmds(1, ['mapti', 4, 2, 8312, 2])]);
    expect(await msi(vm, 1, 4, 2)).toBe(1);
    expect(lpiState(vm, 8312).pending).toBe(true);
    await c0.ok([cmds(1, ['discard', 4, 2])]);
    expect(lpiState(vm, 8312)).toMatchObject({ exists: false, pending: false });
    await c0.ok([{ op: 'lpi', list: [[8312, true]] }, cmds(1, ['mapti', 4, 2, 8312, 2])]);
    await barrier(con);
    expect(lpiState(vm, 8312)).toMatchObject({ exists: true, pending: false, delivered: 0 });
    expectDeliveredOn(vm, 8310, 3, 1);
    expectDeliveredOn(vm, 8311, 3, 2);
  });

  it('disabling an LPI in the property table plus INV stops it; re-enabling plus INV delivers the latched one exactly once', async () => {
    await c0.ok(map(0, 5, [[0, 8320, 2]]));
    await deliver(0, 5, 0, 8320, 2);
    await c0.ok([{ op: 'lpi', list: [[8320, false]] }, cmds(0, ['inv', 5, 0])]);
    expect(lpiState(vm, 8320).enabled).toBe(false);
    for (let i = 0; i < 3; i++) expect(await msi(vm, 0, 5, 0)).toBe(1);
    await barrier(con);
    expect(lpiState(vm, 8320)).toMatchObject({ pending: true, delivered: 1 });
    expect(acksPerVcpu(vm, 8320)).toEqual([0, 0, 1, 0]);
    await c0.ok([{ op: 'lpi', list: [[8320, true]] }, cmds(0, ['inv', 5, 0])]);
    await waitAcks(vm, 2, 8320, 2);
    await barrier(con);
    expectDeliveredOn(vm, 8320, 2, 2); // three MSIs while disabled: one edge, one delivery
    await deliver(0, 5, 0, 8320, 2);
    await barrier(con);
    expectDeliveredOn(vm, 8320, 2, 3);
  });

  it('INT on an unmapped event has no effect and the queue keeps moving (CREADR advances, a following valid command takes effect)', async () => {
    await c0.ok(map(1, 6, [[0, 8330, 1]]));
    await barrier(con);
    const t0 = totals();
    const [c1, , c2, w2] = await c0.ok([
      { op: 'rd', its: 1, off: GITS_CREADR },
      cmds(1, ['int', 6, 5], ['int', 77, 0], ['int', 6, 0x1_0000], ['int', 6, 0]),
      { op: 'rd', its: 1, off: GITS_CREADR },
      { op: 'rd', its: 1, off: GITS_CWRITER },
    ]);
    expect(c2!.value).toBe((c1!.value + 4n * 32n) % 0x1_0000n);
    expect(c2!.value).toBe(w2!.value);
    await waitAcks(vm, 1, 8330, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8330, 1, 1);
    expect(sum(totals()) - sum(t0)).toBe(1); // the INTs on unmapped events raised nothing anywhere
  });
});
