/**
 * vCPUs in worker threads, driven by the VMM on the main thread: lockAllVcpus
 * against running vCPUs (busy and in WFI), pause/resume cycles, the state
 * machine, guest faults, custom guest modules, MMIO to an actor device,
 * worker death, and destroy leaving no thread behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, type Vm, type VmFault, type VmOptions } from '../dist/src/index.js';
import { SCRATCH_DEVICE } from '../dist/src/devices/scratch.js';
import { OP_MMIO_READ } from '../dist/src/actors/protocol.js';
import { FUTEX_OWNER_DIED } from '../dist/src/sync/index.js';
import { T_WAIT_LOCK } from '../dist/src/sync/arena.js';
import { V_STATE, VCPU_STATE_NAMES, type VcpuStateName } from '../dist/src/kvm/vcpu-block.js';
import { EBUSY, EINVAL, EOWNERDEAD } from '../dist/src/uapi/errno.js';
import { waitForWord, waitUntil, within } from './helpers/wait.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;
/** Outside guest RAM (64 MiB at 0x4000_0000 by default). */
const SCRATCH_BASE = 0x0800_0000;
const UNMAPPED = 0x0900_0000;

const vms: Vm[] = [];

/** A VM of the runtime alone: no interrupt controller (gic: false), so every actor and worker is the test's. */
async function newVm(options: VmOptions): Promise<Vm> {
  const vm = await createVm({ ...options, gic: false });
  vms.push(vm);
  return vm;
}

afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

const ids = (vm: Vm) => Array.from({ length: vm.nrVcpus }, (_, i) => i);

/** The arena tid of every vCPU thread, by vcpu_id. */
function vcpuTids(vm: Vm): number[] {
  const a = vm.rt.arena;
  const tids: number[] = [];
  for (let tid = 1; tid <= a.threadCount(); tid++) {
    const t = a.threadInfo(tid);
    if (t.kind === 'vcpu') tids[t.index] = tid;
  }
  expect(tids.length).toBe(vm.nrVcpus);
  return tids;
}

const vcpuMutexOwners = (vm: Vm) => vm.shared.locks.vcpu.map((l) => vm.rt.arena.ownerOf(l));

/** For failure messages: each vCPU's state, mutex word and counters, and the VM's faults. */
function describeVcpus(vm: Vm): string {
  const v = ids(vm).map((i) => `vCPU ${i} ${vm.vcpuState(i)} mutex word 0x${(vm.rt.arena.lockInfo(vm.shared.locks.vcpu[i]!).word >>> 0).toString(16)} ${JSON.stringify(vm.vcpuCounters(i))}`);
  return `${v.join('; ')}; faults ${JSON.stringify(vm.faults.map((f) => `${f.source}: ${f.message}`))}`;
}

/** Wait for vCPU `i` to publish `state` (the vCPU notifies its state word). */
function waitVcpuState(vm: Vm, i: number, state: VcpuStateName): Promise<number> {
  const b = vm.rt.vcpus;
  return waitForWord(b.i32, b.word(i, V_STATE), (v) => VCPU_STATE_NAMES[v] === state, `vCPU ${i} ${state}`);
}

/** Resolves with the first fault (already reported or to come) that `pred` accepts. */
function faultMatching(vm: Vm, pred: (f: VmFault) => boolean, what: string): Promise<VmFault> {
  const seen = vm.faults.find(pred);
  if (seen !== undefined) return Promise.resolve(seen);
  return within(new Promise<VmFault>((resolve) => {
    const off = vm.onFault((f) => {
      if (pred(f)) {
        off();
        resolve(f);
      }
    });
  }), what);
}

/** Every worker of the VM, each with a flag its 'exit' event sets. */
function watchWorkers(vm: Vm): { count: number; running: () => number[] } {
  const { vcpus, hosts } = vm.workers();
  const all = [...vcpus, ...hosts];
  const exited = all.map(() => false);
  all.forEach((w, i) => w.once('exit', () => (exited[i] = true)));
  return { count: all.length, running: () => all.flatMap((w, i) => (exited[i] && w.threadId === -1 ? [] : [i])) };
}

describe('vCPUs: lockAllVcpus against KVM_RUN', () => {
  for (const guest of ['spin', 'idle'] as const) {
    it(`is -EBUSY while ${guest === 'spin' ? 'busy' : 'idle (WFI)'} vCPUs run, holding nothing afterwards, and 0 once they are paused`, async () => {
      const vm = await newVm({ vcpus: 3, guest });
      const tids = vcpuTids(vm);
      const vmm = vm.rt.tid;
      expect(await vm.start()).toBe(0);
      for (const i of ids(vm)) expect(vm.vcpuState(i)).toBe('running');
      if (guest === 'idle') {
        await waitUntil(() => ids(vm).every((i) => vm.vcpuCounters(i).wfi > 0), 'every vCPU to sit in WFI');
      }
      expect(vcpuMutexOwners(vm)).toEqual(tids); // in KVM_RUN, each vCPU holds its own vcpu.mutex

      expect(await vm.lockAllVcpus()).toBe(-EBUSY);
      expect(vm.rt.arena.locksHeldBy(vmm)).toEqual([]);
      expect(vm.rt.arena.ownerOf(vm.shared.locks.kvm)).toBe(0);
      expect(vcpuMutexOwners(vm)).toEqual(tids);
      expect(await vm.lockAllVcpus()).toBe(-EBUSY); // and again: nothing was left behind

      expect(await vm.pause()).toBe(0);
      for (const i of ids(vm)) expect(vm.vcpuState(i)).toBe('paused');
      expect(vcpuMutexOwners(vm)).toEqual(tids.map(() => 0));
      expect(await vm.lockAllVcpus()).toBe(0);
      expect(vm.rt.arena.locksHeldBy(vmm)).toEqual([vm.shared.locks.kvm, ...vm.shared.locks.vcpu].sort((a, b) => a - b));
      vm.unlockAllVcpus();
      expect(vm.rt.arena.locksHeldBy(vmm)).toEqual([]);
    });
  }

  it('a vCPU resumed while the VMM holds every vcpu.mutex waits to re-enter KVM_RUN until they are released', async () => {
    const vm = await newVm({ vcpus: 2, guest: 'spin' });
    const tids = vcpuTids(vm);
    expect(await vm.start()).toBe(0);
    expect(await vm.pause()).toBe(0);
    const entries = ids(vm).map((i) => vm.vcpuCounters(i).entries);
    expect(await vm.lockAllVcpus()).toBe(0);
    expect(await vm.resume()).toBe(0);
    // Each vCPU parks on its vcpu.mutex (it publishes the lock it waits for): the VMM keeps it out of KVM_RUN.
    const a = vm.rt.arena;
    await waitUntil(() => ids(vm).every((i) => Atomics.load(a.i32, a.threadRecord(tids[i]!) + T_WAIT_LOCK) === vm.shared.locks.vcpu[i]! + 1),
      'every vCPU to wait for its vcpu.mutex');
    expect(ids(vm).map((i) => vm.vcpuState(i))).toEqual(['paused', 'paused']);
    expect(ids(vm).map((i) => vm.vcpuCounters(i).entries)).toEqual(entries);
    expect(vcpuMutexOwners(vm)).toEqual(tids.map(() => vm.rt.tid));
    vm.unlockAllVcpus();
    await Promise.all(ids(vm).map((i) => waitVcpuState(vm, i, 'running')));
    await waitUntil(() => ids(vm).every((i) => vm.vcpuCounters(i).entries > entries[i]!), 'every vCPU to re-enter');
    await waitUntil(() => vcpuMutexOwners(vm).every((o, i) => o === tids[i]), 'every vCPU to hold its mutex again');
  });
});

describe('vCPUs: pause and resume', () => {
  for (const guest of ['spin', 'idle'] as const) {
    it(`100 pause/resume cycles of ${guest} vCPUs: each pause leaves every vCPU paused with its mutex dropped`, async () => {
      const vm = await newVm({ vcpus: 3, guest });
      expect(await vm.start()).toBe(0);
      for (let cycle = 0; cycle < 100; cycle++) {
        expect(await within(vm.pause(), `pause #${cycle}`), `pause #${cycle}`).toBe(0);
        expect(vm.vmState).toBe('paused');
        expect(ids(vm).map((i) => vm.vcpuState(i)), `after pause #${cycle}`).toEqual(ids(vm).map(() => 'paused'));
        expect(await vm.lockAllVcpus(), `lockAllVcpus after pause #${cycle}`).toBe(0);
        vm.unlockAllVcpus();
        expect(await vm.resume(), `resume #${cycle}`).toBe(0);
        expect(vm.vmState).toBe('running');
      }
      // Still alive: every vCPU re-enters KVM_RUN and holds its mutex again.
      await Promise.all(ids(vm).map((i) => waitVcpuState(vm, i, 'running')));
      for (const i of ids(vm)) expect(vm.vcpuCounters(i).entries).toBeGreaterThan(1);
      expect(vm.faults).toEqual([]);
    });
  }
});

describe('vCPUs: the VM state machine', () => {
  it('pause before start returns -EINVAL', async () => {
    const vm = await newVm({ vcpus: 1 });
    expect(await vm.pause()).toBe(-EINVAL);
    expect(await vm.resume()).toBe(-EINVAL);
    expect(vm.vmState).toBe('created');
    expect(vm.vcpuState(0)).toBe('created');
  });

  it('resume while running returns -EINVAL', async () => {
    const vm = await newVm({ vcpus: 1 });
    expect(await vm.start()).toBe(0);
    expect(await vm.resume()).toBe(-EINVAL);
    expect(vm.vmState).toBe('running');
    expect(vm.vcpuState(0)).toBe('running');
  });

  it('start twice returns -EINVAL, also once paused', async () => {
    const vm = await newVm({ vcpus: 1 });
    expect(await vm.start()).toBe(0);
    expect(await vm.start()).toBe(-EINVAL);
    expect(await vm.pause()).toBe(0);
    expect(await vm.pause()).toBe(-EINVAL);
    expect(await vm.start()).toBe(-EINVAL);
    expect(vm.vmState).toBe('paused');
    expect(vm.vcpuCounters(0).entries).toBe(1);
  });

  it('after destroy, start, pause and resume return -EINVAL', async () => {
    const vm = await newVm({ vcpus: 1 });
    expect(await vm.start()).toBe(0);
    await vm.destroy();
    expect(vm.vmState).toBe('destroyed');
    expect(await vm.start()).toBe(-EINVAL);
    expect(await vm.pause()).toBe(-EINVAL);
    expect(await vm.resume()).toBe(-EINVAL);
  });
});

describe('vCPUs: guest faults', () => {
  it("a guest that throws ends its vCPU with reason 'fault', the error reported and no lock held", async () => {
    const message = 'guest fault 0x2a';
    const vm = await newVm({ vcpus: 2, guest: { module: 'throw', args: { message, afterIterations: 3 } } });
    const tids = vcpuTids(vm);
    const faults = ids(vm).map((i) => faultMatching(vm, (f) => f.source === `vCPU ${i}`, `vCPU ${i}'s fault`));
    expect(await vm.start()).toBe(0);
    for (const i of ids(vm)) {
      expect((await faults[i]!).message).toBe(message);
      expect(vm.vcpuState(i)).toBe('exited');
      expect(vm.vcpuExit(i)).toMatchObject({ vcpuId: i, reason: 'fault', error: { message } });
      expect(vm.vcpuExit(i)!.error!.stack).toContain(message);
      expect(vm.rt.arena.locksHeldBy(tids[i]!)).toEqual([]);
    }
    expect(vm.faults.filter((f) => f.message === message).map((f) => f.source).sort()).toEqual(['vCPU 0', 'vCPU 1']);
    expect(vcpuMutexOwners(vm)).toEqual([0, 0]);
    expect(await vm.lockAllVcpus()).toBe(0);
    vm.unlockAllVcpus();
  });

  it('a vCPU that faults leaves the others running: lockAllVcpus stays -EBUSY until they are paused', async () => {
    const vm = await newVm({ vcpus: 3, guest: { module: fixture('guest-fault-one.mjs'), args: { faulty: 1, message: 'only vCPU 1' } } });
    const tids = vcpuTids(vm);
    const fault = faultMatching(vm, (f) => f.source === 'vCPU 1', "vCPU 1's fault");
    expect(await vm.start()).toBe(0);
    expect((await fault).message).toBe('only vCPU 1');
    expect(vm.vcpuExit(1)?.reason).toBe('fault');
    expect(vm.rt.arena.locksHeldBy(tids[1]!)).toEqual([]);
    expect([vm.vcpuState(0), vm.vcpuState(2)]).toEqual(['running', 'running']);
    expect(await vm.lockAllVcpus()).toBe(-EBUSY);
    expect(vm.rt.arena.locksHeldBy(vm.rt.tid)).toEqual([]);
    expect(await vm.pause()).toBe(0);
    expect(ids(vm).map((i) => vm.vcpuState(i))).toEqual(['paused', 'exited', 'paused']);
    expect(await vm.lockAllVcpus()).toBe(0);
    vm.unlockAllVcpus();
  });
});

describe('vCPUs: custom guest programs', () => {
  it('a guest module gets its args, reports through results, and its return value arrives in vcpuExit().result', async () => {
    const args = { magic: 0x1234, words: [3, 1, 4, 1, 5, 9] };
    const vm = await newVm({ vcpus: 2, guest: { module: fixture('guest-report.mjs'), args } });
    expect(await vm.start()).toBe(0);
    for (const i of ids(vm)) {
      await waitVcpuState(vm, i, 'exited');
      await waitUntil(() => vm.vcpuExit(i) !== undefined, `vCPU ${i}'s exit to reach the VMM`);
      expect(vm.vcpuExit(i)).toEqual({ vcpuId: i, reason: 'done', result: { vcpuId: i, magic: args.magic, reversed: [9, 5, 1, 4, 1, 3] } });
      expect([...vm.results(i).subarray(0, 3)]).toEqual([args.magic + i, 2, 23]);
    }
    expect(vm.faults).toEqual([]);
    expect(vcpuMutexOwners(vm)).toEqual([0, 0]);
  });
});

describe('vCPUs: MMIO to an actor device', () => {
  it("the built-in 'mmio-loop' guest reads back every value it writes to the scratch device", async () => {
    const iterations = 500;
    const vm = await newVm({ vcpus: 1, guest: { module: 'mmio-loop', args: { gpa: SCRATCH_BASE, iterations } } });
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 16 }, 'scratch');
    expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 16 * 8, actor, region: 0, kind: 0 })).toBe(0);
    expect(await vm.start()).toBe(0);
    await waitVcpuState(vm, 0, 'exited');
    await waitUntil(() => vm.vcpuExit(0) !== undefined, "the vCPU's exit to reach the VMM");
    expect(vm.vcpuExit(0)).toMatchObject({ reason: 'done', result: iterations });
    expect([vm.results(0)[0], vm.results(0)[1]]).toEqual([iterations, 0]);
    expect(vm.vcpuCounters(0)).toMatchObject({ mmioExits: 2 * iterations, unhandledMmio: 0 });
    expect(vm.faults).toEqual([]);
  });

  it('several vCPUs, each on its own scratch register: every round trip reads back its value; an unmapped address reads 0 and counts as unhandled', async () => {
    const iterations = 1000;
    const vm = await newVm({
      vcpus: 4,
      guest: { module: fixture('guest-mmio-own-reg.mjs'), args: { base: SCRATCH_BASE, iterations, unmapped: UNMAPPED } },
    });
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 16 }, 'scratch');
    expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 16 * 8, actor, region: 0, kind: 0 })).toBe(0);
    expect(await vm.start()).toBe(0);
    const last: number[] = [];
    for (const i of ids(vm)) {
      await waitVcpuState(vm, i, 'exited');
      await waitUntil(() => vm.vcpuExit(i) !== undefined, `vCPU ${i}'s exit to reach the VMM`);
      expect(vm.vcpuExit(i)?.reason).toBe('done');
      last[i] = vm.vcpuExit(i)!.result as number;
      expect([...vm.results(i).subarray(0, 3)], `vCPU ${i}: round trips, mismatches, unmapped read`).toEqual([iterations, 0, 0]);
      expect(vm.vcpuCounters(i)).toMatchObject({ mmioExits: 2 * iterations, unhandledMmio: 2 });
    }
    // The device kept one value per register: each vCPU's last write, read back by the VMM.
    for (const i of ids(vm)) {
      const r = await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 8 * i, 4], 10_000);
      expect(r.result).toBe(0);
      expect(r.values[0]! >>> 0, `register ${i}`).toBe(last[i]);
    }
    expect(vm.faults).toEqual([]);
  });
});

describe('vCPUs: worker death', () => {
  it('terminating a running vCPU worker is reported, its vcpu.mutex is recovered and the VMM gets -EOWNERDEAD once', async () => {
    const vm = await newVm({ vcpus: 2, guest: 'spin' });
    const tids = vcpuTids(vm);
    expect(await vm.start()).toBe(0);
    expect(vcpuMutexOwners(vm)).toEqual(tids);
    const died = faultMatching(vm, (f) => f.source === 'vCPU 1', "vCPU 1's death");
    await vm.workers().vcpus[1]!.terminate();
    expect((await died).message).toMatch(/vCPU 1 exited holding vcpu\.mutex#1/);
    expect(vm.vcpuState(1)).toBe('exited');
    expect(vm.vcpuExit(1)?.reason).toBe('died');
    const m1 = vm.shared.locks.vcpu[1]!;
    expect(vm.rt.arena.ownerOf(m1)).toBe(0);
    expect(vm.rt.arena.lockInfo(m1).word & FUTEX_OWNER_DIED).toBe(FUTEX_OWNER_DIED);

    const mutex = vm.rt.thread.mutex(m1);
    expect(mutex.tryLock()).toBe(-EOWNERDEAD);
    expect(mutex.owner()).toBe(vm.rt.tid);
    expect(mutex.unlock()).toBe(0);
    expect(mutex.tryLock()).toBe(0); // told once
    expect(mutex.unlock()).toBe(0);
    expect(vm.vcpuState(0)).toBe('running');
  });

  it('after a running vCPU worker is terminated, lockAllVcpus does not hang: -EBUSY holding nothing while others run, 0 once paused; destroy works', async () => {
    const vm = await newVm({ vcpus: 2, guest: 'spin' });
    const tids = vcpuTids(vm);
    const watch = watchWorkers(vm);
    expect(await vm.start()).toBe(0);
    const died = faultMatching(vm, (f) => f.source === 'vCPU 0', "vCPU 0's death");
    await vm.workers().vcpus[0]!.terminate();
    await died;
    expect(vm.vcpuState(0)).toBe('exited');
    expect(vm.rt.arena.locksHeldBy(tids[0]!)).toEqual([]);

    // vcpu.mutex#0 (recovered) is taken first, then #1 is busy: everything is given back.
    const before = describeVcpus(vm);
    const busy = await within(vm.lockAllVcpus(), 'lockAllVcpus');
    expect(busy, `lockAllVcpus with ${before}; after: ${describeVcpus(vm)}`).toBe(-EBUSY);
    expect(vm.rt.arena.locksHeldBy(vm.rt.tid)).toEqual([]);
    expect(vcpuMutexOwners(vm)).toEqual([0, tids[1]]);

    expect(await within(vm.pause(), 'pause')).toBe(0);
    expect([vm.vcpuState(0), vm.vcpuState(1)]).toEqual(['exited', 'paused']);
    expect(await within(vm.lockAllVcpus(), 'lockAllVcpus')).toBe(0);
    expect(vcpuMutexOwners(vm)).toEqual([vm.rt.tid, vm.rt.tid]);
    vm.unlockAllVcpus();
    expect(vm.rt.arena.locksHeldBy(vm.rt.tid)).toEqual([]);

    await within(vm.destroy(), 'destroy');
    expect(watch.running()).toEqual([]);
  });

  it('destroy after a vCPU worker and an actor host died does not wait for the dead to answer', async () => {
    const vm = await newVm({ vcpus: 2, guest: 'spin' });
    await vm.spawnActor(SCRATCH_DEVICE, { registers: 4 }, 'scratch');
    const watch = watchWorkers(vm);
    expect(await vm.start()).toBe(0);
    const died = faultMatching(vm, (f) => f.source === 'vCPU 1', "vCPU 1's death");
    await vm.workers().vcpus[1]!.terminate();
    await vm.workers().hosts[0]!.terminate();
    await died;
    // The live vCPU exits when asked; the dead workers never will. With a 20 s grace period, a destroy
    // that waits for their answers is still waiting when the 10 s guard fires.
    await within(vm.destroy(20_000), 'destroy (not waiting for dead workers)', 10_000);
    expect(watch.running()).toEqual([]);
    expect(vm.vcpuExit(0)?.reason).toBe('destroyed');
  });
});

describe('vCPUs: destroy', () => {
  const cases: { name: string; graceMs?: number; prepare: (vm: Vm) => Promise<void> }[] = [
    { name: 'before start', prepare: async () => {} },
    { name: 'while vCPUs run', prepare: async (vm) => { expect(await vm.start()).toBe(0); } },
    {
      name: 'while vCPUs are paused',
      prepare: async (vm) => {
        expect(await vm.start()).toBe(0);
        expect(await vm.pause()).toBe(0);
      },
    },
    {
      // The vCPUs cannot leave (they wait for a vcpu.mutex the VMM holds): destroy terminates them after its grace period.
      name: 'while the VMM holds every vcpu.mutex, with a short grace period',
      graceMs: 250,
      prepare: async (vm) => {
        expect(await vm.start()).toBe(0);
        expect(await vm.pause()).toBe(0);
        expect(await vm.lockAllVcpus()).toBe(0);
        expect(await vm.resume()).toBe(0); // the vCPUs now block on their mutexes
      },
    },
  ];
  for (const c of cases) {
    it(`leaves no worker running (vCPUs and actor hosts) when called ${c.name}`, async () => {
      const vm = await newVm({ vcpus: 2, guest: 'spin' });
      await vm.spawnActor(SCRATCH_DEVICE, { registers: 4 }, 'scratch');
      const watch = watchWorkers(vm);
      expect(watch.count).toBe(3);
      await c.prepare(vm);
      await within(vm.destroy(c.graceMs), 'destroy');
      expect(vm.vmState).toBe('destroyed');
      expect(watch.running()).toEqual([]);
      await within(vm.destroy(), 'a second destroy'); // idempotent
    });
  }
});
