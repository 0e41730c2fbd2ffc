/**
 * (b1) v7-2017: the 2017 save/restore patch's lock order (kvm.lock ->
 * its_lock -> trylock every vcpu.mutex) under guest CWRITER traffic
 * (vcpu.mutex -> cmd_lock -> its_lock on the ITS actor, attributed to the
 * vCPU). The trylocks make it safe: SAVE fails with -EBUSY while vCPUs run,
 * never deadlocks. But the first SAVE that succeeds (paused VM) takes
 * vcpu.mutex under its.its_lock, against today's declared hierarchy: the
 * validator reports that 'hierarchy' finding, which is what this scenario
 * expects. A trylock adds no dependency edge, so no inversion. A tried
 * lock protocol (options.lockProtocol) runs in its place and is expected
 * to be clean, as in (c).
 */
import type { Scenario } from '../scenario.js';
import { describeSaves, judgeClean, saveFigures, saveUnderTraffic } from '../save-under-traffic.js';

export const ITS_BEFORE_VCPU = ['its.its_lock', 'vcpu.mutex'];

export const v72017: Scenario = {
  name: 'v7-2017',
  letter: 'b1',
  title: 'the 2017 lock order (its_lock, then vCPU trylocks) under CWRITER traffic',
  expect: 'no deadlock; SAVE -EBUSY while running, 0 when paused; hierarchy finding its.its_lock -> vcpu.mutex',
  schedules: ['free', 'random', 'pct'],
  expects: { findings: ['hierarchy'] },
  expectWithProtocol: 'clean: no findings, no deadlock; SAVE -EBUSY while running, 0 when paused',
  async run(o, ctx) {
    // With options.lockProtocol the runner puts that protocol in place of 'v7-2017', judged as (c) judges 'upstream'.
    const r = await saveUnderTraffic(ctx, o, { lockProtocol: 'v7-2017' });
    const w = ctx.watch();
    if (o.lockProtocol !== undefined) return judgeClean(r, w);
    const h = w.findings.filter((f) => f.kind === 'hierarchy');
    const expected = h.some((f) => f.classes.join(' -> ') === ITS_BEFORE_VCPU.join(' -> '));
    const others = h.filter((f) => f.classes.join(' -> ') !== ITS_BEFORE_VCPU.join(' -> '));
    const ok = expected && others.length === 0 && w.deadlocks.length === 0 && r.error === undefined && !r.stopped
      && r.attempts > 0 && r.ebusy === r.attempts && r.pausedSaves > 0 && r.pausedSavesOk === r.pausedSaves;
    return {
      ok,
      observed: `${describeSaves(r)}; ${expected ? 'hierarchy finding its.its_lock -> vcpu.mutex' : 'NO hierarchy finding its.its_lock -> vcpu.mutex'}` +
        `${others.length ? `; other hierarchy findings: ${others.map((f) => f.classes.join(' -> ')).join(', ')}` : ''}`,
      figures: { ...saveFigures(r), hierarchy: h.length },
    };
  },
};
export default v72017;
