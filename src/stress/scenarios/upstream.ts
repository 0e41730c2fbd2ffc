/**
 * (c) upstream: today's lock order (kvm.lock -> trylock every vcpu.mutex ->
 * config_lock -> its_lock) under the same CWRITER traffic, SAVE/RESTORE
 * attempts and MSIs. Expected: clean. No validator finding, no deadlock,
 * -EBUSY while vCPUs run, 0 once paused.
 */
import type { Scenario } from '../scenario.js';
import { describeSaves, saveFigures, saveUnderTraffic } from '../save-under-traffic.js';

export const upstream: Scenario = {
  name: 'upstream',
  letter: 'c',
  title: "today's lock order under CWRITER traffic, SAVE/RESTORE attempts and MSIs",
  expect: 'clean: no findings, no deadlock; -EBUSY while running, saves 0 when paused',
  schedules: ['free', 'random', 'pct'],
  async run(o, ctx) {
    const r = await saveUnderTraffic(ctx, o, { lockProtocol: 'upstream' });
    const w = ctx.watch();
    const ok = w.findings.length === 0 && w.deadlocks.length === 0 && r.error === undefined && !r.stopped
      && r.attempts > 0 && r.ebusy === r.attempts && r.pausedSaves > 0 && r.pausedSavesOk === r.pausedSaves;
    return { ok, observed: `${describeSaves(r)}; ${w.findings.length} findings`, figures: saveFigures(r) };
  },
};
export default upstream;
