/**
 * A guest that never calls the guest API cannot be paused: pause() fails
 * with -ETIMEDOUT and a clear fault, rolls its request back (the late vCPU
 * will not pause itself later behind the VMM's back), and destroy still ends
 * every worker.
 */
import { describe, expect, it } from 'vitest';
import { createVm } from '../dist/src/index.js';
import { REQ_PAUSE } from '../dist/src/kvm/vcpu-block.js';
import { ETIMEDOUT } from '../dist/src/uapi/errno.js';
import { waitForWord } from '../dist/src/sync/wait.js';

describe('pause of a guest that never calls back', () => {
  it('returns -ETIMEDOUT, reports the vCPU, clears the pause request, and destroy still works', async () => {
    const vm = await createVm({ vcpus: 1, gic: false, pauseTimeoutMs: 200, guest: { module: new URL('./fixtures/guest-never-returns.mjs', import.meta.url) } });
    try {
      expect(await vm.start()).toBe(0);
      expect(await waitForWord(vm.results(0), 0, (v) => v === 1)).toBe(true);
      expect(await vm.pause()).toBe(-ETIMEDOUT);
      expect(vm.vmState).toBe('running');
      expect(vm.vcpuState(0)).toBe('running');
      expect(vm.rt.vcpus.requests(0) & REQ_PAUSE).toBe(0);
      expect(vm.faults.map((f) => f.message).join()).toMatch(/vCPU 0 did not leave KVM_RUN/);
    } finally {
      const { vcpus, hosts } = vm.workers();
      await vm.destroy(200);
      for (const w of [...vcpus, ...hosts]) expect(w.threadId).toBe(-1);
    }
  });
});
