/**
 * A minimal ScenarioContext for testing scenarios without the runner: VMs
 * created through it get the validator (when asked) and are recorded so the
 * test destroys them at the end; an AbortController behind `signal`; a
 * seeded PRNG (mulberry32); progress recorded, not printed.
 */
import { createVm, type CreateVmOptions, type GicVm } from '../../dist/src/index.js';
import type { ScenarioContext, ScenarioOptions } from '../../dist/src/stress/scenario.js';

/** mulberry32: a small seeded PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TestContext {
  ctx: ScenarioContext;
  vms: GicVm[];
  abort: AbortController;
  progress: { fraction: number; label: string }[];
  /** Destroy every VM the scenario created (call in afterEach). */
  dispose(): Promise<void>;
}

/** `onProgress` sees each progress call (with the context, e.g. to abort the run at some point). */
export function testContext(o: { seed?: number; validator?: boolean; onProgress?: (fraction: number, label: string, tc: TestContext) => void } = {}): TestContext {
  const vms: GicVm[] = [];
  const abort = new AbortController();
  const progress: { fraction: number; label: string }[] = [];
  const ctx: ScenarioContext = {
    async createVm(options: CreateVmOptions): Promise<GicVm> {
      const vm = await createVm({ ...options, ...(o.validator ? { validator: true } : {}) });
      vms.push(vm);
      return vm;
    },
    signal: abort.signal,
    random: mulberry32(o.seed ?? 1),
    progress: (fraction, label) => {
      progress.push({ fraction, label });
      o.onProgress?.(fraction, label, tc);
    },
  };
  const tc: TestContext = {
    ctx, vms, abort, progress,
    async dispose() {
      await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
    },
  };
  return tc;
}

/** Scenario options as the runner would pass them, with small sizes. */
export function scenarioOptions(o: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return {
    vcpus: 2, its: 2, seconds: 1, schedule: { strategy: 'free', seed: 1 }, validator: true, stopAtFirst: false,
    stallMs: 10_000, timeline: false, ...o,
  };
}
