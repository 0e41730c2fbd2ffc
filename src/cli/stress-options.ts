/**
 * Options shared by `stress`, `campaign` and `replay`: parseArgs specs,
 * number checks with messages naming the flag, and scenario selection
 * (names or letters; an unknown one is a usage error listing the known).
 */
import { randomInt } from 'node:crypto';
import type { RunOptions } from '../stress/runner.js';
import { loadLockProtocol } from '../vgic/lock-protocol-file.js';
import type { LockProtocol } from '../vgic/lock-protocol.js';
import type { Scenario, ScheduleStrategy } from '../stress/scenario.js';
import { SCENARIOS, findScenario } from '../stress/scenarios/index.js';

export const RUN_FLAGS = {
  vcpus: { type: 'string' },
  its: { type: 'string' },
  seconds: { type: 'string' },
  schedule: { type: 'string' },
  'pct-depth': { type: 'string' },
  steps: { type: 'string' },
  'stop-at-first': { type: 'boolean' },
  'stall-ms': { type: 'string' },
  protocol: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const RUN_FLAGS_HELP = `  --vcpus N         vCPUs per VM (default: the scenario's, else 2)
  --its N           ITSs per VM (default: the scenario's, else 1)
  --seconds S       length of the timed part of each scenario (default: the scenario's, else 1)
  --schedule S      free (the OS schedules threads; default), random or pct (a controlled scheduler)
  --pct-depth D     PCT's bug depth, 1..9 (default 3)
  --steps N         scheduling decisions before a controlled run ends (default 200000)
  --stop-at-first   end a run at the first validator finding its scenario does not expect
  --stall-ms N      report a stall and end the run after N ms without progress (default 5000)
  --protocol P      try a lock protocol in every scenario: upstream, v7-2017, a .json file or a .mjs
                    module (default export); the verdict then expects a clean run (b2 takes none)
  --json            one JSON document on stdout instead of text
  -h, --help        this help`;

/** A usage error: main prints the message and exits 2. */
export function usageError(message: string): RangeError {
  return new RangeError(message);
}

export function intFlag(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw usageError(`--${name} must be an integer in ${min}..${max} (got '${v}')`);
  return Number(v);
}

export function secondsFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0.001 || n > 86_400) throw usageError(`--seconds must be a number in 0.001..86400 (got '${v}')`);
  return n;
}

/** The run options the flags set (undefined fields fall back to the scenario's defaults). */
export function runOptionsFrom(values: Record<string, string | boolean | undefined>, seed: number): RunOptions {
  const strategy = (values.schedule ?? 'free') as string;
  if (!['free', 'random', 'pct'].includes(strategy)) throw usageError(`--schedule must be free, random or pct (got '${strategy}')`);
  const o: RunOptions = {
    schedule: {
      strategy: strategy as ScheduleStrategy, seed,
      ...(values['pct-depth'] !== undefined ? { pctDepth: intFlag('pct-depth', values['pct-depth'] as string, 1, 9)! } : {}),
      ...(values.steps !== undefined ? { stepBudget: intFlag('steps', values.steps as string, 1, 1e9)! } : {}),
    },
    stopAtFirst: values['stop-at-first'] === true,
  };
  const vcpus = intFlag('vcpus', values.vcpus as string | undefined, 1, 64);
  const its = intFlag('its', values.its as string | undefined, 1, 16);
  const seconds = secondsFlag(values.seconds as string | undefined);
  const stallMs = intFlag('stall-ms', values['stall-ms'] as string | undefined, 10, 3_600_000);
  if (vcpus !== undefined) o.vcpus = vcpus;
  if (its !== undefined) o.its = its;
  if (seconds !== undefined) o.seconds = seconds;
  if (stallMs !== undefined) o.stallMs = stallMs;
  return o;
}

/** --protocol: the lock protocol to try, loaded and validated (a usage error names the flag and the file). */
export async function protocolFlag(v: string | undefined): Promise<LockProtocol | undefined> {
  if (v === undefined) return undefined;
  try {
    return await loadLockProtocol(v, '--protocol');
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}

export function scenarioList(): string {
  return SCENARIOS.map((s) => `  ${s.letter.padEnd(3)} ${s.name.padEnd(18)} ${s.title}`).join('\n');
}

/**
 * Scenarios named on the command line (all of them when none; with a lock
 * protocol to try, all that take one); a usage error names the unknown ones.
 */
export function selectScenarios(names: string[], strategy: string | undefined, withProtocol = false): Scenario[] {
  const takes = (s: Scenario) => !withProtocol || s.takesLockProtocol !== false;
  if (names.length === 0) return SCENARIOS.filter((s) => s.schedules.includes((strategy ?? 'free') as ScheduleStrategy) && takes(s));
  const unknown = names.filter((n) => findScenario(n) === undefined);
  if (unknown.length > 0) throw usageError(`unknown scenario${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; the scenarios are:\n${scenarioList()}`);
  const picked = [...new Set(names.map((n) => findScenario(n)!))];
  const cannot = picked.filter((s) => !s.schedules.includes((strategy ?? 'free') as ScheduleStrategy));
  if (cannot.length > 0) throw usageError(`${cannot.map((s) => s.name).join(', ')} cannot run under --schedule ${strategy}`);
  const fixed = picked.filter((s) => !takes(s));
  if (fixed.length > 0) throw usageError(`${fixed.map((s) => s.name).join(', ')} is a fixed test of one lock protocol and takes no --protocol`);
  return picked;
}
