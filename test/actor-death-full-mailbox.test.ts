/**
 * An actor whose worker dies while its mailbox is full: every sender waiting
 * for space and every requester waiting for a reply gets -ENODEV instead of
 * waiting forever; the VM reports the death and destroy still works.
 */
import { describe, expect, it } from 'vitest';
import { createVm } from '../dist/src/index.js';
import { OP_MMIO_WRITE } from '../dist/src/actors/protocol.js';
import { SCRATCH_DEVICE } from '../dist/src/devices/scratch.js';
import { ENODEV } from '../dist/src/uapi/errno.js';
import { waitUntil } from '../dist/src/sync/wait.js';

describe('an actor dies with a full mailbox', () => {
  it('queued and waiting requests all end with -ENODEV', async () => {
    const vm = await createVm({ vcpus: 1, gic: false, mailboxCapacity: 4 });
    try {
      const lock = vm.rt.arena.allocLock('scratch.lock');
      const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 4, lock }, 'scratch');
      const held = vm.rt.thread.mutex(lock);
      expect(await held.lockAsync()).toBe(0); // the actor's first write blocks on this lock
      const requests = Array.from({ length: 10 }, (_, i) =>
        vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 0, 8, i, 0]).then((r) => r.result));
      // The actor holds one message, four fill the ring, the rest wait for space.
      expect(await waitUntil(() => vm.rt.dir.mailbox(actor).size() >= 4)).toBe(true);
      await vm.workers().hosts[0]!.terminate();
      const results = await Promise.all(requests);
      expect(results).toEqual(Array(10).fill(-ENODEV));
      expect(vm.faults.some((f) => /exited/.test(f.message))).toBe(true);
      held.unlock();
    } finally {
      await vm.destroy(1000);
    }
  });
});
