/**
 * Interrupt conservation (issue 7): every MSI that KVM_SIGNAL_MSI accepted
 * leaves its LPI pending or delivered at least once after it, across
 * pause/resume, MOVI/MOVALL, an in-place save/restore and a migration, on a
 * real VM (the churn guest keeps moving the tracked LPIs between vCPUs while
 * injector threads storm them). And the checker itself: it counts a pending
 * latch dropped behind its back as lost, and a delivery nobody caused as a
 * phantom.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import { ConservationLedger, formatConservation, type LpiDeliveryProbe } from '../dist/src/reliability/conservation.js';
import { bootChurnVm, churnPlan, churnRounds, restoreChurnVm, saveRestoreInPlace } from '../dist/src/reliability/churn-vm.js';
import { startLedgerStorm, type LedgerStorm } from '../dist/src/reliability/storm.js';
import { saveVm } from '../dist/src/migrate/steps.js';
import { translationView } from '../dist/src/vgic/equivalence.js';
import { createVm } from '../dist/src/index.js';
import { waitForItsSetup } from '../dist/src/guest/setup-wait.js';
import { HANG_MS, waitForWord, waitUntil } from './helpers/wait.js';

const vms: GicVm[] = [];
const storms: LedgerStorm[] = [];
afterEach(async () => {
  await Promise.all(storms.splice(0).map((s) => s.stop().catch(() => undefined)));
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** A probe over plain numbers, for the checker's arithmetic alone. */
function tableProbe(state: Map<number, { delivered: number; pending: boolean }>): LpiDeliveryProbe {
  return { delivered: (i) => state.get(i)!.delivered, deliveryState: (i) => ({ ...state.get(i)! }) };
}

describe('conservation checker: what counts as lost, phantom and coalesced', () => {
  it('an accepted MSI is satisfied by a later delivery or a pending latch; coalescing is allowed; a loss is counted once per MSI', () => {
    const ledger = ConservationLedger.create([8192, 8193, 8194]);
    const st = new Map([[8192, { delivered: 0, pending: false }], [8193, { delivered: 0, pending: false }], [8194, { delivered: 0, pending: false }]]);
    const probe = tableProbe(st);
    const accept = (intid: number) => ledger.signal({ signalMsi: () => 1 }, null, intid, probe);
    // 8192: three MSIs coalesce into one delivery. 8193: pending. 8194: accepted, then neither.
    accept(8192); accept(8192); accept(8192);
    st.set(8192, { delivered: 1, pending: false });
    accept(8193);
    st.set(8193, { delivered: 0, pending: true });
    accept(8194);
    const r = ledger.check(probe);
    expect(r).toMatchObject({ lpis: 3, accepted: 5, delivered: 1, pending: 1, coalesced: 2, lost: 1, lostLpis: [8194], phantom: 0, lostSinceLastCheck: 1 });
    expect(ledger.check(probe).lostSinceLastCheck).toBe(0);
    // A refused MSI is not a cause; deliveries beyond the accepted ones are phantoms.
    expect(ledger.signal({ signalMsi: () => -22 }, null, 8193, probe)).toBe(-22);
    st.set(8193, { delivered: 3, pending: false });
    expect(ledger.check(probe)).toMatchObject({ phantom: 2, phantomLpis: [8193] });
    expect(formatConservation(ledger.check(probe))).toMatch(/^lost 1 \(LPIs 8194\), phantom 2 \(LPIs 8193\)/);
  });

  it('carryOver spans a migration: deliveries on the old VM count, the new VM counts from zero', () => {
    const ledger = ConservationLedger.create([8192]);
    const src = new Map([[8192, { delivered: 0, pending: false }]]);
    ledger.signal({ signalMsi: () => 1 }, null, 8192, tableProbe(src));
    src.set(8192, { delivered: 1, pending: false });
    ledger.carryOver(tableProbe(src));
    const dst = new Map([[8192, { delivered: 0, pending: false }]]);
    expect(ledger.check(tableProbe(dst))).toMatchObject({ accepted: 1, delivered: 1, lost: 0, phantom: 0 });
    ledger.signal({ signalMsi: () => 1 }, null, 8192, tableProbe(dst));
    expect(ledger.check(tableProbe(dst))).toMatchObject({ lost: 1 });
  });
});

const PLAN = { vcpus: 3, its: 2, events: 8, churnEvents: 4, seed: 7, validator: true };

async function boot(): Promise<{ vm: GicVm; ledger: ConservationLedger; plan: ReturnType<typeof churnPlan> }> {
  const plan = churnPlan(PLAN);
  const vm = await bootChurnVm(plan);
  vms.push(vm);
  return { vm, ledger: ConservationLedger.create(plan.tracked), plan };
}

/** With the VM paused: one MSI per LPI of `msis` from the VMM, recorded in the ledger; they stay pending until resumed. */
async function latch(vm: GicVm, ledger: ConservationLedger, msis: { msi: { address: number; data: number; devid: number }; intid: number }[]): Promise<void> {
  for (const m of msis) {
    const before = ledger.totalDelivered(m.intid, vm.gic.vgic);
    expect(await vm.signalMsi(m.msi)).toBe(1);
    ledger.accepted(m.intid, before);
  }
}

/** Wait until the storm has `more` accepted MSIs and the guest `rounds` more command rounds. */
async function progress(vm: GicVm, storm: LedgerStorm, more: number, rounds: number): Promise<void> {
  const a0 = storm.figures().accepted, r0 = churnRounds(vm).rounds;
  await waitUntil(() => churnRounds(vm).error !== 0 || (storm.figures().accepted >= a0 + more && churnRounds(vm).rounds >= r0 + rounds),
    'storm and command churn progress', HANG_MS);
  expect(churnRounds(vm).error).toBe(0);
}

describe('conservation on a live VM (tracked LPIs moved by MOVI/MOVALL while stormed)', () => {
  it('no accepted MSI is lost and none is delivered without cause, across pause/resume, save/restore in place and migration', async () => {
    const { vm: src, ledger, plan } = await boot();
    let vm = src;
    let storm = startLedgerStorm(vm.gic.injectorHandle(), ledger.buffer, plan.msisPerIts);
    storms.push(storm);
    await progress(vm, storm, 2000, 20);

    // Pause/resume with the storm going on: MSIs latch while the vCPUs are out of KVM_RUN.
    for (let i = 0; i < 3; i++) {
      expect(await vm.pause()).toBe(0);
      const a = storm.figures().accepted;
      await waitUntil(() => storm.figures().accepted >= a + 200, 'MSIs accepted while paused');
      expect(await vm.resume()).toBe(0);
      await progress(vm, storm, 500, 5);
    }

    // Save and restore in place, the storm held (nothing in flight while pending state is written out).
    for (let i = 0; i < 2; i++) {
      expect(await storm.hold()).toBe(true);
      expect(await vm.pause()).toBe(0);
      await latch(vm, ledger, plan.msisPerIts[i]!);
      const atSave = ledger.check(vm.gic.vgic);
      expect(atSave).toMatchObject({ lost: 0, phantom: 0 });
      expect(atSave.pending).toBeGreaterThanOrEqual(PLAN.events);
      await saveRestoreInPlace(vm);
      // RESET dropped every LPI; RESTORE_TABLES brought them back with the pending bits SAVE_PENDING_TABLES wrote.
      expect(ledger.check(vm.gic.vgic)).toMatchObject({ lost: 0, phantom: 0, pending: atSave.pending });
      expect(await vm.resume()).toBe(0);
      storm.release();
      await progress(vm, storm, 500, 5);
    }

    // Migration: the ledger carries the source's deliveries over; the destination's guest resumes its churn.
    expect(await storm.hold()).toBe(true);
    expect(await vm.pause()).toBe(0);
    await latch(vm, ledger, [...plan.msisPerIts.flat(), ...plan.sentinels]);
    const snap = await saveVm(vm);
    const atSave = ledger.check(vm.gic.vgic);
    expect(atSave).toMatchObject({ lost: 0, phantom: 0 });
    await storm.stop();
    ledger.carryOver(vm.gic.vgic);
    const dst = await restoreChurnVm(plan, snap);
    vms.push(dst);
    // Before the destination runs, everything the source had pending is pending there.
    expect(atSave.pending).toBe(plan.tracked.length);
    expect(ledger.check(dst.gic.vgic)).toMatchObject({ lost: 0, phantom: 0, pending: atSave.pending });
    await vm.destroy();
    vm = dst;
    expect(await vm.start()).toBe(0);
    storm = startLedgerStorm(vm.gic.injectorHandle(), ledger.buffer, plan.msisPerIts);
    storms.push(storm);
    await progress(vm, storm, 1000, 10);

    const figures = await storm.stop();
    const r = ledger.check(vm.gic.vgic);
    expect(r.lost, formatConservation(r)).toBe(0);
    expect(r.phantom, formatConservation(r)).toBe(0);
    expect(r.accepted).toBeGreaterThan(4000);
    expect(r.delivered).toBeGreaterThan(0);
    expect(figures.refused).toBe(0);
    expect(vm.faults).toEqual([]);
    expect(vm.lockFindings()).toEqual([]);
  });

  it('a pending latch dropped behind the ledger is counted as lost; a latch set behind it, once delivered, as a phantom', async () => {
    const { vm, ledger, plan } = await boot();
    expect(await vm.pause()).toBe(0);
    const [lost, phantom] = [plan.msisPerIts[0]![0]!, plan.msisPerIts[1]![0]!];
    const before = ledger.totalDelivered(lost.intid, vm.gic.vgic);
    expect(await vm.signalMsi(lost.msi)).toBe(1);
    ledger.accepted(lost.intid, before);
    expect(ledger.check(vm.gic.vgic)).toMatchObject({ lost: 0, pending: 1 });
    vm.gic.vgic.clearPending(lost.intid);
    expect(ledger.check(vm.gic.vgic)).toMatchObject({ lost: 1, lostLpis: [lost.intid] });

    expect(vm.gic.vgic.setPending(phantom.intid)).toBe(true);
    expect(await vm.resume()).toBe(0);
    await waitUntil(() => vm.gic.vgic.delivered(phantom.intid) >= 1, 'the uncaused LPI to be delivered');
    const r = ledger.check(vm.gic.vgic);
    expect(r).toMatchObject({ lost: 1, lostLpis: [lost.intid], phantom: 1, phantomLpis: [phantom.intid] });
  });
});

describe('conservation: a bare MOVALL and migration (KVM behaviour the checker exposes)', () => {
  it('an LPI moved by MOVALL without remapping its collection, pending at save, is lost by save/restore (spec 5.6: saved at its target, restored from its collection\'s)', async () => {
    // Event 0 -> collection 0 (vCPU 0), event 1 -> collection 1 (vCPU 1); the guest then does MOVALL 0 -> 1 only.
    const setup = {
      its: [0], deviceIdBits: 8, queueBytes: 0x1_0000, region: { base: 0x4001_0000, size: 6 * 2 ** 20 },
      devices: [{ its: 0, deviceId: 5, events: [{ eventId: 0, intid: 8192, icid: 0 }, { eventId: 1, intid: 8193, icid: 1 }] }],
    };
    const vm = await createVm({
      vcpus: 2, memory: 8 * 2 ** 20, gic: { its: 1 },
      guest: { module: new URL('./fixtures/guest-bare-movall.mjs', import.meta.url).href, args: { setup, from: 0, to: 1 } },
    });
    vms.push(vm);
    expect(await vm.start()).toBe(0);
    expect(await waitForItsSetup(vm)).toBe(0);
    expect(await waitForWord(vm.results(0), 0, (v) => v !== 0, 'the guest\'s MOVALL')).toBe(1);
    expect(vm.gic.vgic.lpiTarget(8192)).toBe(1);
    expect(await vm.pause()).toBe(0);
    const ledger = ConservationLedger.create([8192, 8193]);
    const doorbell = 0x0c00_0000 + 0x1_0040;
    await latch(vm, ledger, [8192, 8193].map((intid) => ({ msi: { address: doorbell, data: intid - 8192, devid: 5 }, intid })));
    expect(ledger.check(vm.gic.vgic)).toMatchObject({ lost: 0, pending: 2 });
    await saveRestoreInPlace(vm);
    // 8192's bit went to vCPU 1's pending table (its target); RESTORE_TABLES re-created it on collection 0's vCPU 0 and read vCPU 0's.
    expect(vm.gic.vgic.lpiTarget(8192)).toBe(0);
    expect(ledger.check(vm.gic.vgic)).toMatchObject({ lost: 1, lostLpis: [8192], pending: 1 });
  });
});

describe('the churn guest after a migration', () => {
  it('a restored guest whose collection map is ahead of the ITS (a save between the map and the MAPCs) re-maps every collection from it, so tracked LPIs keep following their collections', async () => {
    const plan = churnPlan({ ...PLAN, its: 1 });
    const src = await bootChurnVm(plan);
    vms.push(src);
    await waitUntil(() => churnRounds(src).rounds >= 5, 'the guest\'s first command rounds');
    expect(await src.pause()).toBe(0);
    // What a save in the middle of a move leaves: the map says collection 0 went elsewhere, the ITS still has it where it was.
    const results = src.results(0);
    const mapWord = results.length - 8 - 1 * PLAN.vcpus + 0;
    const onIts = (await translationView(src.gic)).its[0]!.collections.find((c) => c.icid === 0)!.target;
    results[mapWord] = ((onIts + 1) % PLAN.vcpus) + 1;
    const snap = await saveVm(src);
    const dst = await restoreChurnVm(plan, snap);
    vms.push(dst);
    expect(await dst.start()).toBe(0);
    const r0 = churnRounds(dst).rounds;
    await waitUntil(() => churnRounds(dst).error !== 0 || churnRounds(dst).rounds >= r0 + 20, 'rounds on the destination');
    expect(churnRounds(dst).error).toBe(0);
    expect(await dst.pause()).toBe(0);
    const view = await translationView(dst.gic);
    const map = (icid: number) => (dst.results(0)[results.length - 8 - PLAN.vcpus + icid] || icid + 1) - 1;
    for (const c of view.its[0]!.collections) expect(c.target, `collection ${c.icid}: ITS and the guest's map agree`).toBe(map(c.icid));
    for (const m of view.its[0]!.mappings.filter((x) => plan.tracked.includes(x.intid))) {
      expect(dst.gic.vgic.lpiTarget(m.intid), `LPI ${m.intid} targets its collection's vCPU`).toBe(m.vcpu);
    }
  });
});
