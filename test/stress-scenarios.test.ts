/**
 * The built-in lock-protocol scenarios through runScenario, on real VMs:
 * each verdict is what the issue expects. (a) and (c) are clean, (b1)
 * reports the declared-hierarchy finding and no deadlock, (b2) deadlocks
 * and the watchdog reports the cycle (each thread's wait and held locks),
 * ends the run and destroys the VM: every worker is gone.
 */
import { describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import { runScenario } from '../dist/src/stress/runner.js';
import { findScenario, SCENARIOS } from '../dist/src/stress/scenarios/index.js';

const SHORT = { vcpus: 2, its: 1, seconds: 0.4, schedule: { seed: 5 } };
const scenario = (name: string) => findScenario(name)!;

describe('built-in stress scenarios', () => {
  it('are registered in the issue order a, b1, b2, c, d, e, f with distinct names', () => {
    expect(SCENARIOS.map((s) => s.letter)).toEqual(['a', 'b1', 'b2', 'c', 'd', 'e', 'f']);
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
  });

  it('(a) save-busy: -EBUSY while running, the paused round trip succeeds, traffic carries on', async () => {
    const o = await runScenario(scenario('save-busy'), SHORT);
    expect(o.verdict, o.observed).toBe('pass');
    expect(o.figures.ebusy).toBe(o.figures.attempts);
    expect(o.figures.attempts).toBeGreaterThan(0);
    expect(o).toMatchObject({ findings: [], deadlocks: [], stall: null, endedBy: 'scenario', figures: { cycles: 3, saves: 3, restores: 3 } });
  });

  it('(b1) v7-2017: no deadlock, the hierarchy finding its.its_lock -> vcpu.mutex, SAVE 0 only when paused', async () => {
    const o = await runScenario(scenario('v7-2017'), SHORT);
    expect(o.verdict, o.observed).toBe('pass');
    expect(o.deadlocks).toEqual([]);
    expect(o.findings.map((f) => [f.kind, f.classes.join(' -> ')])).toEqual([['hierarchy', 'its.its_lock -> vcpu.mutex']]);
    expect(o.figures.ebusy).toBe(o.figures.attempts);
    expect(o.figures.saves).toBeGreaterThan(0);
    expect(o.token).toBe('v1.v7-2017.2.1.400.f.5.3.200000');
  });

  it('(b2) v7-2017-blocking: the watchdog reports the ABBA cycle through the ITS reply, ends the run, every worker is gone', async () => {
    let vms: GicVm[] = [];
    const o = await runScenario(scenario('v7-2017-blocking'), SHORT, { beforeDestroy: (v) => void (vms = v) });
    expect(o.verdict, o.observed).toBe('pass');
    expect(o.endedBy).toBe('deadlock');
    expect(o.deadlocks).toHaveLength(1);
    const byName = new Map(o.deadlocks[0]!.threads.map((t) => [t.name, t]));
    expect(byName.get('ITS 0')).toMatchObject({ waitsFor: 'vcpu.mutex#0 (held by vCPU 0)' });
    expect(byName.get('ITS 0')!.holds).toEqual(expect.arrayContaining(['kvm.lock#0', 'its.its_lock#0']));
    expect(byName.get('vCPU 0')).toMatchObject({ holds: ['vcpu.mutex#0'] });
    expect(byName.get('vCPU 0')!.waitsFor).toMatch(/^the reply of actor \d+ \(held by ITS 0\)$/);
    // The validator checks a blocking acquire before it sleeps (lockdep's order): the lock that never came
    // is still reported, as the inversion it closes, with the operation behind each edge.
    const inversion = o.findings.find((f) => f.kind === 'inversion');
    expect(inversion?.classes.slice().sort()).toEqual(['its.its_lock', 'vcpu.mutex']);
    const ops = new Map(inversion!.edges.map((e) => [`${e.from} -> ${e.to}`, e.operation]));
    expect(ops.get('its.its_lock -> vcpu.mutex')).toBe('SAVE_TABLES');
    expect(ops.get('vcpu.mutex -> its.its_lock')).toMatch(/^(CWRITER write|GITS_\w+ (read|write)|MMIO (read|write))$/);
    expect(vms).toHaveLength(1);
    expect(vms[0]!.vmState).toBe('destroyed');
    const { vcpus, hosts } = vms[0]!.workers();
    for (const w of [...vcpus, ...hosts]) expect(w.threadId, 'every worker of the VM is gone').toBe(-1);
  });

  it('(c) upstream: clean', async () => {
    const o = await runScenario(scenario('upstream'), SHORT);
    expect(o.verdict, o.observed).toBe('pass');
    expect(o).toMatchObject({ findings: [], deadlocks: [], stall: null, endedBy: 'scenario' });
    expect(o.figures.ebusy).toBe(o.figures.attempts);
    expect(o.figures.attempts).toBeGreaterThan(0);
  });
});
