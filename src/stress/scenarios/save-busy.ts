/**
 * (a) save-busy: the ITS save/restore ioctls against running vCPUs (today's
 * lock order). While vCPUs run (vCPU 0 writing ITS commands), SAVE_TABLES
 * and RESTORE_TABLES fail with -EBUSY: a vCPU in KVM_RUN holds its
 * vcpu.mutex and the ioctl only trylocks it. Paused, QEMU's round trip in
 * place succeeds: read the ITS registers, SAVE_TABLES, SAVE_PENDING_TABLES,
 * CTRL_RESET, write the registers back, RESTORE_TABLES, GITS_CTLR; the
 * translation view is unchanged and, resumed, the guest's command traffic
 * carries on. Repeated a few times over the run.
 */
import type { GicVm } from '../../create-vm.js';
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL,
  KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES,
} from '../../uapi/kvm.js';
import { GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CWRITER, GITS_IIDR, gitsBaserOffset } from '../../uapi/gits.js';
import { EBUSY, errnoName } from '../../uapi/errno.js';
import { compareTranslation, translationView } from '../../vgic/equivalence.js';
import { ABORTED, untilAborted } from '../abortable.js';
import { pick } from '../random.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { bootTrafficVm, guestError, rounds, waitRounds } from '../traffic.js';

const CYCLES = 3;
/** Restore order (QEMU's post_load): IIDR, CBASER (resets CREADR/CWRITER), CREADR, CWRITER, BASERs; CTLR after the tables. */
const REGS: [string, number][] = [
  ['IIDR', GITS_IIDR], ['CBASER', GITS_CBASER], ['CREADR', GITS_CREADR], ['CWRITER', GITS_CWRITER],
  ...Array.from({ length: 8 }, (_, n): [string, number] => [`BASER${n}`, gitsBaserOffset(n)]),
];

class Stop extends Error {}

/** The paused round trip on every ITS; throws Stop (aborted) or Error (a step failed). */
async function roundTrip(vm: GicVm, ctx: ScenarioContext, counts: { saves: number; restores: number }): Promise<void> {
  const step = async (what: string, p: Promise<number | { ret: number; value?: bigint }>) => {
    const r = await untilAborted(p, ctx.signal);
    if (r === ABORTED) throw new Stop();
    const ret = typeof r === 'number' ? r : r.ret;
    if (ret !== 0) throw new Error(`${what}: ${errnoName(ret)}`);
    return typeof r === 'number' ? 0n : r.value ?? 0n;
  };
  const before = await translationView(vm.gic);
  for (const its of vm.gic.its) {
    const regs = new Map<number, bigint>();
    for (const [name, off] of [...REGS, ['CTLR', GITS_CTLR] as [string, number]]) {
      regs.set(off, await step(`ITS ${its.index} read ${name}`, its.getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off)));
    }
    await step(`ITS ${its.index} SAVE_TABLES`, its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES));
    counts.saves++;
    await step('SAVE_PENDING_TABLES', vm.gic.v3.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES));
    await step(`ITS ${its.index} CTRL_RESET`, its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET));
    for (const [name, off] of REGS) await step(`ITS ${its.index} write ${name}`, its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off, regs.get(off)!));
    await step(`ITS ${its.index} RESTORE_TABLES`, its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES));
    counts.restores++;
    await step(`ITS ${its.index} write CTLR`, its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR, regs.get(GITS_CTLR)!));
  }
  const diff = compareTranslation(before, await translationView(vm.gic));
  if (diff.length > 0) throw new Error(`translation changed by the round trip: ${diff.slice(0, 3).map((d) => d.where).join(', ')}${diff.length > 3 ? ', ...' : ''}`);
}

export const saveBusy: Scenario = {
  name: 'save-busy',
  letter: 'a',
  title: 'SAVE_TABLES / RESTORE_TABLES against running vCPUs, then paused',
  expect: '-EBUSY while vCPUs run; paused: save, reset, restore all 0, translation unchanged; resumed: traffic carries on',
  schedules: ['free', 'random', 'pct'],
  async run(o, ctx) {
    const figures = { ebusy: 0, attempts: 0, saves: 0, restores: 0, cycles: 0, rounds: 0 };
    const other: string[] = [];
    const done = (ok: boolean, why?: string) => ({
      ok: ok && other.length === 0,
      observed: `SAVE/RESTORE -EBUSY ${figures.ebusy}/${figures.attempts} while running${other.length ? ` (also ${other.join(', ')})` : ''}; ` +
        `${figures.cycles}/${CYCLES} paused round trips (${figures.saves} saves, ${figures.restores} restores)${why ? `; ${why}` : ''}`,
      figures,
    });
    // A tried protocol (options.lockProtocol) replaces 'upstream' here (the runner): it must give the same results.
    const vm = await bootTrafficVm(ctx, o, { lockProtocol: 'upstream' });
    if (typeof vm === 'string') return done(false, vm);
    const r0 = rounds(vm);
    // A controlled schedule counts attempts instead of wall time, which would make the interleaving machine-dependent.
    const controlled = o.schedule.strategy !== 'free';
    const clock = (): number => (controlled ? figures.attempts : performance.now());
    const t0 = clock(), slice = controlled ? Math.max(2, Math.round((o.seconds * 40) / CYCLES)) : (o.seconds * 1000) / CYCLES;
    for (let c = 0; c < CYCLES; c++) {
      // Running: attempts land between the guest's command rounds until this slice of the run is over.
      while (clock() < t0 + slice * (c + 1) || figures.attempts === 0) {
        ctx.progress((clock() - t0) / (slice * CYCLES), `save-busy: attempts while running (cycle ${c + 1}/${CYCLES})`);
        const w = await waitRounds(vm, rounds(vm) + 1, ctx.signal);
        if (w === 'aborted') return done(false, 'stopped');
        if (w === 'timeout' || guestError(vm) !== 0) return done(false, `guest command traffic stopped (${errnoName(guestError(vm))})`);
        const its = vm.gic.its[pick(ctx.random, vm.gic.its.length)]!;
        const attr = ctx.random() < 0.5 ? KVM_DEV_ARM_ITS_SAVE_TABLES : KVM_DEV_ARM_ITS_RESTORE_TABLES;
        const r = await untilAborted(its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, attr), ctx.signal);
        if (r === ABORTED) return done(false, 'stopped');
        figures.attempts++;
        if (r === -EBUSY) figures.ebusy++;
        else if (!other.includes(errnoName(r))) other.push(r === 0 ? '0' : errnoName(r));
      }
      // Paused: the same ioctls go through.
      const p = await untilAborted(vm.pause(), ctx.signal);
      if (p === ABORTED) return done(false, 'stopped');
      if (p !== 0) return done(false, `pause: ${errnoName(p)}`);
      try {
        await roundTrip(vm, ctx, figures);
      } catch (e) {
        return done(false, e instanceof Stop ? 'stopped' : (e as Error).message);
      }
      figures.cycles++;
      const q = await untilAborted(vm.resume(), ctx.signal);
      if (q === ABORTED) return done(false, 'stopped');
      // Resumed: the guest's command loop carries on against the restored ITS.
      const w = await waitRounds(vm, rounds(vm) + 2, ctx.signal);
      if (w !== 'ok' || guestError(vm) !== 0) return done(false, `no command round after resume (${w}, guest ${errnoName(guestError(vm))})`);
    }
    figures.rounds = rounds(vm) - r0;
    return done(figures.ebusy === figures.attempts && figures.cycles === CYCLES);
  },
};
export default saveBusy;
