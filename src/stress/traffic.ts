/**
 * The VM the save/lock-protocol scenarios share: every ITS set up by the
 * guest (guests/its-traffic.ts: vCPU 0 keeps writing ITS commands, the other
 * vCPUs handle the LPIs and read ITS registers), and the VMM-side helpers to
 * boot it and wait on its traffic, all honouring the run's signal.
 */
import type { CreateVmOptions, GicVm } from '../create-vm.js';
import { SETUP_MAILBOX_GPA } from '../guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, MAILBOX_WORDS, SETUP_DONE } from '../guest/handshake.js';
import type { LockProtocol } from '../vgic/lock-protocol.js';
import { defaultItsBase } from '../vgic/layout.js';
import { errnoName } from '../uapi/errno.js';
import { ABORTED, untilAborted, waitFor } from './abortable.js';
import { R_ERROR_FROM_END, R_ROUNDS_FROM_END, type ItsTrafficArgs } from './guests/its-traffic.js';
import type { ScenarioContext, ScenarioOptions } from './scenario.js';

export const TRAFFIC_GUEST = new URL('./guests/its-traffic.js', import.meta.url);
const RAM_BASE = 0x4000_0000;
/** 16 MiB of guest RAM: the GIC tables take a few, and RAM copies stay cheap. */
const RAM_BYTES = 16 * 2 ** 20;
/** How long a live VM may take to show progress before a scenario calls it stuck. */
export const TRAFFIC_TIMEOUT_MS = 30_000;

export interface TrafficGic {
  lockProtocol?: 'upstream' | 'v7-2017' | LockProtocol;
  blockingVcpuLocks?: boolean;
}

/** Device n + 1 on ITS n; its event v -> LPI 8192 + n * vcpus + v -> collection v (vCPU v). */
export function trafficVmOptions(o: ScenarioOptions, gic: TrafficGic = {}): CreateVmOptions {
  const devices = Array.from({ length: o.its }, (_, n) => ({
    its: n, deviceId: n + 1,
    events: Array.from({ length: o.vcpus }, (_, v) => ({ eventId: v, intid: 8192 + n * o.vcpus + v, icid: v })),
  }));
  const args: ItsTrafficArgs = {
    setup: {
      its: [...Array(o.its).keys()], devices, region: { base: RAM_BASE + 0x1_0000, size: 8 * 2 ** 20 },
      deviceIdBits: 8, queueBytes: 0x1_0000,
    },
    devices: devices.map((d) => ({ deviceId: d.deviceId })),
  };
  return {
    vcpus: o.vcpus,
    memory: RAM_BYTES,
    gic: { its: o.its, ...gic },
    guest: { module: TRAFFIC_GUEST, args },
  };
}

/** MSI of ITS n's device, event v (KVM_SIGNAL_MSI). */
export function trafficMsi(n: number, v: number): { address: number; data: number; devid: number } {
  return { address: defaultItsBase(n) + 0x1_0040, data: v, devid: n + 1 };
}

/** Command rounds vCPU 0 completed (each an INT and a SYNC, two CWRITER writes). */
export function rounds(vm: GicVm): number {
  const r = vm.results(0);
  return Atomics.load(r, r.length - R_ROUNDS_FROM_END);
}

/** The guest's reported failure (-errno) or 0. */
export function guestError(vm: GicVm): number {
  for (let v = 0; v < vm.nrVcpus; v++) {
    const r = vm.results(v);
    const e = Atomics.load(r, r.length - R_ERROR_FROM_END);
    if (e !== 0) return e;
  }
  return 0;
}

/** Wait until vCPU 0 has completed `n` command rounds: 'ok', 'timeout' or 'aborted'. */
export function waitRounds(vm: GicVm, n: number, signal: AbortSignal, timeoutMs = TRAFFIC_TIMEOUT_MS): Promise<'ok' | 'timeout' | 'aborted'> {
  const r = vm.results(0);
  return waitFor(() => rounds(vm) >= n || guestError(vm) !== 0, signal, timeoutMs, { i32: r, index: r.length - R_ROUNDS_FROM_END });
}

/** Create the VM through the runner, start it and wait for the guest's setup and first rounds. A VM, or why not. */
export async function bootTrafficVm(ctx: ScenarioContext, o: ScenarioOptions, gic: TrafficGic = {}): Promise<GicVm | string> {
  const vm = await ctx.createVm(trafficVmOptions(o, gic));
  const started = await untilAborted(vm.start(), ctx.signal);
  if (started === ABORTED) return 'stopped while starting';
  if (started !== 0) return `start: ${errnoName(started)}`;
  // The setup handshake (setup-wait.ts's, but honouring the signal): SETUP_DONE and EnableLPIs everywhere.
  const mb = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, MAILBOX_WORDS)!;
  const state = () => Atomics.load(mb, MAILBOX_STATE);
  const setup = await waitFor(() => state() < 0 || (state() === SETUP_DONE && Atomics.load(mb, MAILBOX_LPIS_ENABLED) >= vm.nrVcpus),
    ctx.signal, TRAFFIC_TIMEOUT_MS, { i32: mb, index: MAILBOX_STATE });
  if (setup === 'aborted') return 'stopped during the guest setup';
  if (setup === 'timeout') return 'guest ITS setup: timed out';
  if (state() < 0) return `guest ITS setup: ${errnoName(state())}`;
  const w = await waitRounds(vm, 2, ctx.signal);
  if (w !== 'ok') return `guest command traffic: ${w}`;
  if (guestError(vm) !== 0) return `guest command traffic: ${errnoName(guestError(vm))}`;
  return vm;
}
