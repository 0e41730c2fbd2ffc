/**
 * Fault injection: a catalogue of named faults, each run on a VM under
 * realistic load (faults/fault-vm.ts: vCPUs writing ITS commands and
 * handling LPIs, MSIs from an injector thread, SAVE_TABLES attempts from
 * the VMM) and injected at a moment read from the VM's published state
 * (who holds which lock, who waits for what), never after a sleep. After
 * each, the same postconditions (faults/postconditions.ts): the VM reports
 * the fault, every other thread is released, no lock stays held, destroy()
 * resolves and no worker is left. `vgic-lab faults` runs each in a child
 * process, so that the process exiting by itself is checked too.
 */
import type { ActorTransportKind } from '../actors/transport.js';
import { actorKilledMidCommand, actorKilledMidSave } from './faults/actor-killed.js';
import type { FaultDef } from './faults/fault-def.js';
import { FaultVm } from './faults/fault-vm.js';
import { guestNeverReturns, guestThrows } from './faults/guest-faults.js';
import { mailboxFull } from './faults/mailbox-full.js';
import { checkCommon, Recorder, type FaultCheck } from './faults/postconditions.js';
import { vcpuKilledHoldingMutex } from './faults/vcpu-killed.js';

const CATALOGUE: readonly FaultDef[] = [
  vcpuKilledHoldingMutex, actorKilledMidCommand, actorKilledMidSave, guestNeverReturns, mailboxFull, guestThrows,
];

/** Every fault: its name and what it injects, when. */
/** The fault catalogue: each fault's name (for runFault and `vgic-lab faults`) and what it injects. */
export const FAULTS: readonly {
  /** The fault's name. */
  name: string;
  /** What it injects, when, and what must follow. */
  description: string;
}[] = CATALOGUE.map(({ name, description }) => ({ name, description }));

export type { FaultCheck };

/** Options of runFault. */
export interface FaultOptions {
  /** vCPUs of the VM, 2..8 (vCPU 0 writes ITS commands, the others handle LPIs). Default 3. */
  vcpus?: number;
  /** Guard of every wait for an event, in ms: reached only by a hang. Default 30000. */
  guardMs?: number;
  /** The VM's actor transport (createVm's actorTransport). Default 'shared-memory'. */
  actorTransport?: ActorTransportKind;
  /** The VM's actor placement (createVm's actorPlacement): with 'shared', an actor's death is every actor's. Default 'worker-per-actor'. */
  actorPlacement?: 'worker-per-actor' | 'shared';
}

/** What a fault run observed: each postcondition, and the figures behind them. */
export interface FaultResult {
  /** The fault's name. */
  fault: string;
  /** Every check passed. */
  ok: boolean;
  /** How the VM reported the fault (its VmFault, or pause's answer). */
  reportedAs: string;
  /** Every other thread went on (vCPUs progressed or paused; no one left waiting on the dead). */
  othersReleased: boolean;
  /** Lock words naming an owner after destroy (arena locks and vGIC spin words). */
  locksHeldAfter: string[];
  /** destroy() resolved. */
  destroyed: boolean;
  /** How long destroy() took. */
  destroyMs: number;
  /** Workers of the VM and of the load still running after destroy. */
  workersLeft: number;
  /** The whole run, VM creation to destroy. */
  durationMs: number;
  /** Every postcondition checked, in order. */
  checks: FaultCheck[];
  /** What else the run saw (timings, the injection moment). */
  notes: string[];
}

export function findFault(name: string): FaultDef | undefined {
  return CATALOGUE.find((f) => f.name === name);
}

/** Run fault `name` on a fresh VM and check every postcondition. Never throws for a failed check: see `ok` and `checks`. */
export async function runFault(name: string, opts: FaultOptions = {}): Promise<FaultResult> {
  const def = findFault(name);
  if (def === undefined) throw new RangeError(`unknown fault '${name}' (the faults: ${CATALOGUE.map((f) => f.name).join(', ')})`);
  const vcpus = opts.vcpus ?? 3;
  if (!Number.isInteger(vcpus) || vcpus < 2 || vcpus > 8) throw new RangeError(`opts.vcpus must be an integer in 2..8 (got ${vcpus})`);
  const guardMs = opts.guardMs ?? 30_000;
  if (typeof guardMs !== 'number' || !(guardMs > 0)) throw new RangeError('opts.guardMs must be a positive number');
  const victim = def.vm.victim === 'last' ? vcpus - 1 : def.vm.victim ?? vcpus - 1;
  const t0 = performance.now();
  const rec = new Recorder();
  const result = (extra: Partial<FaultResult>): FaultResult => ({
    fault: name, ok: false, reportedAs: rec.reportedAs, othersReleased: false, locksHeldAfter: [], destroyed: false, destroyMs: 0,
    workersLeft: 0, checks: rec.checks, notes: rec.notes, ...extra, durationMs: performance.now() - t0,
  });
  let f: FaultVm;
  try {
    f = await FaultVm.boot({ vcpus, victim, mode: def.vm.mode ?? 'none', message: def.vm.message ?? 'guest fault', guardMs,
      ...(def.vm.mailboxCapacity !== undefined ? { mailboxCapacity: def.vm.mailboxCapacity } : {}),
      ...(def.vm.pauseTimeoutMs !== undefined ? { pauseTimeoutMs: def.vm.pauseTimeoutMs } : {}),
      ...(opts.actorTransport !== undefined ? { actorTransport: opts.actorTransport } : {}),
      ...(opts.actorPlacement !== undefined ? { actorPlacement: opts.actorPlacement } : {}) });
  } catch (e) {
    rec.check('boot under load', false, String((e as Error)?.message ?? e));
    return result({});
  }
  try {
    const after = await def.inject(f, rec);
    const common = await checkCommon(f, rec, after);
    return result({ ...common, ok: rec.checks.every((c) => c.ok) });
  } catch (e) {
    rec.check('ran to the end', false, String((e as Error)?.stack ?? e));
    return result({});
  } finally {
    // Whatever went wrong above, leave nothing running (both are no-ops once done).
    await f.vm.destroy(1000);
    await f.msis.stop(1000);
    await f.saves.stop(1000);
  }
}
