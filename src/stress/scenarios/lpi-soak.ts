/**
 * Scenario (f) 'lpi-soak': the vgic_lpi_stress workload (src/vgic/lpi-stress.ts)
 * as a soak with the lock-order validator on (the runner's VMs get it): one
 * VM, several vCPUs handling LPIs, several devices (one injector thread
 * each) spread over the ITSs, injecting in rounds until options.seconds have
 * passed. Each round is sized from the last one's rate so the run ends on
 * time; every signalMsi must return 1 and the validator must find nothing.
 */
import { bootLpiStress, injectLpiStress, lpiStressPlan } from '../../vgic/lpi-stress.js';
import type { Scenario, ScenarioContext, ScenarioObservation, ScenarioOptions } from '../scenario.js';

/** Bounds of one injection round. */
const FIRST_ROUND_ITERATIONS = 100;
const MAX_ROUND_MS = 1000, MIN_ROUND_MS = 50;
const MAX_ROUND_ITERATIONS = 1_000_000;

export const lpiSoak: Scenario = {
  name: 'lpi-soak',
  letter: 'f',
  title: 'lpi-stress soak with the lock-order validator on',
  expect: 'every MSI delivered (signalMsi 1), no validator finding',
  schedules: ['free'],
  defaults: { vcpus: 2, seconds: 5 },
  async run(options: ScenarioOptions, ctx: ScenarioContext): Promise<ScenarioObservation> {
    const vcpus = Math.min(16, Math.max(2, options.vcpus));
    const its = Math.min(4, Math.max(1, options.its));
    const devices = Math.min(8, Math.max(2, vcpus, its));
    const eventsPerDevice = 4 + Math.floor(ctx.random() * 13);
    const soakMs = Math.max(100, Math.min(3_600_000, options.seconds * 1000));
    const plan = lpiStressPlan({ vcpus, devices, eventsPerDevice, its });

    ctx.progress(0, 'lpi-soak: guest setup');
    const vm = await ctx.createVm(plan.vmOptions);
    await bootLpiStress(vm, plan);

    let injected = 0, failed = 0, handled = 0, injectMs = 0, rounds = 0;
    let iterations = FIRST_ROUND_ITERATIONS;
    const t0 = performance.now();
    for (;;) {
      if (ctx.signal.aborted) break;
      const roundStart = performance.now();
      const r = await injectLpiStress(vm, plan, iterations);
      const roundMs = performance.now() - roundStart;
      rounds++;
      injected += r.injected;
      failed += r.failed;
      handled += r.handled;
      injectMs += r.elapsedMs;
      const elapsed = performance.now() - t0;
      ctx.progress(Math.min(1, elapsed / soakMs), `lpi-soak: ${injected} LPIs, ${failed} failed`);
      const left = soakMs - elapsed;
      if (left <= 0) break;
      // Size the next round from this one's wall time (thread start-up and drain included).
      const target = Math.max(MIN_ROUND_MS, Math.min(MAX_ROUND_MS, left));
      iterations = Math.max(1, Math.min(MAX_ROUND_ITERATIONS, Math.floor(iterations * target / Math.max(1, roundMs))));
    }
    ctx.progress(1, 'lpi-soak: done');

    const findings = vm.lockFindings();
    const lpisPerSecond = injectMs > 0 ? Math.round(injected / (injectMs / 1000)) : 0;
    const figures = {
      vcpus, devices, its, lpis: devices * eventsPerDevice, rounds,
      injected, handled, failed, lpisPerSecond, findings: findings.length,
    };
    const aborted = ctx.signal.aborted;
    const ok = !aborted && failed === 0 && findings.length === 0 && injected > 0;
    const observed = `${aborted ? 'aborted: ' : ''}${injected} MSIs in ${rounds} rounds (${lpisPerSecond} LPIs/s), ` +
      `${handled} handled (the rest coalesced), ${failed} failed; validator findings: ${findings.length}`;
    return { observed, ok, figures };
  },
};

export default lpiSoak;
