/**
 * The migration source used by test/vm-migrate-*.test.ts: a running 2-vCPU
 * VM with two ITSs, set up by its own guest, with interrupts pending at pause
 * in both ways a guest can leave them undelivered:
 *
 *   ITS 0, device 7:  ev0 -> LPI 8192 -> vCPU 1   pending: vCPU 1's guest never acknowledges ('noack')
 *                     ev1 -> LPI 8193 -> vCPU 0   pending but masked (config byte Enable = 0)
 *                     ev2 -> LPI 8194 -> vCPU 0   delivered once on the source
 *                     ev3 -> LPI 8195 -> vCPU 1   never signalled on the source
 *   ITS 1, device 9:  ev0 -> LPI 8200 -> vCPU 1   pending (vCPU 1 blocked)
 *                     ev1 -> LPI 8201 -> vCPU 0   never signalled on the source
 *
 * The destination's guest (DEST_ARGS) handles LPIs on both vCPUs; vCPU 0
 * first unmasks LPI 8193 the way a guest does (config byte, then INV on ITS 0).
 */
import { expect } from 'vitest';
import { saveVm, translationView, type GicVm, type TranslationView, type VmSnapshot } from '../../dist/src/index.js';
import { bootVm, doorbell, lpi, waitHandled } from './vm-boot.js';

export const SOURCE_DEVICES = [
  { its: 0, deviceId: 7, events: [
    { eventId: 0, intid: 8192, icid: 1 }, { eventId: 1, intid: 8193, icid: 0, enabled: false },
    { eventId: 2, intid: 8194, icid: 0 }, { eventId: 3, intid: 8195, icid: 1 },
  ] },
  { its: 1, deviceId: 9, events: [{ eventId: 0, intid: 8200, icid: 1 }, { eventId: 1, intid: 8201, icid: 0 }] },
];
/** LPIs pending (undelivered) when the source pauses. */
export const PENDING_AT_PAUSE = [{ intid: 8192, vcpu: 1 }, { intid: 8193, vcpu: 0 }, { intid: 8200, vcpu: 1 }];

export const DEST_ARGS = {
  roles: { 0: ['unmask', 'handle'], 1: ['handle'] },
  unmask: [{ its: 0, deviceId: 7, eventId: 1, intid: 8193 }],
};

/** KVM_SIGNAL_MSI to device `devid` event `ev` through ITS `its`. */
export const msi = (vm: GicVm, its: number, devid: number, ev: number): Promise<number> =>
  vm.signalMsi({ address: doorbell(its), data: ev, devid });

export interface Source {
  vm: GicVm;
  snap: VmSnapshot;
  /** Translation view of the paused source after the save. */
  view: TranslationView;
}

/** Boot the source, raise the interrupts, pause and save it (saveVm). The VM stays paused. */
export async function makeSource(track: (vm: GicVm) => void, gic: Record<string, unknown> = {}): Promise<Source> {
  const vm = await bootVm({
    vcpus: 2, its: 2, devices: SOURCE_DEVICES, roles: { 0: ['setup', 'handle'], 1: ['noack'] }, gic,
  }, track);
  expect(await msi(vm, 0, 7, 0)).toBe(1);
  expect(await msi(vm, 0, 7, 1)).toBe(1); // masked: latched, not delivered (9.8)
  expect(await msi(vm, 0, 7, 2)).toBe(1);
  expect(await msi(vm, 1, 9, 0)).toBe(1);
  await waitHandled(vm, 0, 8194, 1);
  expect(await vm.pause()).toBe(0);
  for (const p of PENDING_AT_PAUSE) expect(lpi(vm, p.intid), `LPI ${p.intid} at pause`).toMatchObject({ pending: true, target: p.vcpu, delivered: 0 });
  expect(lpi(vm, 8194)).toMatchObject({ pending: false, delivered: 1 });
  const snap = await saveVm(vm);
  const view = await translationView(vm.gic);
  return { vm, snap, view };
}
