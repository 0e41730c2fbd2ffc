/**
 * End to end: the its-setup guest program on a real VM (vCPU worker threads,
 * the distributor and ITS actors, KVM_SIGNAL_MSI). vCPU 0 brings the GIC and
 * ITS up and returns its summary; the other vCPUs run as secondaries
 * (lpi-handler behaviour) and count the LPIs the MSIs raise.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, type GicVm } from '../dist/src/index.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';
import { SETUP_MAILBOX_GPA } from '../dist/src/guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE } from '../dist/src/guest/handshake.js';
import { waitForWord, waitUntil } from './helpers/wait.js';

const ITS_SETUP = new URL('../dist/src/guest/programs/its-setup.js', import.meta.url).href;
const DOORBELL = (n: number) => defaultItsBase(n) + 0x1_0040;

let vm: GicVm | undefined;
afterEach(async () => {
  await vm?.destroy();
  vm = undefined;
});

describe('guest its-setup on a VM', () => {
  for (const variant of [
    { name: 'flat tables, boot vCPU enables every redistributor', args: {} },
    { name: 'two-level tables, secondaries enable their own LPIs, batched, INV after map', args: { twoLevel: true, enableLpis: 'self', batch: true, configAfterMap: true } },
  ]) {
    it(variant.name, async () => {
      // Events 0..7 of device 42: LPI 8192+e, collection 1 + e % 2 (vCPUs 1 and 2; vCPU 0 returns after setup).
      const events = [...Array(8).keys()].map((e) => ({ eventId: e, intid: 8192 + e, icid: 1 + (e % 2) }));
      vm = await createVm({
        vcpus: 3,
        guest: { module: ITS_SETUP, args: { ...variant.args, devices: [{ deviceId: 42, events }], secondary: { stopAfter: 4 } } },
      });
      expect(await vm.start()).toBe(0);
      await waitUntil(() => vm!.vcpuExit(0) !== undefined, 'vCPU 0 to finish the setup');
      const exit0 = vm.vcpuExit(0)!;
      expect(exit0.reason).toBe('done');
      const s = exit0.result as { ok: boolean; error?: unknown; events: number; commands: number; lpisEnabledOn: number[] };
      expect(s.error).toBeUndefined();
      expect(s.ok).toBe(true);
      expect(s.events).toBe(8);
      // With enableLpis 'self' each secondary sets its own EnableLPIs: wait until all three redistributors have.
      const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, 4)!;
      expect(Atomics.load(mailbox, MAILBOX_STATE)).toBe(SETUP_DONE);
      await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (n) => n === 3, 'every redistributor to enable LPIs');
      for (const e of events) expect(await vm.signalMsi({ address: DOORBELL(0), data: e.eventId, devid: 42 })).toBe(1);
      for (const v of [1, 2]) await waitForWord(vm.results(v), 0, (n) => n >= 4, `vCPU ${v} to handle 4 LPIs`);
      await waitUntil(() => vm!.vcpuExit(1) !== undefined && vm!.vcpuExit(2) !== undefined, 'secondaries to return');
      for (const v of [1, 2]) {
        expect(vm.vcpuExit(v)).toMatchObject({ reason: 'done', result: { ok: true, vcpu: v, lpis: 4 } });
        const r = vm.results(v);
        // results[1 + intid - 8192]: vCPU 1 (icid 1) got events 0,2,4,6 = LPIs 8192,8194,...; vCPU 2 the odd ones.
        expect(Array.from(r.subarray(1, 9))).toEqual(events.map((e) => (e.icid === v ? 1 : 0)));
      }
    });
  }
});
