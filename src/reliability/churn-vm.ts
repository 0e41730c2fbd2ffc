/**
 * The VM the soak and the conservation tests share: every ITS with a
 * tracked device (its LPIs stormed by injector threads and accounted by the
 * conservation ledger) and a churn device, set up by the churn guest
 * (guests/churn.ts), plus the VMM-side steps the runs are made of: boot,
 * an in-place save/restore round trip, and a migration to a new VM.
 */
import { createVm, type CreateVmOptions, type GicVm } from '../create-vm.js';
import { SETUP_MAILBOX_GPA } from '../guest/alloc.js';
import type { ItsSetupDevice } from '../guest/its-setup-args.js';
import { waitForItsSetup } from '../guest/setup-wait.js';
import { restoreInto, restoreItsCtlr, restoreItsRegisters, restoreItsTables, saveVm, vmOptionsForSnapshot } from '../migrate/steps.js';
import type { VmSnapshot } from '../migrate/snapshot.js';
import { errnoName } from '../uapi/errno.js';
import { KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../uapi/kvm.js';
import { defaultItsBase } from '../vgic/layout.js';
import { R_ERROR_FROM_END, R_ROUNDS_FROM_END, churnResultWords, type ChurnArgs } from './guests/churn.js';
import type { LedgerMsi } from './storm.js';

export const CHURN_GUEST = new URL('./guests/churn.js', import.meta.url);
const RAM_BYTES = 16 * 2 ** 20;
const TRACKED_DEVICE = 16, CHURN_DEVICE = 64;

export interface ChurnVmOptions {
  vcpus: number;
  its: number;
  /** Tracked events per ITS (one device each). */
  events: number;
  /** Churn events per ITS (one device each). */
  churnEvents: number;
  seed: number;
  /** Run the lock-order validator. */
  validator: boolean;
}

export interface ChurnPlan {
  vm: CreateVmOptions;
  args: ChurnArgs;
  /** Every tracked LPI (the ledger's). */
  tracked: number[];
  /** The MSIs of each ITS's tracked device the storm sends, with their LPIs. */
  msisPerIts: LedgerMsi[][];
  /**
   * One more tracked event per ITS that the storm leaves alone: the VMM
   * signals it only while it is not pending, so each accepted MSI must give
   * exactly one delivery, and a stray delivery shows as a phantom (on a
   * stormed LPI it would hide among the coalesced MSIs).
   */
  sentinels: LedgerMsi[];
}

/** Tracked device 16 + n and churn device 64 + n on ITS n; LPIs spread over the vCPUs. */
export function churnPlan(o: ChurnVmOptions): ChurnPlan {
  const devices: ItsSetupDevice[] = [];
  const tracked: ChurnArgs['tracked'] = [];
  const churn: ChurnArgs['churn'] = [];
  const msisPerIts: LedgerMsi[][] = [];
  const sentinels: LedgerMsi[] = [];
  const perIts = o.events + 1;
  const churnBase = 8192 + o.its * perIts;
  for (let n = 0; n < o.its; n++) {
    // Events 0..events-1 are stormed; event `events` is the sentinel.
    const events = Array.from({ length: perIts }, (_, e) => ({ eventId: e, intid: 8192 + n * perIts + e, icid: (n * perIts + e) % o.vcpus }));
    devices.push({ its: n, deviceId: TRACKED_DEVICE + n, events });
    events.forEach((e) => tracked.push({ its: n, deviceId: TRACKED_DEVICE + n, eventId: e.eventId }));
    const msis = events.map((e) => ({ msi: { address: defaultItsBase(n) + 0x1_0040, data: e.eventId, devid: TRACKED_DEVICE + n }, intid: e.intid }));
    sentinels.push(msis.pop()!);
    msisPerIts.push(msis);
    const intidBase = churnBase + n * o.churnEvents;
    devices.push({
      its: n, deviceId: CHURN_DEVICE + n,
      events: Array.from({ length: o.churnEvents }, (_, e) => ({ eventId: e, intid: intidBase + e, icid: e % o.vcpus })),
    });
    churn.push({ its: n, deviceId: CHURN_DEVICE + n, events: o.churnEvents, intidBase });
  }
  const args: ChurnArgs = {
    setup: { its: [...Array(o.its).keys()], devices, region: { base: SETUP_MAILBOX_GPA + 0x1_0000, size: 8 * 2 ** 20 }, deviceIdBits: 8, queueBytes: 0x1_0000 },
    tracked, churn, seed: o.seed,
  };
  return {
    vm: {
      vcpus: o.vcpus, memory: RAM_BYTES, gic: { its: o.its }, guest: { module: CHURN_GUEST, args },
      resultWords: Math.max(256, churnResultWords(churnBase + o.its * o.churnEvents - 1, o.its, o.vcpus)),
      ...(o.validator ? { validator: true } : {}),
    },
    args,
    tracked: [...msisPerIts.flat(), ...sentinels].map((m) => m.intid),
    msisPerIts,
    sentinels,
  };
}

/** Command rounds vCPU 0 has completed, and its failure (-errno) or 0. */
export function churnRounds(vm: GicVm): { rounds: number; error: number } {
  const r = vm.results(0);
  return { rounds: Atomics.load(r, r.length - R_ROUNDS_FROM_END), error: Atomics.load(r, r.length - R_ERROR_FROM_END) };
}

/** Create and start the VM, and wait for the guest's ITS setup. Throws if it fails. */
export async function bootChurnVm(plan: ChurnPlan): Promise<GicVm> {
  const vm = await createVm(plan.vm);
  try {
    const started = await vm.start();
    if (started !== 0) throw new Error(`start: ${errnoName(started)}`);
    const setup = await waitForItsSetup(vm);
    if (setup !== 0) throw new Error(`guest ITS setup: ${errnoName(setup)}`);
    return vm;
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}

/**
 * QEMU's save, then a restore into the same VM (paused): SAVE_TABLES and
 * SAVE_PENDING_TABLES, CTRL_RESET of every ITS, its registers written back,
 * RESTORE_TABLES, GITS_CTLR. Returns the snapshot. Throws on a failed step.
 */
export async function saveRestoreInPlace(vm: GicVm): Promise<VmSnapshot> {
  const snap = await saveVm(vm);
  for (const its of vm.gic.its) {
    const r = await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET);
    if (r !== 0) throw new Error(`CTRL_RESET on ITS ${its.index}: ${errnoName(r)}`);
  }
  await restoreItsRegisters(vm, snap);
  (await restoreItsTables(vm)).forEach((r, i) => {
    if (r !== 0) throw new Error(`RESTORE_TABLES on ITS ${i}: ${errnoName(r)}`);
  });
  await restoreItsCtlr(vm, snap);
  return snap;
}

/** A new VM restored from `snap` (the churn guest resumes on it, validator as planned), not started. */
export async function restoreChurnVm(plan: ChurnPlan, snap: VmSnapshot): Promise<GicVm> {
  const vm = await createVm({ ...plan.vm, ...vmOptionsForSnapshot(snap, { module: CHURN_GUEST, args: { ...plan.args, resume: true } }) });
  try {
    await restoreInto(vm, snap);
    return vm;
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}
