/**
 * (b2) v7-2017-blocking: the 2017 order with the vCPU trylocks turned into
 * blocking locks (blockingVcpuLocks, the negative test of spec 7.5). The
 * first SAVE while vCPUs run parks the ITS actor on vCPU 0's vcpu.mutex,
 * holding kvm.lock and its_lock; vCPU 0's next CWRITER write waits for that
 * actor's reply: an ABBA cycle through the actor. Expected: the watchdog
 * finds and reports it (each thread's wait and held locks), the run ends and
 * the VM is destroyed.
 */
import type { Scenario } from '../scenario.js';
import { describeSaves, saveFigures, saveUnderTraffic } from '../save-under-traffic.js';

export const v72017Blocking: Scenario = {
  name: 'v7-2017-blocking',
  letter: 'b2',
  title: 'the 2017 lock order with blocking vCPU locks under CWRITER traffic',
  expect: 'deadlock found and reported (ITS actor <-> vCPU 0 through the actor reply); the run ends cleanly',
  schedules: ['free', 'random', 'pct'],
  // Blocking vcpu.mutex under its_lock is also against the hierarchy, and closes an inversion, once taken.
  expects: { findings: ['hierarchy', 'inversion'], deadlock: true },
  // The switch turns any protocol's vCPU trylocks into locks, so it would deadlock every protocol alike; a
  // protocol with blocking vCPU locks of its own says so in its steps ({ lock: 'vcpu.mutex[all]', mode: 'lock' }).
  takesLockProtocol: false,
  async run(o, ctx) {
    const r = await saveUnderTraffic(ctx, o, { lockProtocol: 'v7-2017', blockingVcpuLocks: true });
    const w = ctx.watch();
    const cycle = w.deadlocks[0];
    return {
      ok: w.deadlocks.length > 0 && w.endedBy === 'deadlock',
      observed: cycle
        ? `deadlock after ${r.attempts + 1} SAVE/RESTORE attempt(s): ${cycle.threads.map((t) => `${t.name} waits for ${t.waitsFor}`).join('; ')}`
        : `no deadlock: ${describeSaves(r)}`,
      figures: { deadlocks: w.deadlocks.length, ...saveFigures(r) },
    };
  },
};
export default v72017Blocking;
