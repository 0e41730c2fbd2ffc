/**
 * The soak: a long run of everything at once, watched for loss, phantoms,
 * lock-order findings, faults and memory growth. 16 vCPUs and 4 ITSs by
 * default; the churn guest moves LPIs and churns mappings while one
 * injector thread per ITS storms the tracked LPIs, and the VMM keeps:
 *
 *  - trying SAVE_TABLES while the vCPUs run (must be -EBUSY, every time);
 *  - pausing and resuming under the storm;
 *  - saving and restoring in place (storm held, VM paused), with an exact
 *    conservation check at each;
 *  - migrating to a new VM (the ledger carries the deliveries over), the
 *    old VM destroyed.
 *
 * One row of figures per interval (a minute by default). Memory is sampled
 * after a full GC, so "flat" means no retained growth (old VMs, workers and
 * their SharedArrayBuffers freed), not the collector's timing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { GicVm } from '../create-vm.js';
import { saveVm } from '../migrate/steps.js';
import { seededRandom, pick } from '../stress/random.js';
import { sleep } from '../stress/abortable.js';
import { EBUSY, errnoName } from '../uapi/errno.js';
import { KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../uapi/kvm.js';
import { ConservationLedger, type ConservationReport } from './conservation.js';
import { bootChurnVm, churnPlan, churnRounds, restoreChurnVm, saveRestoreInPlace, type ChurnPlan } from './churn-vm.js';
import { startLedgerStorm, type LedgerStorm } from './storm.js';
import { D_ACKED } from '../vgic/vgic-state.js';

/** Options of runSoak; every field optional. */
export interface SoakOptions {
  /** Length of the run in seconds. Default 60. */
  seconds?: number;
  /** vCPUs. Default 16. */
  vcpus?: number;
  /** ITSs (one injector thread each). Default 4. */
  its?: number;
  /** Tracked LPIs per ITS. Default 32. */
  events?: number;
  /** Seconds per row of figures. Default 60. */
  intervalSeconds?: number;
  /** Seconds between in-place save/restores. Default 10. */
  saveEverySeconds?: number;
  /** Seconds between migrations. Default 30. */
  migrateEverySeconds?: number;
  /** Run the lock-order validator on every VM. Default true. */
  validator?: boolean;
  /** Seed of the guest's command churn and the VMM's choices. Default 1. */
  seed?: number;
  /** Called with each row as its interval ends. */
  onRow?: (row: SoakRow) => void;
  /** Progress for a progress bar: fraction 0..1 and a label. */
  onProgress?: (fraction: number, label: string) => void;
  /** Ends the run early (the figures so far are returned). */
  signal?: AbortSignal;
}

/** The figures of one interval (counts are for the interval, memory at its end). */
export interface SoakRow {
  /** 1, 2, ... */
  interval: number;
  /** Seconds since the start, at the end of the interval. */
  atSeconds: number;
  /** MSIs accepted (signalMsi returned 1). */
  msis: number;
  /** LPIs delivered (acknowledged by a vCPU), tracked and churn ones. */
  lpis: number;
  /** Guest command rounds (each one command, or a collection move of several). */
  commandRounds: number;
  /** SAVE_TABLES that went through (paused), per ITS. */
  saves: number;
  /** SAVE_TABLES attempts while running, and how many were -EBUSY. */
  saveAttempts: number;
  /** Of saveAttempts, those that returned -EBUSY (all of them, if the vCPUs hold their vcpu.mutex as they must). */
  ebusy: number;
  /** Pause/resume cycles under the storm. */
  pauses: number;
  /** Migrations to a new VM. */
  migrations: number;
  /** Lost and phantom LPIs found by the conservation checks of this interval. */
  lost: number;
  /** Deliveries with no accepted MSI behind them. */
  phantom: number;
  /** New lock-order validator findings. */
  findings: number;
  /** New VM faults (worker deaths, guest errors). */
  faults: number;
  /** Resident set size after a full GC. */
  rssMiB: number;
  /** V8 heap in use after a full GC. */
  heapMiB: number;
}

/** What a soak run measured. */
export interface SoakResult {
  /** The options the run used, defaults filled in. */
  options: Required<Omit<SoakOptions, 'onRow' | 'onProgress' | 'signal'>>;
  /** One per interval, the last one partial. */
  rows: SoakRow[];
  /** The rows added up. */
  totals: Omit<SoakRow, 'interval' | 'atSeconds' | 'rssMiB' | 'heapMiB'>;
  /** The last exact conservation check (storm stopped). */
  conservation: ConservationReport;
  /** RSS of the first and last rows, and whether it stayed flat (growth under max(64 MiB, 25%)). */
  memory: {
    /** RSS of the first row. */
    firstMiB: number;
    /** RSS of the last row. */
    lastMiB: number;
    /** lastMiB - firstMiB. */
    growthMiB: number;
    /** Judged (2 minutes and 3 rows at least): the last row's RSS within max(64 MiB, 25%) of the second row's. */
    flat: boolean;
    /** The run was long enough to judge memory. */
    judged: boolean;
    /** A full GC ran before each sample. */
    gc: boolean;
  };
  /** Something that stopped the run or went wrong besides the counted figures (a failed step, a guest error). */
  errors: string[];
  /** Nothing lost, phantom, found or faulted; every SAVE while running -EBUSY; memory flat; no error. */
  ok: boolean;
}

const ATTEMPT_EVERY_MS = 200;
const MiB = 2 ** 20;

/** Run the soak. Resolves when the time is up (or the signal aborts); never leaves a VM or thread behind. */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const o = {
    seconds: options.seconds ?? 60, vcpus: options.vcpus ?? 16, its: options.its ?? 4, events: options.events ?? 32,
    intervalSeconds: options.intervalSeconds ?? 60, saveEverySeconds: options.saveEverySeconds ?? 10,
    migrateEverySeconds: options.migrateEverySeconds ?? 30, validator: options.validator ?? true, seed: options.seed ?? 1,
  };
  validate(o);
  const random = seededRandom(o.seed);
  const signal = options.signal ?? new AbortController().signal;
  const plan: ChurnPlan = churnPlan({ vcpus: o.vcpus, its: o.its, events: o.events, churnEvents: 8, seed: o.seed, validator: o.validator });
  const ledger = ConservationLedger.create(plan.tracked);
  const gc = exposeGc();
  const rows: SoakRow[] = [];
  const errors: string[] = [];
  let vm: GicVm | undefined;
  let storm: LedgerStorm | undefined;
  // Figures of VMs already migrated away from, so interval deltas span migrations.
  const past = { msis: 0, lpis: 0, rounds: 0, findings: 0, faults: 0 };
  let cur = { saves: 0, saveAttempts: 0, ebusy: 0, pauses: 0, migrations: 0, lost: 0, phantom: 0 };
  let last = { msis: 0, lpis: 0, rounds: 0, findings: 0, faults: 0 };
  let phantomSeen = 0;
  let sentinelMsis = 0;
  /** Signal each sentinel that is not pending (so the MSI must give exactly one delivery). */
  const signalSentinels = async (on: GicVm) => {
    for (const s of plan.sentinels) {
      if (on.gic.vgic.deliveryState(s.intid).pending) continue;
      const before = ledger.totalDelivered(s.intid, on.gic.vgic);
      const r = await on.signalMsi(s.msi);
      if (r !== 1) throw new Error(`a sentinel MSI returned ${errnoName(r)}`);
      ledger.accepted(s.intid, before);
      sentinelMsis++;
    }
  };
  const live = () => ({
    msis: past.msis + (storm?.figures().accepted ?? 0) + sentinelMsis,
    lpis: past.lpis + (vm ? Atomics.load(vm.gic.st.i32, D_ACKED) : 0),
    rounds: past.rounds + (vm ? churnRounds(vm).rounds : 0),
    findings: past.findings + (vm?.lockFindings().length ?? 0),
    faults: past.faults + (vm?.faults.length ?? 0),
  });
  /** An exact check: the storm is held or stopped and the VM paused (or not started). */
  const check = (on: GicVm = vm!): ConservationReport => {
    const r = ledger.check(on.gic.vgic);
    cur.lost += r.lostSinceLastCheck;
    cur.phantom += Math.max(0, r.phantom - phantomSeen);
    phantomSeen = Math.max(phantomSeen, r.phantom);
    return r;
  };
  const step = async (what: string, ret: Promise<number> | number) => {
    const r = await ret;
    if (r !== 0) throw new Error(`${what}: ${errnoName(r)}`);
  };

  // The clock starts once the VM is up: booting 16 vCPUs on a loaded machine is not soak time.
  let t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  let nextRow = o.intervalSeconds, nextSave = o.saveEverySeconds, nextMigrate = o.migrateEverySeconds;
  const row = () => {
    gc?.();
    const now = live();
    const mem = process.memoryUsage();
    const r: SoakRow = {
      interval: rows.length + 1, atSeconds: Math.round(elapsed()),
      msis: now.msis - last.msis, lpis: now.lpis - last.lpis, commandRounds: now.rounds - last.rounds,
      ...cur, findings: now.findings - last.findings, faults: now.faults - last.faults,
      rssMiB: Math.round(mem.rss / MiB), heapMiB: Math.round(mem.heapUsed / MiB),
    };
    last = now;
    cur = { saves: 0, saveAttempts: 0, ebusy: 0, pauses: 0, migrations: 0, lost: 0, phantom: 0 };
    rows.push(r);
    options.onRow?.(r);
  };

  let conservation: ConservationReport | undefined;
  try {
    options.onProgress?.(0, 'soak: booting');
    vm = await bootChurnVm(plan);
    storm = startLedgerStorm(vm.gic.injectorHandle(), ledger.buffer, plan.msisPerIts);
    t0 = performance.now();
    while (elapsed() < o.seconds && !signal.aborted) {
      const guestError = churnRounds(vm).error;
      if (guestError !== 0) throw new Error(`the churn guest failed: ${errnoName(guestError)}`);
      if (elapsed() >= nextMigrate) {
        nextMigrate += o.migrateEverySeconds;
        options.onProgress?.(elapsed() / o.seconds, 'soak: migrating');
        if (!(await storm.hold())) throw new Error('the storm did not hold for the migration');
        const snap = await saveVm(vm);
        cur.saves += o.its;
        check();
        await storm.stop();
        const dst = await restoreChurnVm(plan, snap);
        // The destination exists: the source's deliveries become the ledger's base (not before, or a failed
        // restore would count them twice), its figures the past. The destination's counters start at zero,
        // but its guest's round counter comes with the results area, so it is not counted twice.
        ledger.carryOver(vm.gic.vgic);
        Object.assign(past, live());
        past.rounds -= churnRounds(dst).rounds;
        past.msis -= sentinelMsis; // live() adds the sentinels' own count
        storm = undefined;
        const src = vm;
        vm = dst;
        await src.destroy();
        // Before it runs, the destination holds everything the source had pending: checked here, or a
        // lost LPI would be hidden by the next MSI to it.
        check(vm);
        await step('destination start', vm.start());
        storm = startLedgerStorm(vm.gic.injectorHandle(), ledger.buffer, plan.msisPerIts);
        cur.migrations++;
      } else if (elapsed() >= nextSave) {
        nextSave += o.saveEverySeconds;
        options.onProgress?.(elapsed() / o.seconds, 'soak: save/restore in place');
        if (!(await storm.hold())) throw new Error('the storm did not hold for the save');
        await step('pause', vm.pause());
        check();
        await saveRestoreInPlace(vm);
        cur.saves += o.its;
        check();
        await step('resume', vm.resume());
        storm.release();
      } else if (random() < 0.3) {
        await signalSentinels(vm);
      } else if (random() < 0.1) {
        // Pause and resume with the storm going on: MSIs latch while the vCPUs are out.
        await step('pause', vm.pause());
        cur.pauses++;
        await step('resume', vm.resume());
      } else {
        const its = vm.gic.its[pick(random, vm.gic.its.length)]!;
        const r = await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES);
        cur.saveAttempts++;
        if (r === -EBUSY) cur.ebusy++;
        else errors.push(`SAVE_TABLES while running returned ${errnoName(r)}`);
      }
      if (elapsed() >= nextRow) {
        nextRow += o.intervalSeconds;
        row();
      }
      options.onProgress?.(Math.min(1, elapsed() / o.seconds), `soak: ${Math.floor(elapsed())}/${o.seconds} s, ${live().msis} MSIs`);
      await sleep(ATTEMPT_EVERY_MS * (0.5 + random()), signal);
    }
    // The end: storm stopped, an exact check, then the last (partial) row.
    await storm.stop();
    await step('pause', vm.pause());
    conservation = check();
    // The last, partial row: whatever happened since the last full one, so the rows add up to the totals.
    const now = live();
    if (rows.length === 0 || Object.values(cur).some((v) => v !== 0) || (Object.keys(now) as (keyof typeof now)[]).some((k) => now[k] !== last[k])) row();
  } catch (e) {
    errors.push((e as Error).message);
  } finally {
    await storm?.stop().catch((e: Error) => errors.push(`storm: ${e.message}`));
    if (vm !== undefined) {
      conservation ??= ledger.check(vm.gic.vgic);
      await vm.destroy();
    }
  }
  conservation ??= { lpis: ledger.size, accepted: 0, delivered: 0, pending: 0, coalesced: 0, lost: 0, phantom: 0, lostLpis: [], phantomLpis: [] };
  const sum = (k: keyof SoakResult['totals']) => rows.reduce((a, r) => a + r[k], 0);
  const totals = {
    msis: sum('msis'), lpis: sum('lpis'), commandRounds: sum('commandRounds'), saves: sum('saves'), saveAttempts: sum('saveAttempts'),
    ebusy: sum('ebusy'), pauses: sum('pauses'), migrations: sum('migrations'), lost: sum('lost'), phantom: sum('phantom'),
    findings: sum('findings'), faults: sum('faults'),
  };
  const firstMiB = rows[0]?.rssMiB ?? 0, lastMiB = rows[rows.length - 1]?.rssMiB ?? 0;
  const growthMiB = lastMiB - firstMiB;
  // A few seconds of RSS say nothing about retention (one migration moves it tens of MiB): judged from 2 minutes
  // and 3 rows on, against the second row, past the warm-up.
  const judged = rows.length >= 3 && o.seconds >= 120;
  const base = judged ? rows[1]!.rssMiB : firstMiB;
  const memory = { firstMiB, lastMiB, growthMiB, flat: !judged || lastMiB - base < Math.max(64, base / 4), judged, gc: gc !== undefined };
  const ok = errors.length === 0 && totals.lost === 0 && totals.phantom === 0 && conservation.lost === 0 && conservation.phantom === 0
    && totals.findings === 0 && totals.faults === 0 && totals.ebusy === totals.saveAttempts && memory.flat;
  return { options: o, rows, totals, conservation, memory, errors, ok };
}

function validate(o: Required<Omit<SoakOptions, 'onRow' | 'onProgress' | 'signal'>>): void {
  const int = (name: keyof typeof o, min: number, max: number) => {
    const v = o[name] as number;
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`options.${name} must be an integer in ${min}..${max} (got ${String(v)})`);
  };
  const pos = (name: keyof typeof o) => {
    const v = o[name] as number;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`options.${name} must be a positive number of seconds (got ${String(v)})`);
  };
  int('vcpus', 2, 64);
  int('its', 1, 4);
  int('events', 1, 64);
  int('seed', 0, 2 ** 32 - 1);
  pos('seconds'); pos('intervalSeconds'); pos('saveEverySeconds'); pos('migrateEverySeconds');
  if (typeof o.validator !== 'boolean') throw new TypeError('options.validator must be a boolean');
}

/** global.gc, also without --expose-gc (V8 exposes it to contexts created after the flag is set). */
function exposeGc(): (() => void) | undefined {
  const own = (globalThis as { gc?: () => void }).gc;
  if (own !== undefined) return own;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
