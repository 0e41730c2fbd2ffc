/**
 * What a stress scenario is: a named run against real VMs with an expected
 * verdict the runner checks. Scenarios live in src/stress/scenarios/, one
 * file each; the runner (src/stress/runner.ts) adds the watchdog, the
 * validator report and the verdict; the CLI only prints.
 */
import type { Finding, FindingKind } from '../sync/validator.js';
import type { Deadlock } from './deadlock.js';
import type { ScheduleEnd } from '../sync/schedule.js';
import type { CreateVmOptions, GicVm } from '../create-vm.js';
import type { LockProtocol } from '../vgic/lock-protocol.js';

/** 'free': the OS schedules the threads; 'random'/'pct': one thread at a time, chosen by a seeded scheduler. */
export type ScheduleStrategy = 'free' | 'random' | 'pct';

/** How a stress run's threads are scheduled. */
export interface ScheduleOptions {
  /** 'free' (the OS), or one thread at a time chosen by 'random' or 'pct'. */
  strategy: ScheduleStrategy;
  /** Seed of the scheduler's choices (and of the scenario's own randomness). */
  seed: number;
  /** PCT's bug depth d (d - 1 priority change points). Default 3. */
  pctDepth?: number;
  /** Scheduling decisions before the run is ended as 'budget'. Default 200000. */
  stepBudget?: number;
}

/** A run's options as a scenario sees them: every default filled in (see RunOptions for what callers set). */
export interface ScenarioOptions {
  /** vCPUs per VM. */
  vcpus: number;
  /** ITSs per VM (scenarios that need two use at least two). */
  its: number;
  /** Wall-clock length of the timed part of soak-like scenarios. */
  seconds: number;
  /** The run's schedule and seed. */
  schedule: ScheduleOptions;
  /** Run the lock-order validator (on by default in stress runs). */
  validator: boolean;
  /** End the run at the first validator finding. */
  stopAtFirst: boolean;
  /** A run with no progress for this long is reported as a stall and ended. */
  stallMs: number;
  /** Record a timeline (Chrome Trace Event format) of the run. */
  timeline: boolean;
  /**
   * A lock protocol to try (a user's, or a built-in one by name before
   * resolution): every VM of the run uses it in place of the protocol the
   * scenario would choose, the validator checks its hierarchy, and the
   * verdict expects a clean run (see Scenario.takesLockProtocol). Unset: the
   * scenario's own protocol and expectation.
   */
  lockProtocol?: LockProtocol;
  /** Progress callback for a progress bar: fraction in 0..1 and a label. */
  onProgress?: (fraction: number, label: string) => void;
}

/** A run with no progress for `stallMs`: what each live thread was doing. */
export interface Stall {
  /** How long nothing moved. */
  afterMs: number;
  /** Every live thread of the run's VMs. */
  threads: {
    /** The thread's id in its VM. */
    tid: number;
    /** 'vCPU 0', 'ITS 0', 'VMM', ... */
    name: string;
    /** A lock, an actor's reply, or 'nothing'. */
    waitsFor: string;
    /** Locks it holds (class#instance). */
    holds: string[];
  }[];
}

/** What a scenario observed; the runner adds the verdict. */
export interface ScenarioObservation {
  // findings/deadlocks/stall: the runner fills them from the watched VMs; a scenario may add its own.
  /** One line: what happened, in the scenario's terms (e.g. "SAVE -EBUSY while running, 0 after pause"). */
  observed: string;
  /** Did the observation match the scenario's expectation? */
  ok: boolean;
  /** Numbers worth printing and aggregating (msis, lost, ebusy, saves, ...). */
  figures: Record<string, number>;
  /** Validator findings the scenario collected itself (the runner adds every VM's). */
  findings?: Finding[];
  /** Deadlocks the scenario detected itself (the runner adds the watchdog's). */
  deadlocks?: Deadlock[];
  /** A stall the scenario detected itself. */
  stall?: Stall | null;
  /** Controlled schedules: the run's trace hash. */
  traceHash?: string;
  /** Controlled schedules: scheduling decisions taken. */
  decisions?: number;
}

/** A run's verdict: the scenario's expectation held and nothing undeclared happened ('pass'), or not. */
export type Verdict = 'pass' | 'fail';

/** Why the run ended: the scenario returned, or the watchdog ended it (or the scenario threw). */
/** 'budget': a controlled schedule used its step budget. */
export type EndedBy = 'scenario' | 'deadlock' | 'stall' | 'finding' | 'timeout' | 'budget' | 'error';

/** What runScenario returns: the observation, the verdict, and how to replay the run. JSON-safe. */
export interface ScenarioOutcome extends ScenarioObservation {
  /** Every validator finding of the run's VMs. */
  findings: Finding[];
  /** Every confirmed deadlock. */
  deadlocks: Deadlock[];
  /** The stall that ended the run, or null. */
  stall: Stall | null;
  /** The scenario's name. */
  scenario: string;
  /** Its title. */
  title: string;
  /** The expected verdict in words. */
  expected: string;
  /** 'pass' or 'fail'. */
  verdict: Verdict;
  /** Reproduces this run: `vgic-lab replay <token>`. */
  token: string;
  /** The options the run used, defaults filled in. */
  options: Omit<ScenarioOptions, 'onProgress'>;
  /** Wall time of the run. */
  durationMs: number;
  /** What ended the run. */
  endedBy: EndedBy;
  /** Controlled schedules: how the schedule ended ('running' when the scenario ended first). */
  scheduleEnd?: ScheduleEnd;
  /** The name of the lock protocol the run tried (options.lockProtocol), if one was given. */
  lockProtocol?: string;
}

/**
 * A stress scenario: a named run against real VMs with an expected verdict.
 * The built-in ones are in {@link SCENARIOS}; a scenario of your own is an
 * object of this shape passed to runScenario.
 */
export interface Scenario {
  /** CLI name, e.g. 'save-busy'. */
  name: string;
  /** The letter, for the summary ('a'..'f'). */
  letter: string;
  /** One line: what the scenario does. */
  title: string;
  /** The expected verdict in one line. */
  expect: string;
  /** Schedules this scenario can run under. */
  schedules: readonly ScheduleStrategy[];
  /** Defaults this scenario needs (e.g. its: 2). */
  defaults?: Partial<Pick<ScenarioOptions, 'vcpus' | 'its' | 'seconds'>>;
  /**
   * What the watchdog may report without failing the verdict (the scenario
   * judges those itself, through ctx.watch()). Anything else it reports
   * (a finding of another kind, a deadlock, any stall) fails the verdict.
   * Default: nothing, i.e. a clean run is expected.
   */
  expects?: {
    /** Finding kinds the scenario expects (and judges) itself. */
    findings?: readonly FindingKind[];
    /** The scenario expects (and judges) a deadlock itself. */
    deadlock?: boolean;
  };
  /**
   * Whether the scenario runs a given lock protocol (options.lockProtocol).
   * Default true: every VM it creates uses that protocol, `expects` is
   * ignored and the run passes iff the scenario's own checks hold and there
   * is no validator finding, no deadlock and no stall. false: the scenario is
   * a fixed test of one protocol (b2) and refuses one (RangeError).
   */
  takesLockProtocol?: boolean;
  /** The expected verdict in one line when options.lockProtocol is given. Default: `expect`. */
  expectWithProtocol?: string;
  /** Run once with `options`, creating VMs through `ctx`; resolve to what was observed. Honour `ctx.signal`. */
  run(options: ScenarioOptions, ctx: ScenarioContext): Promise<ScenarioObservation>;
}

/**
 * What the runner gives a scenario: VMs created through it get the run's
 * validator and schedule options and are watched (deadlock, stall) and
 * destroyed at the end; when the watchdog ends the run, `signal` aborts.
 */
export interface ScenarioContext {
  /** createVm, plus the run's validator, schedule and timeline options (and options.lockProtocol, if given, in place of the one asked for); the VM is watched and destroyed by the runner. */
  createVm(options: CreateVmOptions): Promise<GicVm>;
  /** Aborted when the watchdog ends the run (deadlock, stall, stop-at-first). */
  signal: AbortSignal;
  /** A seeded PRNG in [0, 1) for the scenario's own choices (same seed, same choices). */
  random(): number;
  /** Report progress (0..1) for the progress bar. */
  progress(fraction: number, label: string): void;
  /** What the watchdog saw so far: validator findings of every VM, confirmed deadlocks, a stall. */
  watch(): WatchReport;
}

/** What the watchdog has seen so far in a run. */
export interface WatchReport {
  /** Validator findings of every VM. */
  findings: Finding[];
  /** Confirmed deadlocks. */
  deadlocks: Deadlock[];
  /** A stall, or null. */
  stall: Stall | null;
  /** Set once the watchdog ended the run (then ctx.signal is aborted). */
  endedBy: Exclude<EndedBy, 'scenario' | 'error'> | null;
}
