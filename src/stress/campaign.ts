/**
 * Campaigns: the same scenarios over many seeds, in parallel on a piscina
 * pool (one task = one scenario run with one seed, on a worker of its own:
 * workers/campaign-task.ts), aggregated into verdict counts and findings
 * deduplicated by key (finding-key.ts), each with the first seed and replay
 * token that produced it.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Finding } from '../sync/validator.js';
import type { Deadlock } from './deadlock.js';
import { deadlockKey, findingKey } from './finding-key.js';
import { resolveRunOptions, type RunOptions } from './runner.js';
import { findScenario, SCENARIOS } from './scenarios/index.js';
import type { ScenarioOutcome, Stall } from './scenario.js';

const TASK = fileURLToPath(new URL('../../workers/campaign-task.js', import.meta.url));

/** @internal One pool task: JSON-safe (it crosses to the worker by structured clone). */
export interface CampaignTask {
  scenario: string;
  options: Omit<RunOptions, 'onProgress'>;
}

/** What runCampaign runs: every scenario with every seed of a range. */
export interface CampaignOptions {
  /** Built-in scenario names or letters (see SCENARIOS); at least one. */
  scenarios: string[];
  /** Seeds from .. from + seeds - 1, for every scenario: 1..1000000. */
  seeds: number;
  /** The first seed, 0..2^32-1. */
  from: number;
  /** Runs at once (each is a VM with its own worker threads), 1..64. Default: min(2, cores). */
  concurrency?: number;
  /** Run options for every run (as runScenario's, without onProgress; the seed comes from the range). */
  run?: Omit<RunOptions, 'onProgress' | 'schedule'> & {
    /** The schedule of every run, without the seed. */
    schedule?: Omit<NonNullable<RunOptions['schedule']>, 'seed'>;
  };
  /** Called after each run, in completion order. */
  onRun?(done: number, total: number, outcome: ScenarioOutcome): void;
}

/** The first run that found something: replay it with its token. */
export interface FirstSeen {
  /** The run's seed. */
  seed: number;
  /** Its replay token. */
  token: string;
  /** Its scenario. */
  scenario: string;
}

/** A campaign's results: verdict counts, and what was found, deduplicated across runs. */
export interface CampaignReport {
  /** Runs made. */
  runs: number;
  /** Runs that passed. */
  pass: number;
  /** Runs that failed. */
  fail: number;
  /** Per scenario: runs, passes, failures and mean run time. */
  scenarios: {
    /** The scenario's name. */
    scenario: string;
    /** Its runs. */
    runs: number;
    /** Passed. */
    pass: number;
    /** Failed. */
    fail: number;
    /** Mean wall time per run, ms. */
    meanMs: number;
  }[];
  /** Validator findings, one entry per findingKey. */
  findings: {
    /** The finding's identity across runs. */
    key: string;
    /** Runs that found it. */
    count: number;
    /** The first run that found it. */
    first: FirstSeen;
    /** That run's finding. */
    finding: Finding;
  }[];
  /** Deadlocks, one entry per set of waits. */
  deadlocks: {
    /** The deadlock's identity across runs. */
    key: string;
    /** Runs that hit it. */
    count: number;
    /** The first run that hit it. */
    first: FirstSeen;
    /** That run's deadlock. */
    deadlock: Deadlock;
  }[];
  /** Stalls (at most one entry: stalls have no identity beyond "no progress"). */
  stalls: {
    /** Runs that stalled. */
    count: number;
    /** The first of them. */
    first: FirstSeen;
    /** Its stall. */
    stall: Stall;
  }[];
  /** Every failed run, with what it observed. */
  failures: (FirstSeen & {
    /** The run's observation line. */
    observed: string;
  })[];
}

/** @internal */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/**
 * Run every scenario with every seed of the range on a pool of worker
 * threads (one run per task), and aggregate: verdict counts, and findings and
 * deadlocks deduplicated by key, each with the first seed and replay token
 * that produced it. Options are checked before any thread starts.
 */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  checkCampaignOptions(o);
  const concurrency = o.concurrency ?? defaultConcurrency();
  const pool = new Piscina<CampaignTask, ScenarioOutcome>({ filename: TASK, minThreads: 1, maxThreads: concurrency, concurrentTasksPerWorker: 1 });
  const tasks: CampaignTask[] = [];
  for (const scenario of o.scenarios) {
    for (let i = 0; i < o.seeds; i++) {
      tasks.push({ scenario, options: { ...o.run, schedule: { ...o.run?.schedule, seed: (o.from + i) >>> 0 } } });
    }
  }
  let done = 0;
  try {
    const outcomes = await Promise.all(tasks.map(async (t) => {
      const out = await pool.run(t);
      o.onRun?.(++done, tasks.length, out);
      return out;
    }));
    return aggregate(outcomes);
  } finally {
    await pool.destroy();
  }
}

function checkCampaignOptions(o: CampaignOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  if (!Array.isArray(o.scenarios) || o.scenarios.length === 0) throw new TypeError('options.scenarios must be a non-empty array of scenario names');
  for (const [i, name] of o.scenarios.entries()) {
    if (typeof name !== 'string' || findScenario(name) === undefined) {
      throw new RangeError(`options.scenarios[${i}]: no scenario '${String(name)}' (${SCENARIOS.map((s) => s.name).join(', ')})`);
    }
  }
  const int = (name: string, v: unknown, min: number, max: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`options.${name} must be an integer`);
    if (v < min || v > max) throw new RangeError(`options.${name} must be in ${min}..${max} (got ${v})`);
  };
  int('seeds', o.seeds, 1, 1_000_000);
  int('from', o.from, 0, 0xffff_ffff);
  if (o.concurrency !== undefined) int('concurrency', o.concurrency, 1, 64);
  if (o.onRun !== undefined && typeof o.onRun !== 'function') throw new TypeError('options.onRun must be a function');
  if (o.run !== undefined && (o.run === null || typeof o.run !== 'object')) throw new TypeError('options.run must be an object');
  // Each run's options are resolved on its worker: resolve them here, so a bad one (or a scenario that
  // cannot run the schedule) fails now, naming it, not half-way through the campaign.
  try {
    for (const name of o.scenarios) resolveRunOptions(findScenario(name)!, { ...o.run, schedule: { ...o.run?.schedule, seed: o.from } });
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) e.message = e.message.replace(/^options\./, 'options.run.');
    throw e;
  }
}

/** @internal Verdict counts per scenario, findings and deadlocks deduplicated by key (first seed wins: outcomes in task order). */
export function aggregate(outcomes: ScenarioOutcome[]): CampaignReport {
  const r: CampaignReport = { runs: 0, pass: 0, fail: 0, scenarios: [], findings: [], deadlocks: [], stalls: [], failures: [] };
  const first = (o: ScenarioOutcome): FirstSeen => ({ seed: o.options.schedule.seed, token: o.token, scenario: o.scenario });
  const findings = new Map<string, CampaignReport['findings'][number]>();
  const deadlocks = new Map<string, CampaignReport['deadlocks'][number]>();
  const per = new Map<string, CampaignReport['scenarios'][number] & { totalMs: number }>();
  for (const o of outcomes) {
    r.runs++;
    const s = per.get(o.scenario) ?? { scenario: o.scenario, runs: 0, pass: 0, fail: 0, meanMs: 0, totalMs: 0 };
    per.set(o.scenario, s);
    s.runs++;
    s.totalMs += o.durationMs;
    if (o.verdict === 'pass') {
      r.pass++;
      s.pass++;
    } else {
      r.fail++;
      s.fail++;
      r.failures.push({ ...first(o), observed: o.observed });
    }
    for (const f of o.findings) {
      const key = findingKey(f);
      const e = findings.get(key);
      if (e) e.count++;
      else findings.set(key, { key, count: 1, first: first(o), finding: f });
    }
    for (const d of o.deadlocks) {
      const key = deadlockKey(d);
      const e = deadlocks.get(key);
      if (e) e.count++;
      else deadlocks.set(key, { key, count: 1, first: first(o), deadlock: d });
    }
    if (o.stall) {
      if (r.stalls.length === 0) r.stalls.push({ count: 1, first: first(o), stall: o.stall });
      else r.stalls[0]!.count++;
    }
  }
  r.scenarios = [...per.values()].map(({ totalMs, ...s }) => ({ ...s, meanMs: Math.round(totalMs / s.runs) }));
  r.findings = [...findings.values()];
  r.deadlocks = [...deadlocks.values()];
  return r;
}
