/**
 * Stress scenarios (d)-(f) of issue 5, run without the runner through a
 * minimal ScenarioContext (test/helpers/scenario-ctx.ts), with small sizes:
 * each one's verdict and the figures behind it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import blindSpotDefault, { blindSpot } from '../dist/src/stress/scenarios/blind-spot.js';
import migrateStormDefault, { migrateStorm } from '../dist/src/stress/scenarios/migrate-storm.js';
import lpiSoakDefault, { lpiSoak } from '../dist/src/stress/scenarios/lpi-soak.js';
import { scenarioOptions, testContext, type TestContext } from './helpers/scenario-ctx.js';

let tc: TestContext | undefined;
afterEach(async () => {
  await tc?.dispose();
  tc = undefined;
});

describe('scenario (d) blind-spot', () => {
  it("'first-run' loses every MSI through the ITS restored after the first run, 'base-address' none", async () => {
    expect(blindSpotDefault).toBe(blindSpot);
    expect(blindSpot).toMatchObject({ name: 'blind-spot', letter: 'd' });
    tc = testContext({ seed: 4, validator: true });
    const t0 = performance.now();
    const obs = await blindSpot.run(scenarioOptions({ vcpus: 2, its: 2 }), tc.ctx);
    console.log(`blind-spot ${(performance.now() - t0).toFixed(0)} ms: ${obs.observed} ${JSON.stringify(obs.figures)}`);
    const f = obs.figures;
    expect(f.firstRunSent).toBeGreaterThan(0);
    expect(f.firstRunLost).toBe(f.firstRunSent);
    expect(f.firstRunEinval).toBe(f.firstRunSent);
    expect(f.baseAddressSent).toBeGreaterThan(0);
    expect(f.baseAddressLost).toBe(0);
    expect(f.its0Lost).toBe(0);
    expect(f.equivalent).toBe(1);
    expect(obs.ok).toBe(true);
    for (const vm of tc.vms) expect(vm.lockFindings()).toEqual([]);
    expect(tc.vms.flatMap((vm) => vm.faults)).toEqual([]);
    expect(tc.progress.at(-1)?.fraction).toBe(1);
  });
});

describe('scenario (e) migrate-storm', () => {
  it('SAVE_TABLES is -EBUSY while the storm runs; the destination is equivalent and loses no LPI', async () => {
    expect(migrateStormDefault).toBe(migrateStorm);
    expect(migrateStorm).toMatchObject({ name: 'migrate-storm', letter: 'e' });
    tc = testContext({ seed: 5, validator: true });
    const t0 = performance.now();
    const obs = await migrateStorm.run(scenarioOptions({ vcpus: 2, its: 1, seconds: 0.5 }), tc.ctx);
    console.log(`migrate-storm ${(performance.now() - t0).toFixed(0)} ms: ${obs.observed} ${JSON.stringify(obs.figures)}`);
    const f = obs.figures;
    expect(f.msis).toBeGreaterThan(0);
    expect(f.refused).toBe(0);
    expect(f.ebusy).toBeGreaterThan(0);
    expect(f.ebusy).toBe(f.attempts);
    expect(f.saves).toBe(1);
    expect(f.pendingAtPause).toBeGreaterThan(0);
    expect(f.equivalent).toBe(1);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(obs.ok).toBe(true);
    for (const vm of tc.vms) expect(vm.lockFindings()).toEqual([]);
    expect(tc.vms.flatMap((vm) => vm.faults)).toEqual([]);
  });

  it('stops the storm promptly when the run is aborted', async () => {
    tc = testContext({ seed: 8, onProgress: (_f, label, t) => label.includes('-EBUSY') && t.abort.abort() });
    const obs = await migrateStorm.run(scenarioOptions({ vcpus: 2, its: 1, seconds: 600 }), tc.ctx);
    expect(obs.ok).toBe(false);
    expect(obs.observed).toBe('aborted during the storm');
    expect(obs.figures.attempts).toBe(1);
  });
});

describe('scenario (f) lpi-soak', () => {
  it('lpi-stress on a validated VM for options.seconds: nothing fails, the validator finds nothing', async () => {
    expect(lpiSoakDefault).toBe(lpiSoak);
    expect(lpiSoak).toMatchObject({ name: 'lpi-soak', letter: 'f' });
    tc = testContext({ seed: 6, validator: true });
    const t0 = performance.now();
    const obs = await lpiSoak.run(scenarioOptions({ vcpus: 2, its: 2, seconds: 1 }), tc.ctx);
    console.log(`lpi-soak ${(performance.now() - t0).toFixed(0)} ms: ${obs.observed} ${JSON.stringify(obs.figures)}`);
    const f = obs.figures;
    expect(f.injected).toBeGreaterThan(0);
    expect(f.handled).toBeGreaterThan(0);
    expect(f.handled).toBeLessThanOrEqual(f.injected!);
    expect(f.failed).toBe(0);
    expect(f.findings).toBe(0);
    expect(f.lpisPerSecond).toBeGreaterThan(0);
    expect(obs.ok).toBe(true);
    expect(tc.vms).toHaveLength(1);
    expect(tc.vms[0]!.shared.validator, 'the context turned the validator on').toBeDefined();
    expect(tc.vms[0]!.lockFindings()).toEqual([]);
    expect(tc.vms[0]!.faults).toEqual([]);
  });

  it('stops promptly when the run is aborted', async () => {
    // Abort once the first injection round has reported progress (an event, not a delay).
    tc = testContext({ seed: 7, validator: true, onProgress: (_f, label, t) => label.includes('LPIs') && t.abort.abort() });
    const obs = await lpiSoak.run(scenarioOptions({ vcpus: 2, its: 1, seconds: 600 }), tc.ctx);
    expect(tc.ctx.signal.aborted).toBe(true);
    expect(obs.ok).toBe(false);
    expect(obs.observed).toMatch(/^aborted/);
    expect(obs.figures.rounds).toBe(1);
  });
});
