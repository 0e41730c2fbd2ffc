/**
 * What must hold after every fault, checked the same way for each: every
 * other thread is released (nothing waits on the dead, the other vCPUs,
 * the MSI thread and the VMM's SAVE_TABLES all get answers, pause does what
 * it should), no lock is left held by a dead thread, destroy() resolves
 * with the load still running, the load's thread exits when asked, and
 * afterwards no lock word (arena or vGIC spin word) names an owner and no
 * worker is left.
 */
import type { VmFault } from '../../kvm/vm.js';
import { REQ_PAUSE } from '../../kvm/vcpu-block.js';
import { waitUntil } from '../../sync/wait.js';
import { ETIMEDOUT, errnoName } from '../../uapi/errno.js';
import type { FaultVm } from './fault-vm.js';
import { L_SENT } from './msi-load.js';
import { heldLocks, heldSpinlocks, stuckWaits } from './scan.js';

/** One postcondition of a fault run. */
export interface FaultCheck {
  /** What was checked ('reported', 'others released', 'no lock held', ...). */
  name: string;
  /** It held. */
  ok: boolean;
  /** What was seen. */
  detail: string;
}

/** Collects a fault run's checks and notes. */
export class Recorder {
  readonly checks: FaultCheck[] = [];
  readonly notes: string[] = [];
  reportedAs = 'nothing';

  check(name: string, ok: boolean, detail: string): boolean {
    this.checks.push({ name, ok, detail });
    return ok;
  }

  note(s: string): void {
    this.notes.push(s);
  }
}

/** What a fault left behind, for the common checks. */
export interface AfterFault {
  /** vCPUs the fault ended (they are Exited): no progress expected, pause skips them. */
  gone: number[];
  /** vCPUs that run but never call the guest API: no progress expected, and pause must time out on them. */
  unpausable: number[];
}

export interface CommonOutcome {
  othersReleased: boolean;
  /** Lock words (arena and vGIC spin words) naming an owner after destroy: 'class#instance (owner)'. */
  locksHeldAfter: string[];
  destroyed: boolean;
  destroyMs: number;
  /** Workers (the VM's and the load's) still running after destroy and the load's stop. */
  workersLeft: number;
}

/** The first fault `pred` accepts, already reported or to come; undefined after timeoutMs. */
export function faultMatching(f: FaultVm, pred: (x: VmFault) => boolean, timeoutMs: number): Promise<VmFault | undefined> {
  const seen = f.vm.faults.find(pred);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(undefined);
    }, timeoutMs);
    const off = f.vm.onFault((x) => {
      if (!pred(x)) return;
      clearTimeout(timer);
      off();
      resolve(x);
    });
  });
}

/** `p`, or undefined once timeoutMs passed. */
export async function within<T>(p: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Everything that must hold once the VM has recovered from a fault, then destroy and what must hold after. */
export async function checkCommon(f: FaultVm, rec: Recorder, after: AfterFault): Promise<CommonOutcome> {
  const { vm } = f;
  const guard = f.o.guardMs;
  const arena = vm.rt.arena;
  let released = true;

  // Nobody parked for good on a dead thread's lock or a dead actor's reply (requesters notice within a slice).
  const quiet = await waitUntil(() => stuckWaits(arena, vm.rt.dir).length === 0, guard);
  released = rec.check('no thread waits on a dead one', quiet,
    quiet ? 'no live thread publishes a wait on a dead thread or actor' : stuckWaits(arena, vm.rt.dir).map((s) => `${s.name} waits for ${s.waitsFor}`).join('; ')) && released;

  const deadHeld = heldLocks(arena).filter((l) => !l.ownerAlive);
  rec.check('no lock held by a dead thread', deadHeld.length === 0,
    deadHeld.length === 0 ? 'every lock of a dead thread was recovered' : deadHeld.map((l) => `${l.lock} (${l.ownerName})`).join(', '));

  // The other vCPUs go on: each shows activity, or its guest returned (e.g. gave up on a dead ITS), which is not being stuck.
  const live = ids(vm.nrVcpus).filter((v) => !after.gone.includes(v) && !after.unpausable.includes(v));
  const before = live.map((v) => f.activity(v));
  const returned = (v: number) => vm.vcpuState(v) === 'exited' && vm.vcpuExit(v)?.reason === 'done';
  const moved = await waitUntil(() => live.every((v, i) => f.activity(v) > before[i]! || returned(v)), guard);
  const exitedBySelf = live.filter((v) => vm.vcpuState(v) === 'exited');
  released = rec.check('other vCPUs make progress', moved,
    `vCPU ${live.join(', ')}: activity ${live.map((v, i) => `${before[i]} -> ${f.activity(v)}`).join(', ')}` +
    (exitedBySelf.length ? `; exited by themselves: ${exitedBySelf.map((v) => `vCPU ${v} (${vm.vcpuExit(v)?.reason ?? '?'})`).join(', ')}` : '')) && released;

  const msiOk = await f.msis.advance(vm.nrVcpus, guard);
  released = rec.check('the MSI thread is answered', msiOk, `MSIs signalled ${f.msis.count(L_SENT)}${f.msis.error ? `; it threw ${f.msis.error}` : ''}`) && released;

  const saves0 = f.saves.answered;
  const savesOk = await waitUntil(() => f.saves.answered > saves0, guard);
  released = rec.check('SAVE_TABLES attempts are answered', savesOk, f.saves.summary()) && released;

  released = (await checkPause(f, rec, after)) && released;

  // Destroy with the load still running: the MSI thread and a SAVE_TABLES attempt may be in flight.
  const t0 = performance.now();
  const destroyed = (await within(vm.destroy(2000).then(() => true), guard)) === true;
  const destroyMs = performance.now() - t0;
  rec.check('destroy resolves', destroyed, `${destroyed ? 'in' : 'not within'} ${destroyMs.toFixed(0)} ms`);
  const msiStopped = await f.msis.stop(guard);
  rec.check('the MSI thread exits by itself', msiStopped, msiStopped ? `after ${f.msis.count(L_SENT)} MSIs` : 'terminated after the guard');
  const saveStopped = await f.saves.stop(guard);
  rec.check('no SAVE_TABLES attempt is left waiting', saveStopped, f.saves.summary());

  const locksHeldAfter = [
    ...heldLocks(arena).map((l) => `${l.lock} (${l.ownerName})`),
    ...heldSpinlocks(vm.gic.st).map((s) => `${s.lock} (${arena.threadName(s.owner)})`),
  ];
  rec.check('no lock word held after destroy', locksHeldAfter.length === 0,
    locksHeldAfter.length === 0 ? `${arena.lockCount()} lock words and every vGIC spin word free` : locksHeldAfter.join(', '));
  const left = f.workers().filter((w) => w.threadId !== -1);
  rec.check('no worker left', left.length === 0, `${f.workers().length} workers, ${left.length} still running`);
  return { othersReleased: released, locksHeldAfter, destroyed, destroyMs, workersLeft: left.length };
}

/**
 * pause() once the fault happened: 0 with every remaining vCPU Paused (and
 * no vcpu.mutex held by a vCPU), then resume; or, with a vCPU that never
 * calls back, -ETIMEDOUT naming it, the request withdrawn and the others
 * running again.
 */
async function checkPause(f: FaultVm, rec: Recorder, after: AfterFault): Promise<boolean> {
  const { vm } = f;
  const guard = f.o.guardMs;
  const r = await within(vm.pause(), guard + vm.options.pauseTimeoutMs);
  const states = () => ids(vm.nrVcpus).map((v) => `vCPU ${v} ${vm.vcpuState(v)}${vm.vcpuState(v) === 'exited' ? ` (${vm.vcpuExit(v)?.reason ?? '?'})` : ''}`).join(', ');
  if (after.unpausable.length === 0) {
    // A vCPU whose guest gave up by itself (returned) is Exited, not stuck: only the others must be Paused.
    const ok = r === 0 && ids(vm.nrVcpus).every((v) => vm.vcpuState(v) === (after.gone.includes(v) ? 'exited' : 'paused') ||
      (vm.vcpuState(v) === 'exited' && vm.vcpuExit(v)?.reason === 'done'));
    const vcpuHeld = vm.shared.locks.vcpu.filter((l) => f.vcpuTids.includes(vm.rt.arena.ownerOf(l)));
    rec.check('pause stops the other vCPUs', ok && vcpuHeld.length === 0,
      `pause ${r === undefined ? 'hung' : errnoName(r)}; ${states()}${vcpuHeld.length ? `; a vCPU still holds vcpu.mutex ${vcpuHeld.join(', ')}` : ''}`);
    const resumed = r === 0 ? await vm.resume() : 0;
    return ok && resumed === 0;
  }
  const named = after.unpausable.every((v) => vm.faults.some((x) => x.source === 'VMM' && new RegExp(`pause: vCPU [0-9, ]*\\b${v}\\b`).test(x.message)));
  const withdrawn = ids(vm.nrVcpus).every((v) => (vm.rt.vcpus.requests(v) & REQ_PAUSE) === 0);
  const others = ids(vm.nrVcpus).filter((v) => !after.gone.includes(v) && !after.unpausable.includes(v));
  const running = await waitUntil(() => others.every((v) => vm.vcpuState(v) === 'running'), guard);
  const ok = r === -ETIMEDOUT && named && withdrawn && running && vm.vmState === 'running';
  rec.check('pause times out naming the vCPU, the others run on', ok,
    `pause ${r === undefined ? 'hung' : errnoName(r)}; named in a fault: ${named}; request withdrawn: ${withdrawn}; ${states()}`);
  return ok;
}
