/**
 * The same VM behaviours on both actor transports (options.actorTransport):
 * the shared-memory mailboxes and the postMessage channels. Every device works
 * unchanged on either: the guest's ITS setup and MSIs from the VMM and from
 * injector threads (slow path: requests to the ITS actor), SAVE_TABLES -EBUSY
 * while vCPUs run and 0 once paused, MMIO round trips to the scratch device,
 * a handler that throws (-EFAULT, the actor lives on), a dead actor (-ENODEV
 * for requests queued, waiting and new), the deadlock detector's wait for an
 * actor's reply, and the validator's attribution of an actor's locks to the
 * requesting vCPU.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, errno, runInjectors, uapi, type GicVm, type Vm, type VmOptions } from '../dist/src/index.js';
import { Validator } from '../dist/src/sync/validator.js';
import { OP_MMIO_READ, OP_MMIO_WRITE } from '../dist/src/actors/protocol.js';
import { SCRATCH_DEVICE } from '../dist/src/devices/scratch.js';
import { T_WAIT_LOCK } from '../dist/src/sync/arena.js';
import { watchForDeadlock } from '../dist/src/stress/deadlock.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';
import { EFAULT, ENODEV } from '../dist/src/uapi/errno.js';
import { bootVm, doorbell, waitHandled } from './helpers/vm-boot.js';
import { waitForWord, waitUntil } from './helpers/wait.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;
const SCRATCH_BASE = 0x0800_0000;
const { KVM_DEV_ARM_VGIC_GRP_CTRL: GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES: SAVE } = uapi;

const vms: Vm[] = [];
const track = (vm: Vm) => vms.push(vm);
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy(1000)));
});

/** Device 7, events 0..3 -> LPIs 8192..8195 on vCPU e % 2. */
const DEV7 = { deviceId: 7, events: [0, 1, 2, 3].map((e) => ({ eventId: e, intid: 8192 + e, icid: e % 2 })) };

/** The actor-host thread's tid (its arena registration names it after the actor). */
function hostTid(vm: Vm, name: string): number {
  const a = vm.rt.arena;
  for (let tid = 1; tid <= a.threadCount(); tid++) if (a.threadInfo(tid).kind === 'actor' && a.threadInfo(tid).name === name) return tid;
  throw new Error(`no actor host ${name}`);
}

describe('options.actorTransport', () => {
  it('is validated at the façade: a TypeError names the option; the controlled scheduler refuses postmessage', async () => {
    await expect(createVm({ gic: false, actorTransport: 'sockets' as never })).rejects.toThrow(/options\.actorTransport/);
    await expect(createVm({ gic: false, actorTransport: 'postmessage', schedule: { strategy: 'random', seed: 1 } }))
      .rejects.toThrow(TypeError);
    await expect(createVm({ gic: false, actorTransport: 'postmessage', schedule: { strategy: 'random', seed: 1 } }))
      .rejects.toThrow(/options\.schedule.*actorTransport 'postmessage'/);
    const vm = await createVm({ gic: false });
    track(vm);
    expect(vm.options.actorTransport).toBe('shared-memory');
    expect(vm.rt.transport.kind).toBe('shared-memory');
  });
});

for (const actorTransport of ['shared-memory', 'postmessage'] as const) {
  const opts: Pick<VmOptions, 'actorTransport'> = { actorTransport };

  describe(`actorTransport '${actorTransport}'`, () => {
    it('its-setup guest; MSIs from the VMM and from injector threads, half of them on the slow path, all delivered; a dead ITS actor is -ENODEV', async () => {
      // A 2-slot translation cache keeps 2 translations: events 2 and 3 always ask the ITS actor.
      const vm = await bootVm({ vcpus: 2, devices: [DEV7], roles: { 0: ['setup', 'handle'], 1: ['handle'] }, gic: { cacheCapacity: 2 }, vmOptions: opts }, track);
      expect(vm.rt.transport.kind).toBe(actorTransport);
      for (const e of [0, 1, 2, 3]) expect(await vm.signalMsi({ address: doorbell(0), data: e, devid: 7 })).toBe(1);
      for (const e of [0, 1, 2, 3]) await waitHandled(vm, e % 2, 8192 + e, 1);
      const its = vm.gic.its[0]!.actor;
      const [sentBefore] = vm.rt.transport.positions(its);
      const msis = [0, 1, 2, 3].map((e) => ({ address: doorbell(0), data: e, devid: 7 }));
      const res = await runInjectors(vm.gic.injectorHandle(), [{ msis, rounds: 50 }, { msis, rounds: 50 }]);
      expect(res.map((r) => [r.delivered, r.blocked, r.errors])).toEqual([[200, 0, 0], [200, 0, 0]]);
      const [sent] = vm.rt.transport.positions(its);
      expect(sent - sentBefore, 'slow-path requests sent to the ITS actor').toBeGreaterThanOrEqual(200);
      await waitUntil(() => vm.rt.transport.positions(its)[1] === sent, 'the ITS actor to have taken every message');
      expect(vm.faults).toEqual([]);

      // The ITS actor's host dies: requests from an injector thread and from the VMM end with -ENODEV.
      await vm.workers().hosts[vm.rt.dir.hostOf(its)]!.terminate();
      await waitUntil(() => vm.faults.some((f) => /exited/.test(f.message)), 'the ITS host death to be reported');
      const [dead] = await runInjectors(vm.gic.injectorHandle(), [{ msis: [msis[3]!], rounds: 3 }]);
      expect(dead).toMatchObject({ delivered: 0, errors: 3, firstError: -ENODEV });
      expect(await vm.signalMsi(msis[2]!)).toBe(-ENODEV);
    });

    it('SAVE_TABLES is -EBUSY while vCPUs run and 0 once they are paused', async () => {
      const vm = await bootVm({ vcpus: 2, devices: [DEV7], roles: { 0: ['setup', 'handle'], 1: ['handle'] }, vmOptions: opts }, track);
      expect(await vm.signalMsi({ address: doorbell(0), data: 2, devid: 7 })).toBe(1);
      await waitHandled(vm, 0, 8194, 1);
      const its = vm.gic.its[0]!;
      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(-errno.EBUSY);
      expect(await vm.pause()).toBe(0);
      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(0);
      expect((await its.snapshot()).enabled).toBe(true); // a bulk reply (its own message) after a request
      expect(vm.faults).toEqual([]);
    });

    it('MMIO round trips from a vCPU to the scratch device, and VMM requests to it', async () => {
      const iterations = 300;
      const vm = await createVm({
        vcpus: 2, gic: false, ...opts,
        guest: { module: fixture('guest-mmio-own-reg.mjs'), args: { base: SCRATCH_BASE, iterations, unmapped: 0x0900_0000 } },
      });
      track(vm);
      const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 16 }, 'scratch');
      expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 16 * 8, actor, region: 0, kind: 0 })).toBe(0);
      expect(await vm.start()).toBe(0);
      for (const i of [0, 1]) {
        await waitUntil(() => vm.vcpuExit(i) !== undefined, `vCPU ${i}'s exit`);
        expect(vm.vcpuExit(i)?.reason).toBe('done');
        expect([...vm.results(i).subarray(0, 3)], 'round trips, mismatches, unmapped read').toEqual([iterations, 0, 0]);
        expect(vm.vcpuCounters(i)).toMatchObject({ mmioExits: 2 * iterations, unhandledMmio: 2 });
      }
      // Concurrent VMM requests on one channel: each gets its own reply.
      const writes = await Promise.all([5, 6, 7].map((r) => vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 8 * r, 8, 100 + r, r])));
      expect(writes.map((w) => w.result)).toEqual([0, 0, 0]);
      const reads = await Promise.all([7, 5, 6].map((r) => vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 8 * r, 8])));
      expect(reads.map((r) => [r.result, r.values[0], r.values[1]])).toEqual([[0, 107, 7], [0, 105, 5], [0, 106, 6]]);
      expect(vm.faults).toEqual([]);
    });

    it("actors sharing one host ('shared' placement): concurrent requests to each get their own actor's replies", async () => {
      const vm = await createVm({ vcpus: 1, gic: false, actorPlacement: 'shared', ...opts });
      track(vm);
      const a = await vm.spawnActor(SCRATCH_DEVICE, { registers: 2 }, 'scratch a');
      const b = await vm.spawnActor(SCRATCH_DEVICE, { registers: 2 }, 'scratch b');
      expect(vm.workers().hosts).toHaveLength(1);
      const write = (actor: number, v: number) => vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 0, 4, v, 0]);
      const read = (actor: number) => vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 0, 4]).then((r) => r.values[0]);
      expect((await Promise.all([write(a, 11), write(b, 22)])).map((r) => r.result)).toEqual([0, 0]);
      expect(await Promise.all([read(b), read(a), read(b), read(a)])).toEqual([22, 11, 22, 11]);
    });

    it('a handler that throws: the requester (vCPU or VMM) gets -EFAULT, the fault is reported, the actor lives on', async () => {
      const vm = await createVm({ vcpus: 1, gic: false, guest: { module: fixture('guest-fault-mmio.mjs'), args: { gpa: SCRATCH_BASE } }, ...opts });
      track(vm);
      const actor = await vm.spawnActor(fixture('fault-actor.mjs'), {}, 'faulty');
      expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 64, actor, region: 0, kind: 0 })).toBe(0);
      expect(await vm.start()).toBe(0);
      await waitForWord(vm.results(0), 0, (v) => v === 1, "the guest's two reads");
      expect(vm.results(0)[1], 'the read after the fault is answered').toBe(42);
      await waitUntil(() => vm.faults.length > 0, 'the fault report');
      expect(vm.faults[0]).toMatchObject({ source: `actor ${actor}`, message: 'fault-actor: read at offset 0' });
      expect((await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 0, 4])).result).toBe(-EFAULT);
      const ok = await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 16, 4]);
      expect([ok.result, ok.values[0], ok.values[1]]).toEqual([0, 42, 16]);
      await waitUntil(() => vm.faults.length === 2, "the VMM request's fault report"); // the report comes over the host's control port
      expect(vm.faults[1]).toMatchObject({ source: `actor ${actor}` });
    });

    it('an actor that dies: requests queued, waiting and new all end with -ENODEV', async () => {
      const vm = await createVm({ vcpus: 1, gic: false, ...opts });
      track(vm);
      const lock = vm.rt.arena.allocLock('scratch.lock');
      const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock }, 'scratch');
      const held = vm.rt.thread.mutex(lock);
      expect(await held.lockAsync()).toBe(0); // the actor's first write blocks on this lock
      const requests = Array.from({ length: 5 }, (_, i) =>
        vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 0, 8, i, 0]).then((r) => r.result));
      const host = hostTid(vm, 'scratch');
      const a = vm.rt.arena;
      await waitUntil(() => Atomics.load(a.i32, a.threadRecord(host) + T_WAIT_LOCK) === lock + 1, 'the actor to block on the lock');
      await waitUntil(() => vm.rt.transport.positions(actor)[0] >= 5, 'every request sent');
      await vm.workers().hosts[0]!.terminate();
      expect(await Promise.all(requests)).toEqual(Array(5).fill(-ENODEV));
      expect((await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, 0, 8])).result).toBe(-ENODEV);
      expect(vm.faults.some((f) => /exited/.test(f.message))).toBe(true);
      held.unlock();
    });

    it("the deadlock detector finds a cycle through an actor's reply (the vCPU waits for the device, the device for the vCPU's mutex)", async () => {
      const vm = await createVm({ vcpus: 1, gic: false, guest: { module: fixture('guest-mmio-once.mjs'), args: { gpa: SCRATCH_BASE } }, ...opts });
      track(vm);
      const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock: vm.shared.locks.vcpu[0] }, 'scratch');
      expect(await vm.registerMmio({ base: SCRATCH_BASE, size: 32, actor, region: 0, kind: 0 })).toBe(0);
      expect(await vm.start()).toBe(0);
      const found = await watchForDeadlock(vm.rt.arena, vm.rt.dir, 30_000);
      expect(found).toHaveLength(1);
      const byName = new Map(found[0]!.threads.map((t) => [t.name, t]));
      expect(byName.get('vCPU 0')!.waitsFor).toMatch(/the reply of actor \d+ \(held by scratch\)/);
      expect(byName.get('scratch')!.waitsFor).toBe('vcpu.mutex#0 (held by vCPU 0)');
    });

    it("the validator attributes the ITS actor's cmd_lock to the vCPU whose CWRITER write it serves", async () => {
      const vm = await createVm({
        vcpus: 1, validator: true, gic: { its: 1 }, ...opts,
        guest: { module: fixture('guest-cwriter-once.mjs'), args: { its: defaultItsBase(0) } },
      }) as GicVm;
      track(vm);
      await vm.start();
      await waitForWord(vm.results(0), 0, (v) => v === 1, "the guest's CWRITER write");
      const e = new Validator(vm.shared.validator!, vm.rt.arena).edges().find((x) => x.from === 'vcpu.mutex' && x.to === 'its.cmd_lock');
      expect(e).toMatchObject({ thread: 'vCPU 0', actingThread: 'ITS 0', operation: 'CWRITER write' });
      expect(vm.lockFindings()).toEqual([]);
    });
  });
}
