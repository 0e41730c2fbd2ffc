/**
 * The deadlock detector finds constructed cycles of 2 and 3 threads, and one
 * through an actor's reply, in bounded time, with each thread's wait and held
 * locks; a lock merely contended (no cycle) is not reported.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorDirectory } from '../dist/src/actors/directory.js';
import { LockArena, ThreadContext } from '../dist/src/sync/index.js';
import { waitUntil } from '../dist/src/sync/wait.js';
import { detectDeadlocks, formatDeadlock, waitForEdges, watchForDeadlock } from '../dist/src/stress/deadlock.js';
import { createVm } from '../dist/src/index.js';
import { SCRATCH_DEVICE } from '../dist/src/devices/scratch.js';

const FIXTURE = new URL('./fixtures/cycle-worker.mjs', import.meta.url);
let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
  workers = [];
});

/** n workers; worker i holds lock i and then waits for lock (i+1) % n. */
function ring(n: number) {
  const arena = LockArena.create({}, 'off');
  const locks = Array.from({ length: n }, (_, i) => arena.allocLock(`L${i}`));
  const dir = new ActorDirectory(ActorDirectory.create({ maxActors: 1, mailboxCapacity: 2 }));
  const ctl = new SharedArrayBuffer(4);
  workers = locks.map((_, i) => new Worker(FIXTURE, {
    workerData: { arena: arena.buffer, first: locks[i], second: locks[(i + 1) % n], ctl, parties: n, name: `T${i}`, index: i },
  }));
  return { arena, dir };
}

describe('deadlock detector', () => {
  for (const n of [2, 3]) {
    it(`finds a ${n}-thread cycle with every thread's wait and held lock`, async () => {
      const { arena, dir } = ring(n);
      const found = await watchForDeadlock(arena, dir, 30_000);
      expect(found).toHaveLength(1);
      const threads = found[0]!.threads;
      expect(threads.map((t) => t.name).sort()).toEqual(Array.from({ length: n }, (_, i) => `T${i}`));
      for (const t of threads) {
        const i = Number(t.name.slice(1));
        expect(t.holds).toEqual([`L${i}#0`]);
        expect(t.waitsFor).toContain(`L${(i + 1) % n}#0 (held by T${(i + 1) % n})`);
      }
      expect(formatDeadlock(found[0]!)).toMatch(/^deadlock: a cycle of waits\n {2}T\d waits for L\d#0/);
    });
  }

  it('finds a cycle through an actor reply: a vCPU waits for the device, the device for the vCPU\'s mutex', async () => {
    const vm = await createVm({ vcpus: 1, gic: false, guest: { module: new URL('./fixtures/guest-mmio-once.mjs', import.meta.url), args: { gpa: 0x0900_0000 } } });
    try {
      // The scratch device takes vcpu.mutex#0 around each write: held by vCPU 0 for all of KVM_RUN.
      const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock: vm.shared.locks.vcpu[0] }, 'scratch');
      expect(await vm.registerMmio({ base: 0x0900_0000, size: 32, actor, region: 0, kind: 0 })).toBe(0);
      await vm.start();
      const found = await watchForDeadlock(vm.rt.arena, vm.rt.dir, 30_000);
      expect(found).toHaveLength(1);
      const byName = new Map(found[0]!.threads.map((t) => [t.name, t]));
      expect(byName.get('vCPU 0')!.waitsFor).toMatch(/the reply of actor \d+ \(held by scratch\)/);
      expect(byName.get('vCPU 0')!.holds).toEqual(['vcpu.mutex#0']);
      expect(byName.get('scratch')!.waitsFor).toBe('vcpu.mutex#0 (held by vCPU 0)');
    } finally {
      await vm.destroy(200);
    }
  });

  it('reports nothing for a lock that is only contended (a wait edge, no cycle)', async () => {
    const arena = LockArena.create({}, 'off');
    const a = arena.allocLock('A'), b = arena.allocLock('B');
    const dir = new ActorDirectory(ActorDirectory.create({ maxActors: 1, mailboxCapacity: 2 }));
    const main = new ThreadContext(arena, arena.registerThread('vmm', 0, 'main'));
    expect(await main.mutex(b).lockAsync()).toBe(0);
    const ctl = new SharedArrayBuffer(4);
    // T0 takes A, then blocks on B, which the main thread holds without waiting for anything.
    workers = [new Worker(FIXTURE, { workerData: { arena: arena.buffer, first: a, second: b, ctl, parties: 1, name: 'T0', index: 0 } })];
    await waitUntil(() => waitForEdges(arena, dir).length === 1);
    expect(waitForEdges(arena, dir)).toEqual([{ tid: 2, on: main.tid, what: 'B#0' }]);
    expect(detectDeadlocks(arena, dir)).toEqual([]);
    main.mutex(b).unlock();
    await new Promise((r) => workers[0]!.once('exit', r));
    expect(waitForEdges(arena, dir)).toEqual([]);
  });
});
