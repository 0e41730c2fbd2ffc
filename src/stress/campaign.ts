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
import type { RunOptions } from './runner.js';
import type { ScenarioOutcome, Stall } from './scenario.js';

const TASK = fileURLToPath(new URL('../../workers/campaign-task.js', import.meta.url));

/** One pool task: JSON-safe (it crosses to the worker by structured clone). */
export interface CampaignTask {
  scenario: string;
  options: Omit<RunOptions, 'onProgress'>;
}

export interface CampaignOptions {
  scenarios: string[];
  /** Seeds from .. from + seeds - 1, for every scenario. */
  seeds: number;
  from: number;
  /** Runs at once (each is a VM with its own worker threads). Default: min(2, cores). */
  concurrency?: number;
  run?: Omit<RunOptions, 'onProgress' | 'schedule'> & { schedule?: Omit<NonNullable<RunOptions['schedule']>, 'seed'> };
  onRun?(done: number, total: number, outcome: ScenarioOutcome): void;
}

export interface FirstSeen { seed: number; token: string; scenario: string }

export interface CampaignReport {
  runs: number;
  pass: number;
  fail: number;
  scenarios: { scenario: string; runs: number; pass: number; fail: number; meanMs: number }[];
  findings: { key: string; count: number; first: FirstSeen; finding: Finding }[];
  deadlocks: { key: string; count: number; first: FirstSeen; deadlock: Deadlock }[];
  stalls: { count: number; first: FirstSeen; stall: Stall }[];
  failures: (FirstSeen & { observed: string })[];
}

export function defaultConcurrency(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
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

/** Verdict counts per scenario, findings and deadlocks deduplicated by key (first seed wins: outcomes in task order). */
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
