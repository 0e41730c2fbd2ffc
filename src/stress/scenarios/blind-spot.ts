/**
 * Scenario (d) 'blind-spot': the multi-ITS blind spot of the 2017 review
 * thread. Before v4.12, kvm_vgic_map_resources() registered the ITS frames
 * once, at the first vCPU run; an ITS whose base was set afterwards never
 * got on the MMIO bus. A migration destination that restores its ITSs one
 * after the other, the second one after the first vCPU run, then loses every
 * MSI through that ITS: KVM_SIGNAL_MSI cannot decode the doorbell (-EINVAL),
 * although the translation tables were restored and the equivalence checker
 * sees nothing wrong. Since v4.12 ('base-address') the frame decodes from
 * GRP_ADDR on and nothing is lost.
 *
 * One source VM (its guest maps a device per ITS, LPIs spread over the
 * vCPUs) is saved; for each registration policy a destination restores ITS 0,
 * runs its vCPUs (the first run: map_resources), pauses, restores ITSs 1..,
 * resumes; then MSIs go through every ITS in rounds, each round waiting until
 * what was accepted has been delivered, so no MSI coalesces and every one is
 * accounted for.
 */
import type { GicVm } from '../../create-vm.js';
import type { VmSnapshot } from '../../migrate/snapshot.js';
import { loadRam, loadResults, restoreItsCtlr, restoreItsRegisters, restoreRedistributors, saveVm, setItsBases } from '../../migrate/steps.js';
import { EINVAL, errnoName } from '../../uapi/errno.js';
import { KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../../uapi/kvm.js';
import { compareTranslation, translationView, type TranslationView } from '../../vgic/equivalence.js';
import type { IodevRegistration } from '../../vgic/layout.js';
import { MAX_ITS } from '../../vgic/vgic-state.js';
import type { Scenario, ScenarioContext, ScenarioObservation, ScenarioOptions } from '../scenario.js';
import { doorbell, onlyIts, snapshotVmOptions, startSource, waitUnlessAborted } from './migrate-storm-restore.js';

interface Lpi { its: number; deviceId: number; eventId: number; intid: number }

interface PolicyResult {
  /** MSIs through the ITSs restored after the first run (ITS 1..). */
  lateSent: number;
  lateLost: number;
  /** MSIs through ITS 0 (restored before the first run: must all be delivered). */
  firstSent: number;
  firstLost: number;
  /** signalMsi results -EINVAL (doorbell decoded by no ITS). */
  einval: number;
  /** Other results that were not 1, first one kept. */
  otherErrno?: number;
  /** The destination's translation view equals the source's. */
  equivalent: boolean;
}

const EVENTS_PER_DEVICE = 4;

function layout(nrIts: number): Lpi[] {
  const out: Lpi[] = [];
  for (let its = 0; its < nrIts; its++) {
    for (let e = 0; e < EVENTS_PER_DEVICE; e++) out.push({ its, deviceId: 16 + its, eventId: e, intid: 8192 + its * EVENTS_PER_DEVICE + e });
  }
  return out;
}

async function restoreInSequence(ctx: ScenarioContext, snap: VmSnapshot, policy: IodevRegistration, nrIts: number, srcView: TranslationView): Promise<{ vm: GicVm; equivalent: boolean }> {
  // Same lock protocol as the source (upstream): only the registration policy differs.
  const vm = await ctx.createVm(snapshotVmOptions(snap, undefined, { iodevRegistration: policy }));
  loadRam(vm, snap);
  loadResults(vm, snap);
  await restoreRedistributors(vm, snap);
  const restoreOne = async (n: number) => {
    const s = onlyIts(snap, n);
    await setItsBases(vm, s);
    await restoreItsRegisters(vm, s);
    const r = await vm.gic.its[n]!.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES);
    if (r !== 0) throw new Error(`RESTORE_TABLES on ITS ${n}: ${errnoName(r)}`);
    await restoreItsCtlr(vm, s);
  };
  await restoreOne(0);
  // The first vCPU run: map_resources registers what has a base by now (ITS 0).
  let r = await vm.start();
  if (r !== 0) throw new Error(`destination start: ${errnoName(r)}`);
  if ((r = await vm.pause()) !== 0) throw new Error(`destination pause: ${errnoName(r)}`);
  for (let n = 1; n < nrIts; n++) await restoreOne(n);
  const equivalent = compareTranslation(srcView, await translationView(vm.gic)).length === 0;
  if ((r = await vm.resume()) !== 0) throw new Error(`destination resume: ${errnoName(r)}`);
  return { vm, equivalent };
}

/** `rounds` rounds: every LPI signalled once, in a random order, then wait until what was accepted is delivered. */
async function sendRounds(ctx: ScenarioContext, vm: GicVm, lpis: Lpi[], rounds: number, res: PolicyResult, progress: (f: number) => void): Promise<void> {
  const sent = new Map<number, number>(lpis.map((l) => [l.intid, 0]));
  const accepted = new Map<number, number>(lpis.map((l) => [l.intid, 0]));
  for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
    const order = [...lpis];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(ctx.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const l of order) {
      const ret = await vm.signalMsi({ address: doorbell(l.its), data: l.eventId, devid: l.deviceId });
      sent.set(l.intid, sent.get(l.intid)! + 1);
      if (ret === 1) accepted.set(l.intid, accepted.get(l.intid)! + 1);
      else if (ret === -EINVAL) res.einval++;
      else res.otherErrno ??= ret;
    }
    // The next round starts once every accepted MSI was delivered: no MSI finds its LPI still pending (no coalescing).
    await waitUnlessAborted(() => lpis.every((l) => vm.gic.vgic.delivered(l.intid) >= accepted.get(l.intid)!), ctx.signal, 10_000);
    progress((round + 1) / rounds);
  }
  // Lost: sent and never delivered (refused, or accepted and still not delivered).
  for (const l of lpis) {
    const n = sent.get(l.intid)!;
    const lost = n - Math.min(vm.gic.vgic.delivered(l.intid), accepted.get(l.intid)!);
    if (l.its === 0) {
      res.firstSent += n;
      res.firstLost += lost;
    } else {
      res.lateSent += n;
      res.lateLost += lost;
    }
  }
}

export const blindSpot: Scenario = {
  name: 'blind-spot',
  letter: 'd',
  title: 'multi-ITS restore after the first run: first-run registration vs base-address registration',
  expect: "'first-run' loses every MSI through the ITS restored after the first vCPU run; 'base-address' loses none",
  schedules: ['free'],
  defaults: { its: 2 },
  async run(options: ScenarioOptions, ctx: ScenarioContext): Promise<ScenarioObservation> {
    const nrIts = Math.min(MAX_ITS, Math.max(2, options.its));
    const vcpus = Math.min(8, Math.max(1, options.vcpus));
    const lpis = layout(nrIts);
    const devices = Array.from({ length: nrIts }, (_, its) => ({
      its, deviceId: 16 + its, eventIdBits: 2,
      events: lpis.filter((l) => l.its === its).map((l) => ({ eventId: l.eventId, intid: l.intid, icid: Math.floor(ctx.random() * vcpus) })),
    }));
    const rounds = 4 + Math.floor(ctx.random() * 5);
    ctx.progress(0, 'blind-spot: source');
    const src = await startSource(ctx, { vcpus, its: nrIts, devices });
    const snap = await saveVm(src);
    const srcView = await translationView(src.gic);
    const results: Partial<Record<IodevRegistration, PolicyResult>> = {};
    const policies: IodevRegistration[] = ['first-run', 'base-address'];
    for (const [k, policy] of policies.entries()) {
      if (ctx.signal.aborted) break;
      ctx.progress(0.1 + 0.45 * k, `blind-spot: restore (${policy})`);
      const { vm, equivalent } = await restoreInSequence(ctx, snap, policy, nrIts, srcView);
      const res: PolicyResult = { lateSent: 0, lateLost: 0, firstSent: 0, firstLost: 0, einval: 0, equivalent };
      await sendRounds(ctx, vm, lpis, rounds, res, (f) => ctx.progress(0.15 + 0.45 * k + 0.4 * f, `blind-spot: MSIs (${policy})`));
      results[policy] = res;
    }
    ctx.progress(1, 'blind-spot: done');
    const fr = results['first-run'], ba = results['base-address'];
    const figures: Record<string, number> = {
      firstRunSent: fr?.lateSent ?? 0, firstRunLost: fr?.lateLost ?? 0,
      baseAddressSent: ba?.lateSent ?? 0, baseAddressLost: ba?.lateLost ?? 0,
      firstRunEinval: fr?.einval ?? 0,
      its0Sent: (fr?.firstSent ?? 0) + (ba?.firstSent ?? 0), its0Lost: (fr?.firstLost ?? 0) + (ba?.firstLost ?? 0),
      equivalent: fr?.equivalent && ba?.equivalent ? 1 : 0,
      its: nrIts, vcpus, rounds,
    };
    if (ctx.signal.aborted || fr === undefined || ba === undefined) {
      return { observed: 'aborted before both policies ran', ok: false, figures };
    }
    const other = [fr.otherErrno, ba.otherErrno].filter((e) => e !== undefined).map((e) => errnoName(e!));
    const ok = fr.lateLost === fr.lateSent && fr.lateSent > 0 && ba.lateLost === 0 && fr.firstLost === 0 && ba.firstLost === 0;
    const late = nrIts === 2 ? 'ITS 1' : `ITSs 1..${nrIts - 1}`;
    const observed = `first-run: ${fr.lateLost}/${fr.lateSent} MSIs through ${late} lost (${fr.einval} -EINVAL), ` +
      `base-address: ${ba.lateLost}/${ba.lateSent} lost; ITS 0: ${figures.its0Lost}/${figures.its0Sent} lost; ` +
      `destinations translation-equivalent to the source: ${figures.equivalent ? 'yes' : 'no'}` +
      (other.length > 0 ? `; unexpected results: ${other.join(', ')}` : '');
    return { observed, ok, figures };
  },
};

export default blindSpot;
