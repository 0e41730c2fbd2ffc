/**
 * Scenario (e) 'migrate-storm': migration under an MSI storm. Injector
 * threads storm MSIs at a source VM whose vCPUs (2 or more) handle LPIs;
 * meanwhile the VMM keeps trying SAVE_TABLES, which must fail with -EBUSY
 * every time (a vCPU in KVM_RUN holds its vcpu.mutex). Then the VM is paused
 * under the storm (the MSIs that keep coming latch pending LPIs the paused
 * vCPUs cannot take), the storm stops, and the VM is saved and restored
 * into a new one in QEMU's order. The destination must be
 * translation-equivalent to the paused source, and nothing may be lost:
 *
 *  - every LPI pending at the save is delivered exactly once on the destination;
 *  - per LPI, the deliveries on source + destination lie between the
 *    MSIs accepted without finding the LPI pending (each started a pending
 *    episode of its own) and all accepted MSIs (an MSI that found the LPI
 *    pending may coalesce with it: the edge latch);
 *  - afterwards, one fresh MSI per LPI on the destination is delivered.
 */
import type { GicVm } from '../../create-vm.js';
import { saveVm } from '../../migrate/steps.js';
import { EBUSY, errnoName } from '../../uapi/errno.js';
import { KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../../uapi/kvm.js';
import { compareTranslation, translationView } from '../../vgic/equivalence.js';
import { F_PENDING } from '../../vgic/vgic-state.js';
import type { Scenario, ScenarioContext, ScenarioObservation, ScenarioOptions } from '../scenario.js';
import { startStormInjector, type StormCounts, type StormInjector, type StormMsi } from './migrate-storm-injector.js';
import { doorbell, restoreThroughContext, startSource, waitUnlessAborted } from './migrate-storm-restore.js';
import { sleep } from '../abortable.js';

const EVENTS_PER_DEVICE = 8;

interface Lpi { its: number; deviceId: number; eventId: number; intid: number; icid: number }

export const migrateStorm: Scenario = {
  name: 'migrate-storm',
  letter: 'e',
  title: 'migration under an MSI storm, with SAVE_TABLES attempts while the vCPUs run',
  expect: 'SAVE_TABLES -EBUSY while running; after pause, save and restore the destination is equivalent and no LPI is lost',
  schedules: ['free'],
  defaults: { vcpus: 2 },
  async run(options: ScenarioOptions, ctx: ScenarioContext): Promise<ScenarioObservation> {
    const vcpus = Math.min(8, Math.max(2, options.vcpus));
    const nrIts = Math.min(4, Math.max(1, options.its));
    const stormMs = Math.max(200, Math.min(600_000, options.seconds * 1000));
    // One injector thread per device, at least two; devices spread over the ITSs, LPIs over the vCPUs.
    const nrDevices = Math.max(2, nrIts);
    const offset = Math.floor(ctx.random() * vcpus);
    const lpis: Lpi[] = [];
    for (let d = 0; d < nrDevices; d++) {
      for (let e = 0; e < EVENTS_PER_DEVICE; e++) {
        const n = d * EVENTS_PER_DEVICE + e;
        lpis.push({ its: d % nrIts, deviceId: 32 + d, eventId: e, intid: 8192 + n, icid: (n + offset) % vcpus });
      }
    }
    const devices = Array.from({ length: nrDevices }, (_, d) => ({
      its: d % nrIts, deviceId: 32 + d, eventIdBits: 3,
      events: lpis.filter((l) => l.deviceId === 32 + d).map((l) => ({ eventId: l.eventId, intid: l.intid, icid: l.icid })),
    }));

    ctx.progress(0, 'migrate-storm: source');
    const src = await startSource(ctx, { vcpus, its: nrIts, devices });

    // The storm: each injector goes over its device's events in an order of its own.
    const lists: { msis: StormMsi[]; lpis: Lpi[] }[] = devices.map((d) => {
      const own = lpis.filter((l) => l.deviceId === d.deviceId);
      for (let i = own.length - 1; i > 0; i--) {
        const j = Math.floor(ctx.random() * (i + 1));
        [own[i], own[j]] = [own[j]!, own[i]!];
      }
      return { lpis: own, msis: own.map((l) => ({ address: doorbell(l.its), data: l.eventId, devid: l.deviceId, intid: l.intid })) };
    });
    const injectors: StormInjector[] = [];
    let counts: StormCounts[] | undefined;
    const stopAll = async () => (counts ??= await Promise.all(injectors.map((i) => i.stop())));
    const onAbort = () => void stopAll().catch(() => {});
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const figures: Record<string, number> = { vcpus, its: nrIts, msis: 0, ebusy: 0, attempts: 0, saves: 0, lost: 0, equivalent: 0 };
    try {
      lists.forEach((l, i) => injectors.push(startStormInjector(src.gic.injectorHandle(), i, l.msis)));
      const sentNow = () => injectors.reduce((a, i) => a + i.sent(), 0);

      // SAVE_TABLES attempts while the vCPUs run, at random intervals, on a random ITS.
      let unexpectedSave: number | undefined;
      const t0 = performance.now();
      while (!ctx.signal.aborted) {
        const its = src.gic.its[Math.floor(ctx.random() * nrIts)]!;
        const r = await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES);
        figures.attempts!++;
        if (r === -EBUSY) figures.ebusy!++;
        else unexpectedSave ??= r;
        const elapsed = performance.now() - t0;
        ctx.progress(0.05 + 0.55 * Math.min(1, elapsed / stormMs), `migrate-storm: storm, ${sentNow()} MSIs, ${figures.ebusy} -EBUSY`);
        if (elapsed >= stormMs) break;
        await sleep(Math.min(stormMs - elapsed, 20 + ctx.random() * 60), ctx.signal);
      }
      if (ctx.signal.aborted) return { observed: 'aborted during the storm', ok: false, figures };

      // Pause under the storm; let every injector go over its list once more, so the paused VM latches pending LPIs.
      const paused = await src.pause();
      if (paused !== 0) throw new Error(`source pause: ${errnoName(paused)}`);
      const atPause = injectors.map((i) => i.sent());
      await waitUnlessAborted(() => injectors.every((inj, k) => inj.sent() >= atPause[k]! + 2 * lists[k]!.msis.length), ctx.signal);
      const storm = await stopAll();
      ctx.signal.removeEventListener('abort', onAbort);
      if (ctx.signal.aborted) return { observed: 'aborted while pausing under the storm', ok: false, figures };

      // Per-LPI accounting of the source.
      const acc = new Map<number, { accepted: number; whilePending: number; refused: number }>();
      storm.forEach((c, k) => lists[k]!.lpis.forEach((l, j) => acc.set(l.intid, {
        accepted: c.accepted[j]!, whilePending: c.acceptedWhilePending[j]!, refused: c.refused[j]!,
      })));
      const refused = [...acc.values()].reduce((a, v) => a + v.refused, 0);
      const firstRefusal = storm.find((c) => c.refused.some((r) => r > 0))?.firstError;
      figures.sent = storm.reduce((a, c) => a + c.sent, 0);
      figures.msis = [...acc.values()].reduce((a, v) => a + v.accepted, 0);
      figures.refused = refused;
      const pendingAtPause = new Set(lpis.filter((l) => (src.gic.vgic.lpiFlags(l.intid) & F_PENDING) !== 0).map((l) => l.intid));
      const srcDelivered = new Map(lpis.map((l) => [l.intid, src.gic.vgic.delivered(l.intid)]));
      figures.pendingAtPause = pendingAtPause.size;

      // Save (the source is paused), restore into a new VM, compare.
      ctx.progress(0.65, 'migrate-storm: save and restore');
      const snap = await saveVm(src);
      figures.saves = nrIts; // saveVm throws unless SAVE_TABLES succeeded on every ITS
      const srcView = await translationView(src.gic);
      const dst = await restoreThroughContext(ctx, snap);
      const diff = compareTranslation(srcView, await translationView(dst.gic));
      figures.equivalent = diff.length === 0 ? 1 : 0;

      // Resume on the destination: the LPIs pending at pause are delivered, each once.
      ctx.progress(0.8, 'migrate-storm: destination');
      const started = await dst.start();
      if (started !== 0) throw new Error(`destination start: ${errnoName(started)}`);
      const dstTotal = () => lpis.reduce((a, l) => a + dst.gic.vgic.delivered(l.intid), 0);
      const drained = () => lpis.every((l) => (dst.gic.vgic.lpiFlags(l.intid) & F_PENDING) === 0);
      await waitUnlessAborted(() => dstTotal() >= pendingAtPause.size && drained(), ctx.signal, 10_000);
      let lost = 0, duplicated = 0, coalesced = 0;
      const dstDelivered = new Map(lpis.map((l) => [l.intid, dst.gic.vgic.delivered(l.intid)]));
      for (const l of lpis) {
        const a = acc.get(l.intid)!;
        const onDst = dstDelivered.get(l.intid)!;
        const total = srcDelivered.get(l.intid)! + onDst;
        const expectDst = pendingAtPause.has(l.intid) ? 1 : 0;
        // Missing deliveries: against "exactly once on the destination" and against the MSIs that could not coalesce.
        lost += Math.max(expectDst - onDst, a.accepted - a.whilePending - total, 0);
        duplicated += Math.max(onDst - expectDst, total - a.accepted, 0);
        coalesced += Math.max(0, a.accepted - total);
      }
      figures.coalesced = coalesced;

      // One fresh MSI per LPI on the destination: each must be delivered.
      ctx.progress(0.9, 'migrate-storm: fresh MSIs on the destination');
      const fresh = await freshMsis(ctx, dst, lpis, dstDelivered);
      lost += fresh.lost;
      figures.fresh = fresh.sent;
      figures.lost = lost;
      figures.duplicated = duplicated;
      ctx.progress(1, 'migrate-storm: done');
      if (ctx.signal.aborted) return { observed: 'aborted on the destination', ok: false, figures };

      const ok = figures.equivalent === 1 && lost === 0 && duplicated === 0 && refused === 0
        && figures.attempts! > 0 && figures.ebusy === figures.attempts;
      const observed = `${figures.msis} MSIs accepted (${coalesced} coalesced while pending, ${refused} refused` +
        `${refused > 0 ? `, first ${errnoName(firstRefusal ?? 0)}` : ''}); SAVE_TABLES while running: ${figures.ebusy}/${figures.attempts} -EBUSY` +
        `${unexpectedSave !== undefined ? ` (one returned ${errnoName(unexpectedSave)})` : ''}; after pause: ${figures.saves} saved; ` +
        `destination ${diff.length === 0 ? 'equivalent' : `not equivalent (${diff.length} differences, first: ${diff[0]!.where})`}; ` +
        `${pendingAtPause.size} LPIs pending at pause, ${lost} lost, ${duplicated} delivered twice`;
      return { observed, ok, figures };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await stopAll();
    }
  },
};

/** Signal every LPI once on the destination, one after the other, and wait until each is delivered. */
async function freshMsis(ctx: ScenarioContext, vm: GicVm, lpis: Lpi[], before: Map<number, number>): Promise<{ sent: number; lost: number }> {
  let accepted = 0;
  for (const l of lpis) if ((await vm.signalMsi({ address: doorbell(l.its), data: l.eventId, devid: l.deviceId })) === 1) accepted++;
  await waitUnlessAborted(() => lpis.every((l) => vm.gic.vgic.delivered(l.intid) >= before.get(l.intid)! + 1), ctx.signal, 10_000);
  const lost = lpis.filter((l) => vm.gic.vgic.delivered(l.intid) < before.get(l.intid)! + 1).length;
  return { sent: lpis.length, lost: Math.max(lost, lpis.length - accepted) };
}

export default migrateStorm;
