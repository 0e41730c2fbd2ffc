/**
 * The run shared by the lock-protocol scenarios (b1 v7-2017, b2
 * v7-2017-blocking, c upstream): the traffic VM (traffic.ts) under a given
 * lock protocol, while the VMM keeps calling SAVE_TABLES / RESTORE_TABLES on
 * a random ITS and signalling MSIs (ctx.random() picks), each attempt landing
 * while vCPU 0's command loop is live. Twice per run (half-way and at the
 * end) the VM is paused, every ITS saved and SAVE_PENDING_TABLES called,
 * then resumed. Every wait honours ctx.signal: a blocked SAVE (b2's
 * deadlock) ends when the watchdog stops the run.
 */
import type { GicVm } from '../create-vm.js';
import {
  KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES,
} from '../uapi/kvm.js';
import { EBUSY, errnoName } from '../uapi/errno.js';
import { ABORTED, untilAborted } from './abortable.js';
import { pick } from './random.js';
import type { ScenarioContext, ScenarioObservation, ScenarioOptions, WatchReport } from './scenario.js';
import { bootTrafficVm, guestError, rounds, trafficMsi, waitRounds, type TrafficGic } from './traffic.js';

/** Attempts (SAVE/RESTORE/MSI) per second of run length under a controlled schedule. */
const ATTEMPTS_PER_SECOND = 40;

export interface SaveUnderTrafficResult {
  /** Why the run could not go on (boot failure, guest failure, traffic stuck), if it could not. */
  error?: string;
  /** The run's signal fired (the watchdog ended it). */
  stopped: boolean;
  /** SAVE/RESTORE calls made while the vCPUs ran, and how many returned -EBUSY. */
  attempts: number;
  ebusy: number;
  /** Anything else those calls returned (distinct, e.g. '0', '-ENXIO'). */
  unexpected: string[];
  /** SAVE_TABLES (per ITS) and SAVE_PENDING_TABLES while paused: made, and returned 0. */
  pausedSaves: number;
  pausedSavesOk: number;
  msis: number;
  msisDelivered: number;
  /** vCPU 0's command rounds during the run. */
  rounds: number;
  vm?: GicVm;
}

export async function saveUnderTraffic(ctx: ScenarioContext, o: ScenarioOptions, gic: TrafficGic): Promise<SaveUnderTrafficResult> {
  const res: SaveUnderTrafficResult = {
    stopped: false, attempts: 0, ebusy: 0, unexpected: [], pausedSaves: 0, pausedSavesOk: 0, msis: 0, msisDelivered: 0, rounds: 0,
  };
  const { signal } = ctx;
  const booted = await bootTrafficVm(ctx, o, gic);
  if (typeof booted === 'string') {
    res.stopped = signal.aborted;
    if (!signal.aborted) res.error = booted;
    return res;
  }
  const vm = booted;
  res.vm = vm;
  const r0 = rounds(vm);
  // Free schedules run for o.seconds of wall time; a controlled one counts attempts instead (wall time
  // would make the interleaving depend on the machine): ATTEMPTS_PER_SECOND per second of the run.
  const controlled = o.schedule.strategy !== 'free';
  const clock = (): number => (controlled ? res.attempts + res.msis : performance.now());
  const t0 = clock(), total = controlled ? Math.max(4, Math.round(o.seconds * ATTEMPTS_PER_SECOND)) : o.seconds * 1000;
  const windows = [t0 + total / 2, t0 + total];
  const its = vm.gic.its;
  const note = (r: number) => {
    const name = r === 0 ? '0' : errnoName(r);
    if (!res.unexpected.includes(name)) res.unexpected.push(name);
  };
  const call = async <T>(p: Promise<T>): Promise<T | undefined> => {
    const r = await untilAborted(p, signal);
    if (r === ABORTED) {
      res.stopped = true;
      return undefined;
    }
    return r;
  };

  while (!signal.aborted && windows.length > 0) {
    const now = clock();
    ctx.progress((now - t0) / total, 'SAVE/RESTORE attempts under CWRITER traffic');
    if (now >= windows[0]!) {
      windows.shift();
      // The VM paused: every vcpu.mutex is free, the same calls must succeed.
      const p = await call(vm.pause());
      if (p === undefined) break;
      if (p !== 0) {
        res.error = `pause: ${errnoName(p)}`;
        break;
      }
      for (const dev of its) {
        const s = await call(dev.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES));
        if (s === undefined) break;
        res.pausedSaves++;
        if (s === 0) res.pausedSavesOk++;
      }
      if (res.stopped) break;
      const sp = await call(vm.gic.v3.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES));
      if (sp === undefined) break;
      res.pausedSaves++;
      if (sp === 0) res.pausedSavesOk++;
      if (windows.length === 0) break; // the end: the runner destroys the paused VM
      const q = await call(vm.resume());
      if (q === undefined) break;
      const w = await waitRounds(vm, rounds(vm) + 1, signal);
      if (w === 'aborted') res.stopped = true;
      if (w !== 'ok') break;
      continue;
    }
    // Land each attempt while the command loop is live: after a fresh round, before the next.
    const w = await waitRounds(vm, rounds(vm) + 1, signal);
    if (w === 'aborted') {
      res.stopped = true;
      break;
    }
    if (w === 'timeout' || guestError(vm) !== 0) {
      res.error = `guest command traffic stopped (${guestError(vm) !== 0 ? errnoName(guestError(vm)) : 'no round for 30 s'})`;
      break;
    }
    const n = pick(ctx.random, its.length);
    const x = ctx.random();
    if (x < 0.75) {
      const attr = x < 0.6 ? KVM_DEV_ARM_ITS_SAVE_TABLES : KVM_DEV_ARM_ITS_RESTORE_TABLES;
      const r = await call(its[n]!.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, attr));
      if (r === undefined) break;
      res.attempts++;
      if (r === -EBUSY) res.ebusy++;
      else note(r);
    } else {
      const r = await call(vm.signalMsi(trafficMsi(n, pick(ctx.random, vm.nrVcpus))));
      if (r === undefined) break;
      res.msis++;
      if (r === 1) res.msisDelivered++;
    }
  }
  res.stopped ||= signal.aborted;
  res.rounds = rounds(vm) - r0;
  return res;
}

/** The figures every lock-protocol scenario reports. */
export function saveFigures(r: SaveUnderTrafficResult): Record<string, number> {
  return {
    attempts: r.attempts, ebusy: r.ebusy, saves: r.pausedSavesOk, rounds: r.rounds, msis: r.msis, delivered: r.msisDelivered,
  };
}

/** "SAVE/RESTORE -EBUSY 12/12 while running; 4/4 saves 0 when paused; 210 command rounds". */
export function describeSaves(r: SaveUnderTrafficResult): string {
  const parts = [
    `SAVE/RESTORE -EBUSY ${r.ebusy}/${r.attempts} while running${r.unexpected.length ? ` (also ${r.unexpected.join(', ')})` : ''}`,
    `${r.pausedSavesOk}/${r.pausedSaves} saves 0 when paused`,
    `${r.rounds} command rounds`,
  ];
  if (r.msis > 0) parts.push(`${r.msisDelivered}/${r.msis} MSIs delivered`);
  if (r.error !== undefined) parts.push(`error: ${r.error}`);
  return parts.join('; ');
}

/** What a clean lock protocol gives under this run (c's verdict, and b1's with a tried protocol): nothing found, -EBUSY while running, saves 0 when paused. */
export function judgeClean(r: SaveUnderTrafficResult, w: WatchReport): ScenarioObservation {
  const ok = w.findings.length === 0 && w.deadlocks.length === 0 && r.error === undefined && !r.stopped
    && r.attempts > 0 && r.ebusy === r.attempts && r.pausedSaves > 0 && r.pausedSavesOk === r.pausedSaves;
  return { ok, observed: `${describeSaves(r)}; ${w.findings.length} findings`, figures: saveFigures(r) };
}
