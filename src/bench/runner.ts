/**
 * Runs a selection of benchmarks in this process, group by group (every
 * session of a group open at once, sampled in interleaved rounds), and
 * turns their samples into figures: order statistics, the ratio to the
 * baseline and to each compared figure (all from this run), and target
 * verdicts. A benchmark that throws is reported as failed; the rest still run.
 */
import * as os from 'node:os';
import { references } from './registry.js';
import { summarize, type Summary } from './stats.js';
import { BUDGETS, type Benchmark, type Budget, type BudgetName, type RunContext, type Session, type Target } from './types.js';

/** The machine a report was measured on. */
export interface MachineInfo {
  /** process.version. */
  node: string;
  /** V8's version. */
  v8: string;
  /** OS type and release. */
  os: string;
  /** process.platform. */
  platform: string;
  /** process.arch. */
  arch: string;
  /** Logical CPUs. */
  cpus: number;
  /** The first CPU's model name. */
  cpuModel: string;
  /** os.availableParallelism(). */
  availableParallelism: number;
  /** Total memory. */
  totalMemoryMiB: number;
  /** 1-minute load average when the run started and ended (noise indicator). */
  loadavg: {
    /** At the start. */
    start: number;
    /** At the end. */
    end: number;
  };
}

/** A figure's ratio to another figure of the same run. */
export interface Comparison {
  /** The other figure's name. */
  against: string;
  /** median / against's median; null if either failed. */
  ratio: number | null;
}

/** A target's verdict. */
export interface TargetResult {
  /** The figure a ratio target compares with (null for a median-only target). */
  against: string | null;
  /** The target's maxRatio, or null. */
  maxRatio: number | null;
  /** The target's maxMedian, or null. */
  maxMedian: number | null;
  /** The measured ratio, or null (no ratio target, or a figure failed). */
  ratio: number | null;
  /** Met, missed, or null when it could not be judged (a figure failed). */
  met: boolean | null;
  /** The target in words, e.g. '>= 5x faster than lock.async-mutex'. */
  text: string;
  /** Where the target comes from, or null. */
  source: string | null;
}

/** One benchmark's result in a report. */
export interface Figure {
  /** The benchmark. */
  bench: Benchmark;
  /** Not selected, run because a selected figure compares with it. */
  pulledIn: boolean;
  /** Order statistics of its repetitions, or null if it failed. */
  summary: Summary | null;
  /** Median of each round's repetitions, in round order (pairs a figure with its baseline round by round); empty if it failed. */
  roundMedians: number[];
  /** What one repetition is (the session's `rep`), or null if it never opened. */
  rep: string | null;
  /** Why it failed (a stack), or null. */
  error: string | null;
  /** Time spent opening and sampling it. */
  durationMs: number;
  /** Its baseline's name, or null. */
  baseline: string | null;
  /** median / baseline's median, or null. */
  ratio: number | null;
  /** Ratios to the other figures it refers to. */
  comparisons: Comparison[];
  /** Its targets' verdicts. */
  targets: TargetResult[];
}

/** What runSuite returns. */
export interface Report {
  /** The budget it ran with. */
  budget: BudgetName;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** How long it took. */
  durationMs: number;
  /** The machine. */
  machine: MachineInfo;
  /** One per benchmark run, in the order given. */
  figures: Figure[];
}

/** Options of runSuite. */
export interface SuiteOptions {
  /** 'full', 'quick' or 'smoke'. */
  budget: BudgetName;
  /** Progress lines (benchmark index, name, detail); omit for silence. */
  progress?: (line: string) => void;
  /** Names run only because a selected figure refers to them (select().pulledIn); marked in the report. Default none. */
  pulledIn?: ReadonlySet<string>;
}

function checkSuite(benchmarks: readonly Benchmark[], opts: SuiteOptions): void {
  if (!Array.isArray(benchmarks)) throw new TypeError('benchmarks must be an array of Benchmark');
  const names = new Set<string>();
  benchmarks.forEach((b, i) => {
    if (b === null || typeof b !== 'object') throw new TypeError(`benchmarks[${i}] must be a Benchmark`);
    for (const f of ['name', 'group', 'title', 'unit'] as const) {
      if (typeof b[f] !== 'string' || b[f].length === 0) throw new TypeError(`benchmarks[${i}].${f} must be a non-empty string`);
    }
    if (typeof b.open !== 'function') throw new TypeError(`benchmarks[${i}].open must be a function`);
    if (names.has(b.name)) throw new TypeError(`benchmarks[${i}].name: '${b.name}' appears twice`);
    names.add(b.name);
  });
  // A ratio needs both figures in the same run.
  benchmarks.forEach((b, i) => {
    for (const ref of references(b)) if (!names.has(ref)) throw new TypeError(`benchmarks[${i}] (${b.name}) refers to '${ref}', which is not in the list`);
  });
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  if (!Object.hasOwn(BUDGETS, opts.budget)) throw new RangeError(`options.budget must be ${Object.keys(BUDGETS).join(', ')} (got ${String(opts.budget)})`);
  if (opts.progress !== undefined && typeof opts.progress !== 'function') throw new TypeError('options.progress must be a function');
  if (opts.pulledIn !== undefined && !(opts.pulledIn instanceof Set)) throw new TypeError('options.pulledIn must be a Set of names');
}

interface Raw { values: number[]; rounds: number[]; rep: string | null; error: string | null; durationMs: number }

/**
 * Run `benchmarks` in this process, group by group (every session of a group
 * open at once, sampled in interleaved rounds), and report each figure with
 * its order statistics, its ratio to its baseline and its targets' verdicts.
 * A benchmark that throws is reported as failed; the others still run.
 * Every baseline or comparison a benchmark names must be in the list
 * (`select()` adds them).
 */
export async function runSuite(benchmarks: readonly Benchmark[], opts: SuiteOptions): Promise<Report> {
  checkSuite(benchmarks, opts);
  const budget = BUDGETS[opts.budget];
  const startedAt = new Date();
  const t0 = performance.now();
  const load0 = os.loadavg()[0]!;
  const raw = new Map<string, Raw>(benchmarks.map((b) => [b.name, { values: [], rounds: [], rep: null, error: null, durationMs: 0 }]));
  const groups = [...new Set(benchmarks.map((b) => b.group))];
  for (const group of groups) {
    await runGroup(benchmarks.filter((b) => b.group === group), budget, raw, opts.progress);
  }
  const summaries = new Map<string, Summary | null>();
  for (const [name, r] of raw) {
    if (r.error === null && (r.values.length === 0 || r.values.some((v) => !Number.isFinite(v)))) {
      r.error = `no samples, or a non-finite one (${r.values.length} samples)`;
    }
    summaries.set(name, r.error === null ? summarize(r.values) : null);
  }
  const median = (name: string | undefined): number | null => (name === undefined ? null : summaries.get(name)?.median ?? null);
  const ratioOf = (b: Benchmark, against: string | undefined): number | null => {
    const a = median(b.name), base = median(against);
    return a === null || base === null || base === 0 ? null : a / base;
  };
  const figures: Figure[] = benchmarks.map((b) => {
    const r = raw.get(b.name)!;
    const summary = summaries.get(b.name) ?? null;
    return {
      bench: b,
      pulledIn: opts.pulledIn?.has(b.name) ?? false,
      summary,
      roundMedians: summary === null ? [] : r.rounds,
      rep: r.rep,
      error: r.error,
      durationMs: r.durationMs,
      baseline: b.baseline ?? null,
      ratio: ratioOf(b, b.baseline),
      comparisons: references(b).filter((n) => n !== b.baseline).map((n) => ({ against: n, ratio: ratioOf(b, n) })),
      targets: (b.targets ?? []).map((t) => checkTarget(b, t, summary?.median ?? null, ratioOf(b, t.against ?? b.baseline))),
    };
  });
  return {
    budget: budget.name,
    startedAt: startedAt.toISOString(),
    durationMs: performance.now() - t0,
    machine: machineInfo(load0),
    figures,
  };
}

/**
 * Open every benchmark of a group, then sample them in interleaved rounds,
 * rotating who goes first, so a figure and its baseline share the machine's
 * conditions; close them all. A failing benchmark is closed and reported; the
 * others go on.
 */
async function runGroup(group: readonly Benchmark[], budget: Budget, raw: Map<string, Raw>, progress?: (line: string) => void): Promise<void> {
  const open = new Map<string, Session>();
  const fail = async (b: Benchmark, e: unknown): Promise<void> => {
    raw.get(b.name)!.error = String((e as Error)?.stack ?? e);
    const s = open.get(b.name);
    open.delete(b.name);
    if (s !== undefined) await s.close().catch(() => {});
  };
  const timed = async <T>(b: Benchmark, f: () => Promise<T>): Promise<T> => {
    const s0 = performance.now();
    try {
      return await f();
    } finally {
      raw.get(b.name)!.durationMs += performance.now() - s0;
    }
  };
  const ctxFor = (b: Benchmark, stage: () => string): RunContext => ({
    budget,
    pick: (v) => v[budget.name],
    progress: (detail) => progress?.(`${b.group} ${stage()} ${b.name}: ${detail}`),
  });
  try {
    for (const b of group) {
      progress?.(`${b.group}: opening ${b.name}`);
      try {
        open.set(b.name, await timed(b, () => b.open(ctxFor(b, () => 'opening'))));
        raw.get(b.name)!.rep = open.get(b.name)!.rep;
      } catch (e) {
        await fail(b, e);
      }
    }
    for (let round = 0; round < budget.rounds; round++) {
      const order = group.map((_, i) => group[(i + round) % group.length]!);
      for (const b of order) {
        const s = open.get(b.name);
        if (s === undefined) continue;
        progress?.(`${b.group} round ${round + 1}/${budget.rounds}: ${b.name}`);
        try {
          const values = await timed(b, () => s.sample(round));
          const r = raw.get(b.name)!;
          r.values.push(...values);
          if (values.length > 0) r.rounds.push(summarize(values).median);
        } catch (e) {
          await fail(b, e);
        }
      }
    }
  } finally {
    for (const [name, s] of open) {
      try {
        await s.close();
      } catch (e) {
        raw.get(name)!.error ??= `close: ${String((e as Error)?.stack ?? e)}`;
      }
    }
  }
}

function checkTarget(b: Benchmark, t: Target, median: number | null, ratio: number | null): TargetResult {
  const against = t.against ?? b.baseline ?? null;
  const parts: string[] = [];
  let met: boolean | null = true;
  if (t.maxRatio !== undefined) {
    parts.push(t.maxRatio >= 1 ? `<= ${fmtRatio(t.maxRatio)} ${against}` : `>= ${fmtRatio(1 / t.maxRatio)} faster than ${against}`);
    met = ratio === null ? null : met && ratio <= t.maxRatio;
  }
  if (t.maxMedian !== undefined) {
    parts.push(`median <= ${t.maxMedian} ${b.unit}`);
    met = median === null || met === null ? null : met && median <= t.maxMedian;
  }
  return {
    against: t.maxRatio !== undefined ? against : null,
    maxRatio: t.maxRatio ?? null,
    maxMedian: t.maxMedian ?? null,
    ratio: t.maxRatio !== undefined ? ratio : null,
    met,
    text: parts.join(', '),
    source: t.source ?? null,
  };
}

export function fmtRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2).replace(/\.?0+$/, '') : r.toPrecision(2)}x`;
}

function machineInfo(load0: number): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    loadavg: { start: load0, end: os.loadavg()[0]! },
  };
}
