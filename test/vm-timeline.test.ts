/**
 * A VM's timeline as Perfetto opens it (Chrome Trace Event format): every
 * thread named, KVM_RUN spans on the vCPUs, actor message spans on the ITS
 * and distributor, lock holds by lock name, MSIs as instants on the thread
 * that signalled them.
 */
import { describe, expect, it } from 'vitest';
import { createVm, waitForItsSetup } from '../dist/src/index.js';

describe('VM timeline (options.timeline, vm.chromeTrace())', () => {
  it('records KVM_RUN, MMIO exits, actor messages, lock holds and MSIs per thread', async () => {
    const vm = await createVm({
      vcpus: 2, timeline: true,
      gic: { its: 1 },
      guest: { module: 'its-setup', args: { devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 8192, icid: 1 }] }], handle: true } },
    });
    try {
      expect(await vm.start()).toBe(0);
      expect(await waitForItsSetup(vm)).toBe(0);
      expect(await vm.signalMsi({ address: vm.gic.its[0]!.base!, data: 0, devid: 1 })).toBe(1);
      expect(await vm.pause()).toBe(0);
      const trace = vm.chromeTrace()!;
      JSON.parse(JSON.stringify(trace)); // serialisable as the file Perfetto reads
      const names = new Map(trace.traceEvents.filter((e) => e.name === 'thread_name').map((e) => [e.tid, String(e.args?.name)]));
      const on = (thread: string) => trace.traceEvents.filter((e) => names.get(e.tid) === thread && e.ph !== 'M');
      expect([...names.values()]).toEqual(expect.arrayContaining(['VMM', 'vCPU 0', 'vCPU 1', 'ITS 0']));
      for (const v of ['vCPU 0', 'vCPU 1']) {
        const run = on(v).filter((e) => e.name === 'KVM_RUN');
        expect(run.filter((e) => e.ph === 'B').length).toBeGreaterThan(0);
        expect(run.filter((e) => e.ph === 'E').length).toBe(run.filter((e) => e.ph === 'B').length); // paused: every span closed
      }
      expect(on('vCPU 0').some((e) => e.name === 'MMIO exit')).toBe(true);
      expect(on('ITS 0').some((e) => e.name === 'message')).toBe(true);
      expect(on('ITS 0').some((e) => e.name === 'lock held' && JSON.stringify(e.args ?? {}).includes('its.its_lock'))).toBe(true);
      expect(on('VMM').some((e) => e.name === 'signalMsi' && e.ph === 'i')).toBe(true);
      expect(on('VMM').some((e) => e.name === 'pause')).toBe(true);
    } finally {
      await vm.destroy();
    }
  });

  it('is undefined without options.timeline, and a bad option is a TypeError naming it', async () => {
    const vm = await createVm({ gic: false });
    try {
      expect(vm.chromeTrace()).toBeUndefined();
    } finally {
      await vm.destroy();
    }
    await expect(createVm({ gic: false, timeline: 'yes' as never })).rejects.toThrow(/options\.timeline/);
  });
});
