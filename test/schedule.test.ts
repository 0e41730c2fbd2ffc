/**
 * The controlled scheduler on real worker threads and real arena locks: one
 * thread runs at a time, a seeded strategy decides at every point, so the
 * same seed gives the same interleaving (trace hash and the order the
 * threads got the lock), an ABBA is a deterministic 'deadlock' end, and a
 * timed lock expires on virtual time. Then on a whole VM: the same seed gives
 * the same trace, 10 times in a row.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { LockArena, Schedule, ScheduleEnded, threadKey, KEY_OTHER, KEY_VMM, type ScheduleConfig } from '../dist/src/sync/index.js';
import { createVm, errno, uapi, waitForItsSetup } from '../dist/src/index.js';
import { runLpiStress } from '../dist/src/vgic/lpi-stress.js';
import { watchForDeadlock } from '../dist/src/stress/deadlock.js';
import { ETIMEDOUT } from '../dist/src/uapi/errno.js';
import { waitForWord } from './helpers/wait.js';
import { V_STATE, VCPU_RUNNING } from '../dist/src/kvm/vcpu-block.js';

const WORKER = new URL('./fixtures/sched-worker.mjs', import.meta.url);
const COUNTER = 0, DONE = 1, LOG_POS = 3, RESULT = 8, LOG = 16;

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

interface Party { mode: string; a: number; b?: number; iterations?: number; timeoutMs?: number }

/** Run `parties` under a schedule; the VMM thread waits (through the scheduler) until all are done. */
async function runControlled(config: ScheduleConfig, parties: Party[]) {
  const arena = LockArena.create({ maxLocks: 8 });
  const locks = [arena.allocLock('test.a'), arena.allocLock('test.b')];
  const ctlBuf = new SharedArrayBuffer(4 * (LOG + 4096));
  const ctl = new Int32Array(ctlBuf);
  const schedBuf = Schedule.create(config);
  const vmm = new Schedule(schedBuf, [arena.buffer, ctlBuf], threadKey(KEY_VMM, 0));
  parties.forEach((_, i) => vmm.expect(threadKey(KEY_OTHER, i)));
  for (const [i, p] of parties.entries()) {
    workers.push(new Worker(WORKER, {
      workerData: { arena: arena.buffer, sched: schedBuf, ctl: ctlBuf, index: i, ...p, a: locks[p.a], b: locks[p.b ?? 0] },
    }));
  }
  await vmm.begin(() => {});
  let ended: ScheduleEnded | undefined;
  try {
    for (let d = Atomics.load(ctl, DONE); d < parties.length; d = Atomics.load(ctl, DONE)) {
      if ((await vmm.blockAsync(ctl, DONE, d, 'yield')) === 'free') break;
    }
  } catch (e) {
    if (!(e instanceof ScheduleEnded)) throw e;
    ended = e;
  }
  const summary = vmm.summary();
  vmm.end();
  const log = Array.from(ctl.subarray(LOG, LOG + ctl[LOG_POS]!));
  return { summary, ended, ctl, log, arena };
}

const counting = (n: number, iterations: number): Party[] => Array.from({ length: n }, () => ({ mode: 'count', a: 0, iterations }));

describe('controlled scheduler (real workers, real locks)', () => {
  it('the same seed gives the same interleaving: trace hash and lock order; the lock still excludes', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await runControlled({ strategy: 'random', seed: 42 }, counting(3, 20)));
    for (const r of runs) {
      expect(r.ctl[COUNTER]).toBe(60); // a point inside the critical section lost no update
      expect(r.summary.end).toBe('running');
      expect(r.summary.traceHash).toBe(runs[0]!.summary.traceHash);
      expect(r.log).toEqual(runs[0]!.log);
    }
    expect(runs[0]!.summary.decisions).toBeGreaterThan(120);
  });

  it('different seeds explore different interleavings (random and pct)', async () => {
    const hashes = new Set<string>();
    const orders = new Set<string>();
    for (const strategy of ['random', 'pct'] as const) {
      for (const seed of [1, 2, 3]) {
        const r = await runControlled({ strategy, seed }, counting(3, 10));
        expect(r.ctl[COUNTER]).toBe(30);
        hashes.add(r.summary.traceHash);
        orders.add(r.log.join(''));
      }
    }
    expect(hashes.size).toBeGreaterThanOrEqual(4);
    expect(orders.size).toBeGreaterThanOrEqual(2);
  });

  it('an ABBA ends the schedule as a deadlock (some seed finds it, and that seed finds it again)', async () => {
    const abba: Party[] = [{ mode: 'abba', a: 0, b: 1 }, { mode: 'abba', a: 1, b: 0 }];
    let found: { seed: number; hash: string } | undefined;
    for (let seed = 1; seed <= 30 && found === undefined; seed++) {
      const r = await runControlled({ strategy: 'random', seed }, abba);
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
      if (r.summary.end === 'deadlock') {
        expect(r.ended?.end).toBe('deadlock');
        const workersBlocked = r.summary.threads.filter((t) => t.name.startsWith('thread'));
        expect(workersBlocked.map((t) => `${t.state} ${t.waitsFor.split(' ')[0]}`)).toEqual(['blocked lock-wait', 'blocked lock-wait']);
        found = { seed, hash: r.summary.traceHash };
      } else {
        expect(r.summary.end).toBe('running');
        expect(r.ctl[DONE]).toBe(2);
      }
    }
    expect(found).toBeDefined();
    const again = await runControlled({ strategy: 'random', seed: found!.seed }, abba);
    expect(again.summary.end).toBe('deadlock');
    expect(again.summary.traceHash).toBe(found!.hash);
  });

  it('a timed lock expires on virtual time (ten virtual minutes, no real wait)', async () => {
    const r = await runControlled({ strategy: 'pct', seed: 5 }, [
      { mode: 'hold', a: 0 },
      { mode: 'timed', a: 0, timeoutMs: 600_000 },
    ]);
    // Whichever ran first: the holder's lock made the other time out, or the timed lock was free.
    const timed = r.ctl[RESULT + 1]!;
    expect([0, -ETIMEDOUT]).toContain(timed);
    if (timed === -ETIMEDOUT) expect(r.summary.virtualMs).toBeGreaterThanOrEqual(600_000);
    expect(r.ctl[DONE]).toBe(2);
  });

  it('the step budget ends a run that would not finish, and the VMM hears of it', async () => {
    const r = await runControlled({ strategy: 'random', seed: 9, stepBudget: 50 }, counting(2, 1000));
    expect(r.summary.end).toBe('budget');
    expect(r.ended?.end).toBe('budget');
    expect(r.summary.decisions).toBe(50);
  });
});

describe('controlled scheduler on a VM', () => {
  async function guestTrafficThenSave(seed: number): Promise<string> {
    const vm = await createVm({
      vcpus: 2, schedule: { strategy: 'random', seed },
      gic: { its: 1 },
      guest: { module: 'its-setup', args: { devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 8192, icid: 1 }] }], handle: true } },
    });
    try {
      expect(await vm.start()).toBe(0);
      expect(await waitForItsSetup(vm)).toBe(0);
      expect(await vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(-errno.EBUSY);
      expect(await vm.pause()).toBe(0);
      expect(await vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(0);
      const s = vm.schedule()!;
      expect(s.end).toBe('running');
      expect(s.lateJoins).toBe(0);
      return s.traceHash;
    } finally {
      await vm.destroy();
    }
  }

  it('the same seed gives the same trace hash 10 times in a row', async () => {
    const first = await guestTrafficThenSave(7);
    for (let i = 0; i < 9; i++) expect(await guestTrafficThenSave(7)).toBe(first);
    expect(await guestTrafficThenSave(8)).not.toBe(first);
  });

  it('v7-2017 with blocking vCPU locks: the schedule ends as a deadlock the wait-for graph explains', async () => {
    let ended = 0;
    for (let seed = 1; seed <= 8 && ended === 0; seed++) {
      const vm = await createVm({
        vcpus: 1, schedule: { strategy: 'random', seed },
        gic: { its: 1, lockProtocol: 'v7-2017', blockingVcpuLocks: true },
        guest: { module: 'its-setup', args: { devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 8192, icid: 0 }] }], handle: true } },
      });
      try {
        expect(await vm.start()).toBe(0);
        // SAVE while the vCPU runs: the ITS actor blocks on vcpu.mutex under its_lock; the vCPU's next
        // CWRITER write (or its wait for the setup) waits on the ITS actor.
        const save = vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES);
        const r = await save.then(() => 'returned', (e: unknown) => e);
        if (r instanceof ScheduleEnded) {
          expect(r.end).toBe('deadlock');
          expect(vm.schedule()!.end).toBe('deadlock');
          ended++;
          // Released, the threads fall back to ordinary waits: the detector sees the cycle they publish.
          const cycles = await watchForDeadlock(vm.rt.arena, vm.rt.dir, 20_000);
          expect(cycles).toHaveLength(1);
          expect(cycles[0]!.threads.map((t) => t.name).sort()).toEqual(['ITS 0', 'vCPU 0']);
        }
      } finally {
        await vm.destroy(500);
      }
    }
    expect(ended).toBe(1);
  });
});


describe('controlled scheduler: the VMM side of its ends', () => {
  const NEVER_RETURNS = new URL('./fixtures/guest-never-returns.mjs', import.meta.url).href;

  it('destroy() ends the schedule even while a VMM call waits for a turn a spinning guest never gives back', async () => {
    const vm = await createVm({ vcpus: 1, gic: false, schedule: { strategy: 'random', seed: 1 }, guest: NEVER_RETURNS });
    const start = vm.start(); // waits (through the scheduler) for a vCPU that entered a guest without points
    // The vCPU publishes Running (and notifies) just before it enters the guest.
    await waitForWord(vm.rt.vcpus.i32, vm.rt.vcpus.word(0, V_STATE), (v) => v === VCPU_RUNNING, 'the vCPU to enter its guest');
    await vm.destroy(500);
    expect(vm.vmState).toBe('destroyed');
    await start; // released, whatever it returns
  });

  it('an end met in a synchronous VMM point (a trylock) is thrown at the next VMM await', async () => {
    const vm = await createVm({ vcpus: 2, gic: false, schedule: { strategy: 'random', seed: 2, stepBudget: 2 } });
    try {
      await vm.lockAllVcpus().catch(() => undefined); // kvm.lock and two trylocks: the budget runs out in here
      expect(vm.schedule()!.end).toBe('budget');
      await expect(vm.start()).rejects.toThrow(ScheduleEnded);
    } finally {
      await vm.destroy(500);
    }
  });

  it('injector threads under a controlled schedule: runInjectors waits for them through the scheduler', async () => {
    const r = await runLpiStress({ vcpus: 1, devices: 1, iterations: 40, vm: { schedule: { strategy: 'pct', seed: 3 } } });
    expect(r.failed).toBe(0);
    expect(r.injected).toBe(40);
  });

  it('the VMM numbers the VM\'s buffers as the workers do (device state included)', async () => {
    const vm = await createVm({ vcpus: 1, gic: { its: 1 }, schedule: { strategy: 'random', seed: 4 } });
    try {
      const vgic = vm.shared.devices['arm-vgic-v3'] as { state: SharedArrayBuffer };
      expect(vm.rt.sched!.owns(new Int32Array(vgic.state))).toBe(true);
    } finally {
      await vm.destroy();
    }
  });
});
