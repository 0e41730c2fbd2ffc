/**
 * runScenario(): run one scenario against real VMs and judge it. The runner
 * lends the scenario its VMs (validator on, the run's schedule passed
 * through), watches them (watchdog.ts: deadlock, stall, stop-at-first),
 * collects every VM's validator findings, destroys the VMs, and returns a
 * JSON-safe outcome with a replay token. Whatever happens (a deadlock, a
 * scenario that throws or ignores its signal) the run ends and every worker
 * is gone: the watchdog aborts ctx.signal, destroying the VMs ends any
 * request still waiting on them, and a hard time limit ends the rest.
 */
import { ScheduleEnded } from '../sync/schedule.js';
import { createVm, type CreateVmOptions, type GicVm } from '../create-vm.js';
import type { FindingKind } from '../sync/validator.js';
import { resolveLockProtocol, type LockProtocol } from '../vgic/lock-protocol.js';
import { seededRandom } from './random.js';
import type {
  EndedBy, Scenario, ScenarioContext, ScenarioObservation, ScenarioOptions, ScenarioOutcome, ScheduleOptions, ScheduleStrategy,
} from './scenario.js';
import { DEFAULT_PCT_DEPTH, DEFAULT_STEP_BUDGET, encodeToken } from './token.js';
import { Watchdog } from './watchdog.js';

export const RUN_DEFAULTS = {
  vcpus: 2,
  its: 1,
  seconds: 1,
  validator: true,
  stopAtFirst: false,
  stallMs: 5000,
  timeline: false,
} as const;

/** How long a scenario has to return once its signal fired, before the runner destroys its VMs under it. */
const ABORT_GRACE_MS = 2000;
/** vm.destroy() grace: deadlocked workers never exit on their own, they are terminated after this. */
const DESTROY_GRACE_MS = 500;

/** What a caller of runScenario may set; unset fields come from the scenario's defaults, then the defaults stated here. */
export interface RunOptions {
  /** vCPUs per VM, 1..64. Default 2 (or the scenario's). */
  vcpus?: number;
  /** ITSs per VM, 1..16. Default 1 (or the scenario's). */
  its?: number;
  /** Length of the timed part of soak-like scenarios, 0.001..86400 s. Default 1 (or the scenario's). */
  seconds?: number;
  /** Schedule: strategy 'free' (default), 'random' or 'pct'; seed (default 1); pctDepth (default 3); stepBudget (default 200000). */
  schedule?: Partial<ScheduleOptions>;
  /** Run the lock-order validator on every VM. Default true. */
  validator?: boolean;
  /** End the run at the first validator finding the scenario does not expect. Default false. */
  stopAtFirst?: boolean;
  /** A run with no progress for this long (>= 10 ms) is reported as a stall and ended. Default 5000. */
  stallMs?: number;
  /** Record a timeline of every VM. Default false. */
  timeline?: boolean;
  /**
   * Run the scenario under this lock protocol instead of its own: a built-in
   * name or a LockProtocol (validated; TypeError naming `lockProtocol`).
   * Scenarios that are fixed tests of one protocol refuse it (RangeError).
   */
  lockProtocol?: 'upstream' | 'v7-2017' | LockProtocol;
  /** Progress callback: fraction in 0..1 and a label. Default none. */
  onProgress?: (fraction: number, label: string) => void;
}

/** Callbacks into a run. */
export interface RunHooks {
  /** Called with every VM of the run once the scenario ended, before they are destroyed. */
  beforeDestroy?(vms: GicVm[]): void | Promise<void>;
}

/** Resolve and validate run options against a scenario (RangeError/TypeError naming the option). */
export function resolveRunOptions(scenario: Scenario, o: RunOptions = {}): ScenarioOptions {
  if (scenario === null || typeof scenario !== 'object' || typeof scenario.run !== 'function' || !Array.isArray(scenario.schedules)) {
    throw new TypeError('scenario must be a Scenario (from SCENARIOS or findScenario)');
  }
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const d = scenario.defaults ?? {};
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`options.${name} must be an integer in ${min}..${max} (got ${v})`);
    return v;
  };
  const bool = (name: 'validator' | 'stopAtFirst' | 'timeline'): boolean => {
    const v = o[name] ?? RUN_DEFAULTS[name];
    if (typeof v !== 'boolean') throw new TypeError(`options.${name} must be a boolean`);
    return v;
  };
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
  if (o.schedule !== undefined && (o.schedule === null || typeof o.schedule !== 'object')) throw new TypeError('options.schedule must be an object');
  const seconds = o.seconds ?? d.seconds ?? RUN_DEFAULTS.seconds;
  if (!(typeof seconds === 'number' && seconds >= 0.001 && seconds <= 86_400)) throw new RangeError(`options.seconds must be in 0.001..86400 (got ${seconds})`);
  const strategy: ScheduleStrategy = o.schedule?.strategy ?? 'free';
  if (!['free', 'random', 'pct'].includes(strategy)) throw new RangeError(`options.schedule.strategy must be free, random or pct (got ${strategy})`);
  if (!scenario.schedules.includes(strategy)) {
    throw new RangeError(`scenario ${scenario.name} cannot run under schedule '${strategy}' (it supports ${scenario.schedules.join(', ')})`);
  }
  if (o.lockProtocol !== undefined && scenario.takesLockProtocol === false) {
    throw new RangeError(`scenario ${scenario.name} is a fixed test of one lock protocol and takes no lockProtocol`);
  }
  const lockProtocol = o.lockProtocol === undefined ? undefined : resolveLockProtocol(o.lockProtocol, 'lockProtocol');
  const stallMs = o.stallMs ?? RUN_DEFAULTS.stallMs;
  if (!(typeof stallMs === 'number' && stallMs >= 10)) throw new RangeError(`options.stallMs must be a number >= 10 (got ${stallMs})`);
  return {
    vcpus: int('vcpus', o.vcpus ?? d.vcpus ?? RUN_DEFAULTS.vcpus, 1, 64),
    its: int('its', o.its ?? d.its ?? RUN_DEFAULTS.its, 1, 16),
    seconds,
    schedule: {
      strategy,
      seed: int('schedule.seed', o.schedule?.seed ?? 1, 0, 0xffff_ffff),
      pctDepth: int('schedule.pctDepth', o.schedule?.pctDepth ?? DEFAULT_PCT_DEPTH, 1, 64),
      stepBudget: int('schedule.stepBudget', o.schedule?.stepBudget ?? DEFAULT_STEP_BUDGET, 1, 1e9),
    },
    validator: bool('validator'),
    stopAtFirst: bool('stopAtFirst'),
    stallMs,
    timeline: bool('timeline'),
    ...(lockProtocol ? { lockProtocol } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  };
}

/** The replay token of a run with these options. */
export function tokenFor(scenario: string, o: ScenarioOptions, traceHash?: string): string {
  const s = o.schedule;
  return encodeToken({
    scenario, vcpus: o.vcpus, its: o.its, seconds: o.seconds,
    schedule: { strategy: s.strategy, seed: s.seed, pctDepth: s.pctDepth ?? DEFAULT_PCT_DEPTH, stepBudget: s.stepBudget ?? DEFAULT_STEP_BUDGET },
    ...(traceHash !== undefined ? { traceHash } : {}),
  });
}


/**
 * Run `scenario` once against real VMs and judge it: the watchdog ends the
 * run on a deadlock, a stall or (with stopAtFirst) an unexpected finding;
 * every VM is destroyed before this resolves, whatever happened. Resolves to
 * a JSON-safe outcome with a replay token. Rejects (TypeError/RangeError
 * naming the option) only for invalid options.
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}, hooks: RunHooks = {}): Promise<ScenarioOutcome> {
  const o = resolveRunOptions(scenario, options);
  const controller = new AbortController();
  // A tried protocol is judged by one rule: the scenario's own checks, and nothing found.
  const expects = o.lockProtocol !== undefined ? {} : scenario.expects ?? {};
  const expectedFindings: readonly FindingKind[] = expects.findings ?? [];
  const dog = new Watchdog({ stallMs: o.stallMs, stopAtFirst: o.stopAtFirst, expectedFindings, onEnd: (r) => controller.abort(r) });
  const vms: GicVm[] = [];
  const ctx: ScenarioContext = {
    async createVm(vmOptions: CreateVmOptions) {
      const opts: CreateVmOptions = { ...vmOptions };
      // Every VM of the run, migration destinations included; createVm gives the validator the protocol's hierarchy.
      if (o.lockProtocol !== undefined && opts.gic !== false) opts.gic = { ...opts.gic, lockProtocol: o.lockProtocol };
      if (o.validator && opts.validator === undefined) opts.validator = true;
      const s = o.schedule;
      if (s.strategy !== 'free') {
        opts.schedule = { strategy: s.strategy, seed: s.seed, pctDepth: s.pctDepth ?? DEFAULT_PCT_DEPTH, stepBudget: s.stepBudget ?? DEFAULT_STEP_BUDGET };
      }
      if (o.timeline && opts.timeline === undefined) opts.timeline = true;
      const vm = await createVm(opts);
      vms.push(vm);
      dog.watch(vm);
      if (controller.signal.aborted) await vm.destroy(DESTROY_GRACE_MS); // created after the end: never run it
      return vm;
    },
    signal: controller.signal,
    random: seededRandom(o.schedule.seed),
    progress: (fraction, label) => o.onProgress?.(Math.max(0, Math.min(1, fraction)), label),
    watch: () => dog.report(),
  };

  const t0 = performance.now();
  const timers: NodeJS.Timeout[] = [];
  const destroyAll = () => Promise.allSettled(vms.map((vm) => vm.destroy(DESTROY_GRACE_MS)));
  // A scenario that outlives its own length by far is ended: twice its seconds plus a minute for VM setup.
  timers.push(setTimeout(() => dog.end('timeout'), 2 * o.seconds * 1000 + 60_000));
  dog.start();

  type Settled = { obs: ScenarioObservation } | { err: unknown };
  const settled: Promise<Settled> = Promise.resolve()
    .then(() => scenario.run(o, ctx))
    .then((obs) => ({ obs }), (err: unknown) => ({ err }));
  const late = Symbol('late');
  // Once aborted, give the scenario a grace period; then destroy its VMs (ending whatever it waits on) and wait once more.
  const afterAbort = (ms: number) => new Promise<typeof late>((resolve) => {
    const arm = () => timers.push(setTimeout(() => resolve(late), ms));
    if (controller.signal.aborted) arm();
    else controller.signal.addEventListener('abort', arm, { once: true });
  });
  let r = await Promise.race([settled, afterAbort(ABORT_GRACE_MS)]);
  if (r === late) {
    await destroyAll();
    r = await Promise.race([settled, afterAbort(ABORT_GRACE_MS)]);
  }
  dog.stop();
  for (const t of timers) clearTimeout(t);

  const report = dog.report();
  const findings = [...report.findings, ...dog.findings().filter((f) => !report.findings.some((g) => JSON.stringify(g) === JSON.stringify(f)))];
  const sched = vms[0]?.schedule();
  const traceHash = sched?.traceHash;
  const decisions = sched?.decisions;
  try {
    await hooks.beforeDestroy?.(vms);
  } finally {
    await destroyAll();
  }

  let endedBy: EndedBy = report.endedBy ?? 'scenario';
  let obs: ScenarioObservation;
  if (r === late) obs = { ok: false, observed: `the scenario did not end after the run was stopped (${report.endedBy})`, figures: {} };
  else if ('err' in r) {
    if (report.endedBy === null) endedBy = r.err instanceof ScheduleEnded && r.err.end === 'budget' ? 'budget' : 'error';
    const e = r.err as Error;
    obs = { ok: false, observed: `${report.endedBy ? `stopped (${report.endedBy}); then ` : ''}the scenario threw: ${e?.message ?? String(e)}`, figures: {} };
  } else obs = r.obs;

  const deadlocks = [...report.deadlocks, ...(obs.deadlocks ?? [])];
  const stall = report.stall ?? obs.stall ?? null;
  const allFindings = [...findings, ...(obs.findings ?? [])];
  // Anything the watchdog saw that the scenario did not declare fails the verdict, whatever the scenario said.
  const unexpected: string[] = [];
  const kinds = [...new Set(allFindings.map((f) => f.kind).filter((k) => !expectedFindings.includes(k)))];
  if (kinds.length > 0) unexpected.push(`${kinds.join(', ')} finding${kinds.length > 1 ? 's' : ''}`);
  if (deadlocks.length > 0 && expects.deadlock !== true) unexpected.push('deadlock');
  if (stall !== null) unexpected.push(`stall (no progress for ${stall.afterMs} ms)`);
  if (endedBy === 'timeout') unexpected.push('hard time limit reached');
  if (endedBy === 'budget') unexpected.push('the controlled schedule used its step budget');
  const ok = obs.ok && unexpected.length === 0;
  const { onProgress: _drop, ...jsonOptions } = o;
  return {
    scenario: scenario.name,
    title: scenario.title,
    expected: o.lockProtocol !== undefined ? `lock protocol '${o.lockProtocol.name}': ${scenario.expectWithProtocol ?? scenario.expect}` : scenario.expect,
    observed: unexpected.length > 0 ? `${obs.observed}; unexpected: ${unexpected.join(', ')}` : obs.observed,
    ok,
    verdict: ok ? 'pass' : 'fail',
    figures: obs.figures,
    findings: allFindings,
    deadlocks,
    stall,
    endedBy,
    token: tokenFor(scenario.name, o, traceHash),
    options: jsonOptions,
    durationMs: Math.round(performance.now() - t0),
    ...(traceHash !== undefined ? { traceHash } : obs.traceHash !== undefined ? { traceHash: obs.traceHash } : {}),
    ...(decisions !== undefined ? { decisions } : obs.decisions !== undefined ? { decisions: obs.decisions } : {}),
    ...(sched !== undefined ? { scheduleEnd: sched.end } : {}),
    ...(o.lockProtocol !== undefined ? { lockProtocol: o.lockProtocol.name } : {}),
  };
}
