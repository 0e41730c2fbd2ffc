/**
 * Replay tokens: everything needed to rerun a scenario the same way, in one
 * URL-safe word a person can still read:
 *
 *   v1.<scenario>.<vcpus>.<its>.<milliseconds>.<f|r|p>.<seed>.<pctDepth>.<stepBudget>[.<traceHash>]
 *
 * A controlled run's token ends with its trace hash, so a replay can tell
 * whether it reproduced the same interleaving.
 * The version prefix lets the format change without misreading old tokens.
 * Seconds travel as integer milliseconds so no field contains the separator.
 */
import type { ScheduleStrategy } from './scenario.js';

export const TOKEN_VERSION = 'v1';
export const DEFAULT_PCT_DEPTH = 3;
export const DEFAULT_STEP_BUDGET = 200_000;

/** What a replay token encodes: everything needed to run the same scenario run again. */
export interface ReplaySpec {
  /** The scenario's name. */
  scenario: string;
  /** vCPUs per VM. */
  vcpus: number;
  /** ITSs per VM. */
  its: number;
  /** Length of the timed part, in seconds. */
  seconds: number;
  /** The schedule: strategy, seed, PCT depth and step budget. */
  schedule: {
    /** 'free', 'random' or 'pct'. */
    strategy: ScheduleStrategy;
    /** The run's seed. */
    seed: number;
    /** PCT's depth. */
    pctDepth: number;
    /** Decisions before the run ends as 'budget'. */
    stepBudget: number;
  };
  /** The trace hash of the run the token came from (controlled schedules). */
  traceHash?: string;
}

const STRATEGY_LETTER: Record<ScheduleStrategy, string> = { free: 'f', random: 'r', pct: 'p' };
const LETTER_STRATEGY: Record<string, ScheduleStrategy> = { f: 'free', r: 'random', p: 'pct' };
const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const MAX_SECONDS = 24 * 3600;

export function encodeToken(s: ReplaySpec): string {
  check(s);
  const t = s.schedule;
  const fields = [TOKEN_VERSION, s.scenario, s.vcpus, s.its, Math.round(s.seconds * 1000), STRATEGY_LETTER[t.strategy], t.seed, t.pctDepth, t.stepBudget];
  if (s.traceHash !== undefined) fields.push(s.traceHash);
  return fields.join('.');
}

/** Decode and validate a token; RangeError naming the problem. */
export function decodeToken(token: string): ReplaySpec {
  if (typeof token !== 'string' || token.length === 0) throw new RangeError('replay token: empty');
  const f = token.trim().split('.');
  if (f[0] !== TOKEN_VERSION) {
    throw new RangeError(`replay token: unsupported version '${f[0]}' (this build reads ${TOKEN_VERSION}.*)`);
  }
  if (f.length !== 9 && f.length !== 10) throw new RangeError(`replay token: expected 9 or 10 fields separated by '.', got ${f.length}`);
  const [, scenario, vcpus, its, ms, letter, seed, depth, budget, hash] = f as [string, string, string, string, string, string, string, string, string, string?];
  if (hash !== undefined && !/^[0-9a-f]{16}$/.test(hash)) throw new RangeError(`replay token: the trace hash must be 16 hex digits (got '${hash}')`);
  const strategy = LETTER_STRATEGY[letter];
  if (strategy === undefined) throw new RangeError(`replay token: unknown schedule '${letter}' (f, r or p)`);
  const spec: ReplaySpec = {
    scenario,
    vcpus: int('vcpus', vcpus),
    its: int('its', its),
    seconds: int('milliseconds', ms) / 1000,
    schedule: { strategy, seed: int('seed', seed), pctDepth: int('pctDepth', depth), stepBudget: int('stepBudget', budget) },
    ...(hash !== undefined ? { traceHash: hash } : {}),
  };
  check(spec);
  return spec;
}

function int(name: string, v: string): number {
  if (!/^\d{1,10}$/.test(v)) throw new RangeError(`replay token: ${name} must be a decimal integer (got '${v}')`);
  return Number(v);
}

function check(s: ReplaySpec): void {
  const bad = (what: string) => {
    throw new RangeError(`replay token: ${what}`);
  };
  if (!NAME.test(s.scenario)) bad(`scenario name '${s.scenario}' is not a scenario name`);
  if (!Number.isInteger(s.vcpus) || s.vcpus < 1 || s.vcpus > 256) bad(`vcpus must be 1..256 (got ${s.vcpus})`);
  if (!Number.isInteger(s.its) || s.its < 1 || s.its > 16) bad(`its must be 1..16 (got ${s.its})`);
  if (!(s.seconds >= 0.001 && s.seconds <= MAX_SECONDS)) bad(`seconds must be in 0.001..${MAX_SECONDS} (got ${s.seconds})`);
  const t = s.schedule;
  if (!(t.strategy in STRATEGY_LETTER)) bad(`schedule strategy '${t.strategy}' is not free, random or pct`);
  if (!Number.isInteger(t.seed) || t.seed < 0 || t.seed > 0xffff_ffff) bad(`seed must be 0..4294967295 (got ${t.seed})`);
  if (!Number.isInteger(t.pctDepth) || t.pctDepth < 1 || t.pctDepth > 9) bad(`pctDepth must be 1..9 (got ${t.pctDepth})`);
  if (!Number.isInteger(t.stepBudget) || t.stepBudget < 1 || t.stepBudget > 1e9) bad(`stepBudget must be 1..1000000000 (got ${t.stepBudget})`);
}
