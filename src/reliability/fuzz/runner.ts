/**
 * runFuzz: one target, seeded, for a number of cases (`runs`) or a time
 * budget (`minutes`). Cases come from fast-check in chunks: each chunk is
 * one fc.check with its own seed (derived from the run's seed), so a time
 * budget ends between cases, never inside one (a case owns live VMs). The
 * first failing chunk is shrunk (within a budget) and ends the run; its
 * seed and counterexample path replay it (`replay`).
 */
import fc from 'fast-check';
import { commandsTarget } from './commands.js';
import { registersTarget } from './registers.js';
import { tablesTarget } from './tables.js';
import { FuzzFailure, type FuzzTarget, type FuzzTargetName } from './types.js';

/** Where a fuzz run is, for a progress bar. */
export interface FuzzProgress {
  /** The target being fuzzed. */
  target: FuzzTargetName;
  /** Cases run so far. */
  cases: number;
  /** Failures so far. */
  failures: number;
  /** Time since the run started. */
  elapsedMs: number;
  /** 0..1 of the run's budget (cases or time). */
  fraction: number;
}

/** Options of runFuzz. */
export interface FuzzRunOptions {
  /** Which fuzzer: 'commands' (ITS command streams on a live VM), 'tables' (RESTORE_TABLES images) or 'registers'. */
  target: FuzzTargetName;
  /** Default: random. */
  seed?: number;
  /** Time budget. Default 1 minute unless `runs` is given. */
  minutes?: number;
  /** Number of cases (instead of a time budget). */
  runs?: number;
  /** Re-run one counterexample: the seed and path a failure reported. */
  replay?: {
    /** The failure's seed. */
    seed: number;
    /** The failure's fast-check path. */
    path: string;
  };
  /** How long shrinking a failure may take. Default 60 s. */
  shrinkMs?: number;
  /** Self-test: each target breaks what it checks (see its header). */
  sabotage?: boolean;
  /** Called after each chunk of cases. Default none. */
  onProgress?: (p: FuzzProgress) => void;
}

/** One property that did not hold, with what replays it. */
export interface FuzzFailureReport {
  /** The chunk's fast-check seed and the counterexample's path: `seed:path` replays it. */
  seed: number;
  /** The counterexample's fast-check path. */
  path: string;
  /** Which property failed, and what was seen. */
  message: string;
  /** The (shrunk) case, as fast-check prints it. */
  counterexample: string;
}

/** What a fuzz run did and found. */
export interface FuzzReport {
  /** The target fuzzed. */
  target: FuzzTargetName;
  /** The run's seed (random unless given). */
  seed: number;
  /** Cases run (shrinking attempts included). */
  cases: number;
  /** Every failure, shrunk. Empty: every property held. */
  failures: FuzzFailureReport[];
  /** Wall-clock length of the run. */
  durationMs: number;
  /** What the cases reached (the target's counters). */
  stats: Record<string, number>;
}

const TARGETS: Record<FuzzTargetName, FuzzTarget<any>> = {
  commands: commandsTarget,
  tables: tablesTarget,
  registers: registersTarget,
};

export function fuzzTarget(name: FuzzTargetName): FuzzTarget<unknown> {
  const t = TARGETS[name];
  if (t === undefined) throw new RangeError(`unknown fuzz target '${name}' (targets: ${Object.keys(TARGETS).join(', ')})`);
  return t;
}

/** The seed of chunk `i` of a run seeded `seed`. */
const chunkSeed = (seed: number, i: number): number => (seed + Math.imul(i, 0x9e37_79b1)) | 0;
const MAX_CHUNK = 25;

function describeError(e: unknown): string {
  if (e instanceof FuzzFailure) return e.message;
  if (e instanceof Error) return `an exception escaped: ${e.name}: ${e.message}`;
  return `an exception escaped: ${String(e)}`;
}

/**
 * Fuzz one target for a time or case budget (fast-check, seeded): random and
 * malformed guest-controlled input, each case checked against the spec's
 * properties. Never throws for a failed property: see `failures`.
 */
export async function runFuzz(o: FuzzRunOptions): Promise<FuzzReport> {
  const target = fuzzTarget(o.target);
  if (o.runs !== undefined && (!Number.isInteger(o.runs) || o.runs < 1)) throw new RangeError(`options.runs must be a positive integer (got ${String(o.runs)})`);
  if (o.minutes !== undefined && !(o.minutes > 0)) throw new RangeError(`options.minutes must be a positive number (got ${String(o.minutes)})`);
  const seed = o.replay?.seed ?? o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const budgetMs = o.runs === undefined ? (o.minutes ?? 1) * 60_000 : Infinity;
  const shrinkMs = o.shrinkMs ?? 60_000;
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const session = target.open({ sabotage: o.sabotage === true });
  const arb = target.arbitrary({ sabotage: o.sabotage === true });
  const report: FuzzReport = { target: o.target, seed, cases: 0, failures: [], durationMs: 0, stats: session.stats };
  const progress = () => o.onProgress?.({
    target: o.target, cases: report.cases, failures: report.failures.length, elapsedMs: elapsed(),
    fraction: Math.min(1, o.replay !== undefined ? 0 : o.runs !== undefined ? report.cases / o.runs : elapsed() / budgetMs),
  });
  // Once a case failed, shrinking gets shrinkMs; after that every candidate passes at once, which ends it.
  // A replay runs the one case its path leads to (fast-check would go on through its shrink siblings).
  let shrinkUntil = Infinity;
  const property = fc.asyncProperty(arb, async (c) => {
    if (performance.now() > shrinkUntil) return;
    if (o.replay !== undefined) shrinkUntil = 0;
    report.cases++;
    try {
      await session.run(c);
    } catch (e) {
      if (shrinkUntil === Infinity) shrinkUntil = performance.now() + shrinkMs;
      throw e instanceof Error ? e : new Error(String(e));
    } finally {
      progress();
    }
  });
  const record = (d: fc.RunDetails<[unknown]>): boolean => {
    if (!d.failed) return false;
    report.failures.push({
      seed: d.seed, path: d.counterexamplePath ?? '', message: describeError(d.errorInstance),
      counterexample: d.counterexample === null ? '' : fc.stringify(d.counterexample[0]),
    });
    return true;
  };
  try {
    if (o.replay !== undefined) {
      record(await fc.check(property, { seed: o.replay.seed, path: o.replay.path, endOnFailure: true }));
    } else {
      let perCase = 0;
      for (let i = 0; ; i++) {
        const leftRuns = o.runs === undefined ? Infinity : o.runs - report.cases;
        const leftMs = budgetMs - elapsed();
        if (leftRuns <= 0 || leftMs <= 0) break;
        const byTime = perCase > 0 ? Math.max(1, Math.floor(leftMs / perCase)) : 1;
        const numRuns = Math.min(MAX_CHUNK, leftRuns, o.runs === undefined ? byTime : MAX_CHUNK);
        const before = report.cases, start = elapsed();
        if (record(await fc.check(property, { seed: chunkSeed(seed, i), numRuns }))) break;
        perCase = (elapsed() - start) / Math.max(1, report.cases - before);
      }
    }
  } finally {
    try {
      await session.close();
    } catch (e) {
      report.failures.push({ seed, path: '', message: `closing the session: ${describeError(e)}`, counterexample: '' });
    }
  }
  report.durationMs = elapsed();
  progress();
  return report;
}
