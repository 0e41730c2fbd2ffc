/**
 * Helpers shared by the migration scenarios ('migrate-storm', 'blind-spot'):
 * a source VM whose own guest sets up its ITSs and handles LPIs, a
 * destination created through the scenario context (so the runner watches
 * it) and restored with the steps of src/migrate/steps.ts, and small waits
 * that honour the run's abort signal.
 */
import type { CreateVmOptions, GicVm } from '../../create-vm.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import type { ItsSetupDevice } from '../../guest/its-setup-args.js';
import { waitForItsSetup } from '../../guest/setup-wait.js';
import type { GuestSpec } from '../../kvm/options.js';
import type { VmSnapshot } from '../../migrate/snapshot.js';
import { restoreInto, vmOptionsForSnapshot } from '../../migrate/steps.js';
import { waitUntil } from '../../sync/wait.js';
import { errnoName } from '../../uapi/errno.js';
import type { GicOptions } from '../../vgic/gic.js';
import { defaultItsBase } from '../../vgic/layout.js';
import type { ScenarioContext } from '../scenario.js';

/** 8 MiB of guest RAM keeps snapshots and RAM copies small. */
export const SCENARIO_RAM_BYTES = 8 * 2 ** 20;
/** Where the source's boot vCPU allocates the GIC tables: after the setup mailbox page. */
const GIC_REGION = { base: SETUP_MAILBOX_GPA + 0x1_0000, size: 6 * 2 ** 20 };

/** The doorbell (GITS_TRANSLATER) of ITS `n` at its default base. */
export const doorbell = (its: number): number => defaultItsBase(its) + 0x1_0040;

/** The guest a migration destination runs: handle LPIs (EnableLPIs comes back with GICR_CTLR). */
export const DEST_GUEST: GuestSpec = { module: 'lpi-handler', args: { waitForSetup: false } };

/**
 * Create (through the context), start and wait for a source VM whose vCPU 0
 * brings the GIC and `its` ITSs up and maps `devices`; every vCPU then
 * handles LPIs. Throws if the guest setup fails.
 */
export async function startSource(ctx: ScenarioContext, o: { vcpus: number; its: number; devices: ItsSetupDevice[]; gic?: GicOptions }): Promise<GicVm> {
  const vm = await ctx.createVm({
    vcpus: o.vcpus,
    memory: SCENARIO_RAM_BYTES,
    gic: { its: o.its, ...o.gic },
    guest: {
      module: 'its-setup',
      args: { its: [...Array(o.its).keys()], devices: o.devices, region: GIC_REGION, deviceIdBits: 8, queueBytes: 0x1_0000, handle: true },
    },
  });
  const started = await vm.start();
  if (started !== 0) throw new Error(`source start: ${errnoName(started)}`);
  const setup = await waitForItsSetup(vm, o.vcpus);
  if (setup !== 0) throw new Error(`source guest ITS setup failed: ${errnoName(setup)} ${JSON.stringify(vm.vcpuExit(0)?.result ?? vm.faults)}`);
  return vm;
}

/** createVmForSnapshot's options (ITS bases not set) for DEST_GUEST, with GIC overrides (a registration policy ...). */
export function snapshotVmOptions(s: VmSnapshot, guest: GuestSpec = DEST_GUEST, gic: GicOptions = {}): CreateVmOptions {
  return vmOptionsForSnapshot(s, guest, gic);
}

/**
 * restoreVm() on a VM lent by the context: RAM, results, redistributors,
 * ITS bases, ITS registers, RESTORE_TABLES, GITS_CTLR, in QEMU's order. The
 * VM is not started. Throws MigrationError on a failed step.
 */
export async function restoreThroughContext(ctx: ScenarioContext, s: VmSnapshot, guest: GuestSpec = DEST_GUEST): Promise<GicVm> {
  const vm = await ctx.createVm(snapshotVmOptions(s, guest));
  await restoreInto(vm, s);
  return vm;
}

/** The snapshot restricted to ITS `n` (to restore the ITSs one after the other). */
export function onlyIts(s: VmSnapshot, n: number): VmSnapshot {
  return { ...s, header: { ...s.header, its: s.header.its.filter((r) => r.index === n) } };
}

/** waitUntil that also gives up when the signal aborts. */
export function waitUnlessAborted(ok: () => boolean, signal: AbortSignal, timeoutMs = 30_000): Promise<boolean> {
  return waitUntil(() => signal.aborted || ok(), timeoutMs).then((r) => r && ok());
}
