/**
 * (c) upstream: today's lock order (kvm.lock -> trylock every vcpu.mutex ->
 * config_lock -> its_lock) under the same CWRITER traffic, SAVE/RESTORE
 * attempts and MSIs. Expected: clean. No validator finding, no deadlock,
 * -EBUSY while vCPUs run, 0 once paused. A tried lock protocol
 * (options.lockProtocol) runs in its place and is judged the same way.
 */
import type { Scenario } from '../scenario.js';
import { judgeClean, saveUnderTraffic } from '../save-under-traffic.js';

export const upstream: Scenario = {
  name: 'upstream',
  letter: 'c',
  title: "today's lock order under CWRITER traffic, SAVE/RESTORE attempts and MSIs",
  expect: 'clean: no findings, no deadlock; -EBUSY while running, saves 0 when paused',
  schedules: ['free', 'random', 'pct'],
  async run(o, ctx) {
    // With options.lockProtocol the runner puts that protocol in place of 'upstream': the same judgement applies.
    const r = await saveUnderTraffic(ctx, o, { lockProtocol: 'upstream' });
    return judgeClean(r, ctx.watch());
  },
};
export default upstream;
