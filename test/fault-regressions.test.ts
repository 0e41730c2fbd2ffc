/**
 * Defects the fault injection found (src/reliability/faults.ts), each with
 * the behaviour that now holds:
 *  - a VMM request in flight when its actor died kept its reply slot, so a
 *    VM whose actor died with many requests queued ran out of slots: every
 *    later VMM request (to any actor) threw RangeError;
 *  - a message to an actor already dead was queued in its ring anyway:
 *    once the ring filled, every sender waited a slice before -ENODEV;
 *  - a trapped read the device never answered (dead: -ENODEV; its handler
 *    threw: -EFAULT) returned the previous reply's value instead of zero;
 *  - with actorPlacement 'shared', spawning an actor after the shared host
 *    died waited forever (creating an ITS: holding config_lock);
 *  - a pause that timed out blamed the guest ("never calls the guest
 *    API?") even when the vCPU was waiting for a device; it now says where
 *    each late vCPU is, from its published wait words.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, type Vm } from '../dist/src/index.js';
import { OP_MMIO_READ, OP_MMIO_WRITE } from '../dist/src/actors/protocol.js';
import { SCRATCH_DEVICE } from '../dist/src/devices/scratch.js';
import { ENODEV, ETIMEDOUT } from '../dist/src/uapi/errno.js';
import { T_WAIT_ACTOR } from '../dist/src/sync/arena.js';
import { waitForWord, waitUntil, within } from './helpers/wait.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;
const SCRATCH_BASE = 0x0800_0000;

const vms: Vm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy(1000)));
});

async function newVm(options: Parameters<typeof createVm>[0] & { gic: false }): Promise<Vm> {
  const vm = await createVm(options);
  vms.push(vm);
  return vm;
}

const configOwner = (vm: Vm) => vm.rt.arena.ownerOf(vm.shared.locks.config);

/** Terminate the host worker of the VM's only actor (the first host) and wait for the VMM to see it. */
async function killHost(vm: Vm): Promise<void> {
  const seen = vm.faults.length;
  await vm.workers().hosts[0]!.terminate();
  await waitUntil(() => vm.faults.length > seen, 'the actor death reported');
}

describe('an actor dies: what its requesters and later senders get', () => {
  it('the VMM requests in flight at its death give their reply slots back: as many concurrent requests as before still go through', async () => {
    const vm = await newVm({ vcpus: 1, gic: false });
    const pool = vm.rt.dir.replies.slots - vm.rt.arena.maxThreads - 1; // the main thread's reply slots
    const lock = vm.rt.arena.allocLock('scratch.lock');
    const doomed = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock }, 'doomed');
    const held = vm.rt.thread.mutex(lock);
    expect(await held.lockAsync()).toBe(0); // the doomed actor's first write blocks on it: the rest queue
    const inFlight = Array.from({ length: pool - 10 }, (_, i) =>
      vm.rt.client.requestAsync(doomed, OP_MMIO_WRITE, [0, 0, 8, i, 0]).then((r) => r.result));
    await waitUntil(() => vm.rt.dir.mailbox(doomed).size() >= pool - 12, 'the requests queued');
    await killHost(vm);
    expect(await within(Promise.all(inFlight), 'the queued requests')).toEqual(Array(pool - 10).fill(-ENODEV));
    held.unlock();
    const live = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4 }, 'live');
    const results = await within(Promise.all(Array.from({ length: pool }, () =>
      vm.rt.client.requestAsync(live, OP_MMIO_READ, [0, 0, 4]).then((r) => r.result))), 'requests to the live actor');
    expect(results).toEqual(Array(pool).fill(0));
  });

  it('nothing is queued to an actor already dead: its ring does not move, and requests from the VMM and a vCPU end with -ENODEV', async () => {
    const vm = await newVm({ vcpus: 1, gic: false, guest: { module: fixture('guest-mmio-read-on-demand.mjs'), args: { gpa: SCRATCH_BASE } } });
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4 }, 'scratch');
    expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 32, actor, region: 0, kind: 0 })).toBe(0);
    expect(await vm.start()).toBe(0);
    const r = vm.results(0);
    await waitForWord(r, 0, (v) => v >= 1, 'the first read');
    await killHost(vm);
    const before = vm.rt.transport.positions(actor);
    for (let i = 0; i < 8; i++) expect((await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 0, 4])).result).toBe(-ENODEV);
    Atomics.store(r, 2, 1);
    Atomics.notify(r, 2);
    await waitForWord(r, 0, (v) => v >= 2, 'the read after the death');
    expect(vm.rt.transport.positions(actor)).toEqual(before);
  });

  it('a trapped read of a device that died reads 0, not the value of the previous reply', async () => {
    const vm = await newVm({ vcpus: 1, gic: false, guest: { module: fixture('guest-mmio-read-on-demand.mjs'), args: { gpa: SCRATCH_BASE } } });
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4 }, 'scratch');
    expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 32, actor, region: 0, kind: 0 })).toBe(0);
    expect((await vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 0, 4, 0x1234, 0])).result).toBe(0);
    expect(await vm.start()).toBe(0);
    const r = vm.results(0);
    await waitForWord(r, 0, (v) => v >= 1, 'the first read');
    expect(r[1]).toBe(0x1234);
    await killHost(vm);
    Atomics.store(r, 2, 1);
    Atomics.notify(r, 2);
    await waitForWord(r, 0, (v) => v >= 2, 'the read after the death');
    expect(r[1]).toBe(0);
  });
});

describe("actorPlacement 'shared': the host dies", () => {
  it('a later spawn (a new ITS) fails with an error naming the dead host instead of waiting forever, and config_lock is released', async () => {
    const vm = await createVm({ vcpus: 1, actorPlacement: 'shared' });
    vms.push(vm);
    expect(vm.workers().hosts).toHaveLength(1); // the distributor and ITS 0 share it
    await killHost(vm);
    await expect(within(vm.gic.createIts(), 'createIts on a dead shared host')).rejects.toThrow(/ITS 1 cannot start: its actor host .* exited/);
    expect(vm.gic.its).toHaveLength(1);
    expect(configOwner(vm)).toBe(0);
  });
});

describe('a pause that times out says where the vCPU is', () => {
  it('a vCPU whose trapped write waits for a stalled device: -ETIMEDOUT, the fault names the device it waits for, not the guest', async () => {
    const vm = await newVm({ vcpus: 1, gic: false, pauseTimeoutMs: 300, guest: { module: fixture('guest-mmio-once.mjs'), args: { gpa: SCRATCH_BASE } } });
    const lock = vm.rt.arena.allocLock('scratch.lock');
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock }, 'scratch');
    expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 32, actor, region: 0, kind: 0 })).toBe(0);
    const held = vm.rt.thread.mutex(lock);
    expect(await held.lockAsync()).toBe(0); // the device's write path blocks on it
    expect(await vm.start()).toBe(0);
    const a = vm.rt.arena;
    await waitUntil(() => [...Array(a.threadCount()).keys()].some((t) => Atomics.load(a.i32, a.threadRecord(t + 1) + T_WAIT_ACTOR) === actor + 1),
      'the vCPU to wait for the device');
    expect(await vm.pause()).toBe(-ETIMEDOUT);
    expect(vm.faults.at(-1)?.message).toMatch(/^pause: vCPU 0 did not leave KVM_RUN within 300 ms \(vCPU 0 waits for the reply of actor \d+ \(scratch\) to a trapped access\)$/);
    held.unlock();
  });
});
