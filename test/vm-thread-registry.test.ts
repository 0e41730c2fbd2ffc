/**
 * A VM's thread registry (the lock arena's) holds options.maxThreads
 * registrations over the VM's life, exited threads included (their tids are
 * never reused). Found by the command fuzzer: transient injector threads used
 * to run into a fixed 256 with an error naming an option createVm did not
 * have. Real workers: injector threads run and exit one after the other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, runInjectors, type GicVm } from '../dist/src/index.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';

let vms: GicVm[] = [];
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy()));
  vms = [];
});

// One MSI (-EBUSY: nothing enabled the ITS). What matters here is the thread, not the MSI.
const plan = { msis: [{ address: defaultItsBase(0) + 0x1_0040, data: 0, devid: 1 }] };
const ran = (r: { delivered: number; blocked: number; errors: number }) => r.delivered + r.blocked + r.errors === 1;

describe('thread registry capacity (options.maxThreads)', () => {
  it('exited injector threads keep their registration: the one past maxThreads fails with a RangeError naming the option', async () => {
    // The VMM, one vCPU, the distributor and the ITS actor hosts: 4 threads, so room for 2 injectors.
    const vm = await createVm({ vcpus: 1, maxThreads: 6 });
    vms.push(vm);
    for (let i = 0; i < 2; i++) expect(ran((await runInjectors(vm.gic.injectorHandle(), [plan]))[0]!)).toBe(true);
    await expect(runInjectors(vm.gic.injectorHandle(), [plan])).rejects.toThrow(/more than 6 threads registered \(createVm options\.maxThreads/);
  });

  it('one more in maxThreads and the same third injector runs', async () => {
    const vm = await createVm({ vcpus: 1, maxThreads: 7 });
    vms.push(vm);
    for (let i = 0; i < 3; i++) expect(ran((await runInjectors(vm.gic.injectorHandle(), [plan]))[0]!)).toBe(true);
    expect(vm.rt.arena.threadCount()).toBe(7);
  });

  it('maxThreads is validated: too few for the VMM and the vCPUs is a RangeError naming it', async () => {
    await expect(createVm({ vcpus: 4, maxThreads: 5 })).rejects.toThrow(/options\.maxThreads must be in 6\.\.16384/);
  });
});
