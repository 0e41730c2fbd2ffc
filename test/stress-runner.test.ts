/**
 * The runner's watchdog and judgement on constructed runs: a VM whose
 * threads make no progress (the ITS actor parked on a kvm.lock the VMM
 * never releases) is reported as a stall with each thread's wait, and the
 * run ends; a finding the scenario does not declare fails its verdict, and
 * with stopAtFirst ends the run; a scenario that throws fails and its VMs
 * are destroyed.
 */
import { describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import * as u from '../dist/src/uapi/index.js';
import { ABORTED, untilAborted } from '../dist/src/stress/abortable.js';
import { runScenario } from '../dist/src/stress/runner.js';
import type { Scenario } from '../dist/src/stress/scenario.js';
import { findScenario } from '../dist/src/stress/scenarios/index.js';

const base = { letter: 'x', title: 'test', expect: 'test', schedules: ['free'] as const };

describe('stress runner', () => {
  it('reports a stall (no progress for stallMs) with every thread\'s wait and held locks, and ends the run', async () => {
    const stuck: Scenario = {
      ...base, name: 'stuck',
      async run(_o, ctx) {
        const vm = await ctx.createVm({ vcpus: 1, gic: { its: 1 } });
        // The VMM takes kvm.lock and forgets it: SAVE_TABLES parks the ITS actor on it, nobody waits on anybody else.
        expect(await vm.rt.thread.mutex(vm.shared.locks.kvm).lockAsync()).toBe(0);
        const r = await untilAborted(vm.gic.its[0]!.setAttr(u.KVM_DEV_ARM_VGIC_GRP_CTRL, u.KVM_DEV_ARM_ITS_SAVE_TABLES), ctx.signal);
        return { ok: r !== ABORTED, observed: r === ABORTED ? 'stopped' : `SAVE ${r}`, figures: {} };
      },
    };
    let vms: GicVm[] = [];
    const o = await runScenario(stuck, { stallMs: 300 }, { beforeDestroy: (v) => void (vms = v) });
    expect(o.endedBy).toBe('stall');
    expect(o.verdict).toBe('fail');
    expect(o.deadlocks).toEqual([]);
    expect(o.observed).toMatch(/^stopped; unexpected: stall \(no progress for \d+ ms\)$/);
    expect(o.stall!.afterMs).toBeGreaterThanOrEqual(300);
    const byName = new Map(o.stall!.threads.map((t) => [t.name, t]));
    expect(byName.get('ITS 0')!.waitsFor).toBe('kvm.lock#0 (held by VMM)');
    expect(byName.get('VMM')).toMatchObject({ holds: ['kvm.lock#0'] });
    expect(byName.get('vCPU 0')!.waitsFor).toMatch(/^nothing/);
    expect(vms[0]!.vmState).toBe('destroyed');
  });

  // b1's run, but declaring nothing: its hierarchy finding is now unexpected.
  const undeclared: Scenario = { ...findScenario('v7-2017')!, name: 'v7-undeclared', expects: undefined };

  it('a finding the scenario does not expect fails the verdict, whatever the scenario judged', async () => {
    const o = await runScenario(undeclared, { seconds: 0.3 });
    expect(o.endedBy).toBe('scenario');
    expect(o.ok).toBe(false);
    expect(o.verdict).toBe('fail');
    expect(o.observed).toMatch(/; unexpected: hierarchy finding$/);
  });

  it('stopAtFirst ends the run at the first unexpected finding', async () => {
    const v7: Scenario = {
      ...base, name: 'v7-save',
      async run(_o, ctx) {
        // vCPUs not started: SAVE_TABLES gets every vcpu.mutex, under its.its_lock (the 2017 order): a hierarchy finding.
        const vm = await ctx.createVm({ vcpus: 1, gic: { its: 1, lockProtocol: 'v7-2017' } });
        expect(await vm.gic.its[0]!.setAttr(u.KVM_DEV_ARM_VGIC_GRP_CTRL, u.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(0);
        // Then stay busy (the VMM keeps trying lockAllVcpus) until the runner stops the run.
        while (!ctx.signal.aborted) {
          if ((await vm.lockAllVcpus()) === 0) vm.unlockAllVcpus();
          await new Promise((r) => setTimeout(r, 5));
        }
        return { ok: true, observed: 'stopped', figures: {} };
      },
    };
    const o = await runScenario(v7, { stopAtFirst: true });
    expect(o.endedBy).toBe('finding');
    expect(o.verdict).toBe('fail');
    expect(o.findings.map((f) => [f.kind, f.classes.join(' -> ')])).toEqual([['hierarchy', 'its.its_lock -> vcpu.mutex']]);
    expect(o.observed).toBe('stopped; unexpected: hierarchy finding');
  });

  it('a scenario that throws fails with its message and its VMs are destroyed', async () => {
    let vms: GicVm[] = [];
    const throws: Scenario = {
      ...base, name: 'throws',
      async run(_o, ctx) {
        const vm = await ctx.createVm({ vcpus: 1 });
        await vm.start();
        throw new Error('boom');
      },
    };
    const o = await runScenario(throws, {}, { beforeDestroy: (v) => void (vms = v) });
    expect(o).toMatchObject({ verdict: 'fail', endedBy: 'error', observed: 'the scenario threw: boom' });
    expect(vms[0]!.vmState).toBe('destroyed');
  });

  it('refuses options it cannot honour, naming them', async () => {
    const s = findScenario('upstream')!;
    await expect(runScenario(s, { vcpus: 0 })).rejects.toThrow(/vcpus must be an integer in 1\.\.64/);
    await expect(runScenario({ ...s, schedules: ['free'] }, { schedule: { strategy: 'pct' } })).rejects.toThrow(/cannot run under schedule 'pct'/);
  });
});
