/**
 * lpi-stress: the shape of the kernel's vgic_lpi_stress selftest. A VM with
 * `vcpus` vCPUs; the guest ITS driver (vCPU 0) maps `devices` devices with
 * `eventsPerDevice` events each, LPIs spread over every vCPU's collection;
 * then one injector thread per device signals each of its events
 * `iterations` times. Every signalMsi must return 1. Reports LPIs/s.
 *
 * runLpiStress() does it all on a VM of its own. The steps are exported for
 * callers that create the VM themselves (a stress scenario lends its VMs
 * from the runner): lpiStressPlan() -> create the VM with plan.vmOptions ->
 * bootLpiStress() -> injectLpiStress() (as many rounds as wanted).
 */
import { createVm, type CreateVmOptions, type GicVm } from '../create-vm.js';
import { waitForItsSetup } from '../guest/setup-wait.js';
import { waitUntil } from '../sync/wait.js';
import { errnoName } from '../uapi/errno.js';
import { runInjectors } from './injectors.js';
import { defaultItsBase } from './layout.js';
import { F_PENDING } from './vgic-state.js';

/** The shape of an lpi-stress run (the kernel's vgic_lpi_stress selftest). Every field is optional. */
export interface LpiStressOptions {
  /** vCPUs, 1..256. Default 1. */
  vcpus?: number;
  /** Devices, one injector thread each, 1..1024. Default 1. */
  devices?: number;
  /** Events per device, >= 1 (LPIs = devices * eventsPerDevice, at most 57344). Default 1. */
  eventsPerDevice?: number;
  /** Times each injector signals each of its events, 0..2^31-1. Default 100000. */
  iterations?: number;
  /** ITSs, 1..16; devices are spread over them. Default 1. */
  its?: number;
  /** Extra VM options (lockStat, actorPlacement ...). Default none. */
  vm?: Omit<CreateVmOptions, 'vcpus' | 'gic' | 'guest'>;
  /** Translation-cache slots per ITS (a power of two). Default 4096. */
  cacheCapacity?: number;
}

/** What an lpi-stress run measured. */
export interface LpiStressResult {
  /** MSIs delivered (signalMsi returned 1). */
  injected: number;
  /** signalMsi results other than 1 (must be 0). */
  failed: number;
  /** LPIs acknowledged by the guests (<= injected: an LPI signalled while pending coalesces). */
  handled: number;
  /** Injection time (the slowest injector's). */
  elapsedMs: number;
  /** injected / elapsed. */
  lpisPerSecond: number;
}

/** One device of the plan: its ITS, DeviceID and events (EventID -> LPI -> collection). */
export interface LpiStressDevice {
  its: number;
  deviceId: number;
  eventIdBits: number;
  events: { eventId: number; intid: number; icid: number }[];
}

/** What lpi-stress runs: the devices the guest maps and the options of the VM that runs it. */
export interface LpiStressPlan {
  vcpus: number;
  devices: LpiStressDevice[];
  /** Pass to createVm (or a scenario context's createVm). */
  vmOptions: CreateVmOptions;
}

/** The devices and VM options of a run (validates the sizes). */
export function lpiStressPlan(o: Omit<LpiStressOptions, 'iterations'> = {}): LpiStressPlan {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const int = (name: string, v: unknown, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`options.${name} must be an integer`);
    if (v < min || v > max) throw new RangeError(`options.${name} must be in ${min}..${max} (got ${v})`);
    return v;
  };
  const vcpus = int('vcpus', o.vcpus ?? 1, 1, 256), devices = int('devices', o.devices ?? 1, 1, 1024);
  const events = int('eventsPerDevice', o.eventsPerDevice ?? 1, 1, 57344), nrIts = int('its', o.its ?? 1, 1, 16);
  if (o.vm !== undefined && (o.vm === null || typeof o.vm !== 'object')) throw new TypeError('options.vm must be an object');
  if (devices * events > 57344) throw new RangeError('options.devices * options.eventsPerDevice must be <= 57344');
  const eventIdBits = Math.max(1, Math.ceil(Math.log2(events)));
  const devs = Array.from({ length: devices }, (_, d) => ({
    its: d % nrIts, deviceId: d, eventIdBits,
    events: Array.from({ length: events }, (_, e) => {
      const n = d * events + e;
      return { eventId: e, intid: 8192 + n, icid: n % vcpus };
    }),
  }));
  return {
    vcpus,
    devices: devs,
    vmOptions: {
      ...o.vm,
      vcpus,
      gic: { its: nrIts, ...(o.cacheCapacity !== undefined ? { cacheCapacity: o.cacheCapacity } : {}) },
      guest: { module: 'its-setup', args: { its: Array.from({ length: nrIts }, (_, i) => i), devices: devs, handle: true } },
    },
  };
}

/** Start the VM (created with plan.vmOptions) and wait for its guest's ITS setup. Throws if the setup fails. */
export async function bootLpiStress(vm: GicVm, plan: LpiStressPlan, timeoutMs = 120_000): Promise<void> {
  await vm.start();
  const setup = await waitForItsSetup(vm, plan.vcpus, timeoutMs);
  if (setup !== 0) throw new Error(`lpi-stress: guest setup failed (${errnoName(setup)})`);
}

/**
 * One injection round on a booted VM: one injector thread per device signals
 * each of its events `iterations` times; then waits until nothing is left
 * pending. `handled` counts the LPIs the guests acknowledged during this round.
 */
export async function injectLpiStress(vm: GicVm, plan: LpiStressPlan, iterations: number, drainTimeoutMs = 60_000): Promise<LpiStressResult> {
  const guestTotal = () => Array.from({ length: plan.vcpus }, (_, v) => Atomics.load(vm.results(v), 0)).reduce((a, b) => a + b, 0);
  const before = guestTotal();
  const plans = plan.devices.map((d) => ({
    rounds: iterations,
    msis: d.events.map((e) => ({ address: defaultItsBase(d.its) + 0x1_0040, data: e.eventId, devid: d.deviceId })),
  }));
  const res = await runInjectors(vm.gic.injectorHandle(), plans);
  const elapsedMs = Math.max(...res.map((r) => r.elapsedMs));
  const injected = res.reduce((a, r) => a + r.delivered, 0);
  const failed = res.reduce((a, r) => a + r.blocked + r.errors, 0);
  const intids = plan.devices.flatMap((d) => d.events.map((e) => e.intid));
  await waitUntil(() => intids.every((i) => (vm.gic.vgic.lpiFlags(i) & F_PENDING) === 0), drainTimeoutMs);
  const handled = guestTotal() - before;
  return { injected, failed, handled, elapsedMs, lpisPerSecond: injected / (elapsedMs / 1000) };
}

/**
 * The whole lpi-stress run on a VM of its own: the guest ITS driver maps the
 * devices, one injector thread per device signals every event `iterations`
 * times, the VM is destroyed. Rejects with a TypeError/RangeError naming the
 * option for invalid options, or an Error if the guest setup fails.
 */
export async function runLpiStress(o: LpiStressOptions = {}): Promise<LpiStressResult> {
  const plan = lpiStressPlan(o);
  const iterations = o.iterations ?? 100_000;
  if (typeof iterations !== 'number' || !Number.isInteger(iterations) || iterations < 0 || iterations > 2 ** 31 - 1) {
    throw new RangeError(`options.iterations must be an integer in 0..2^31-1 (got ${String(iterations)})`);
  }
  const vm = await createVm(plan.vmOptions);
  try {
    await bootLpiStress(vm, plan);
    return await injectLpiStress(vm, plan, iterations);
  } finally {
    await vm.destroy();
  }
}
