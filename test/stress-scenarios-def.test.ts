/**
 * Stress scenarios (d)-(f) of issue 5, run without the runner through a
 * minimal ScenarioContext (test/helpers/scenario-ctx.ts), with small sizes:
 * each one's verdict and the figures behind it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import blindSpotDefault, { blindSpot } from '../dist/src/stress/scenarios/blind-spot.js';
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
