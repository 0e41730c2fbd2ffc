/**
 * Benchmarks of the user's own, measured as the built-in ones are: a figure
 * is a batch of `ops` calls timed as a whole on the main thread (ns per
 * operation), sampled in interleaved rounds with its baseline so both see
 * the same machine conditions, and reported with the ratio between them.
 * A baseline may be another user figure or a built-in one (`vgic-lab bench
 * --list`), which then runs in the user's group.
 */
import { allBenchmarks, select } from './registry.js';
import { runSuite, type Report } from './runner.js';
import type { Benchmark, BudgetName, Session, Target } from './types.js';

/** The group user figures are sampled in (together with the built-in baselines they name). */
export const USER_GROUP = 'user';
/** Batches timed per round (each one repetition of the figure). */
const BATCHES_PER_ROUND = 3;
const DEFAULT_OPS: Readonly<Record<BudgetName, number>> = { full: 2000, quick: 500, smoke: 20 };

/** A user benchmark: one operation, what it needs, and what to compare it with. */
export interface UserBenchmarkSpec<S = unknown> {
  /** Unique figure name, e.g. 'my.signal-msi' (must not be a built-in one's). */
  name: string;
  /** One line: what is measured. Default: the name. */
  title?: string;
  /** Operations per timed batch: a number, or one per budget. Default { full: 2000, quick: 500, smoke: 20 }. */
  ops?: number | Readonly<Record<BudgetName, number>>;
  /** Opens what `fn` needs (a VM, a buffer ...); not measured. */
  setup?: () => S | Promise<S>;
  /** One operation. A returned promise is awaited before the next call; a plain value is not. */
  fn: (state: S) => unknown;
  /** Releases what setup opened; called even when a batch failed. */
  teardown?: (state: S) => unknown;
  /** The figure this one is reported against (ratio column): another figure of the run, yours or built-in. */
  baseline?: string;
  /** Targets checked against the figure, e.g. [{ maxRatio: 2 }] (at most twice the baseline). Never fail the run. */
  targets?: readonly Target[];
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer (got ${String(v)})`);
  return v;
}

/** A Benchmark (the registry's model) from a spec; validated (TypeError/RangeError naming the field). */
export function defineBenchmark<S>(spec: UserBenchmarkSpec<S>, option = 'benchmark'): Benchmark {
  if (spec === null || typeof spec !== 'object') throw new TypeError(`${option} must be { name, fn, ... }`);
  if (typeof spec.name !== 'string' || spec.name === '') throw new TypeError(`${option}.name must be a non-empty string`);
  if (typeof spec.fn !== 'function') throw new TypeError(`${option}.fn must be a function (one operation)`);
  for (const k of ['setup', 'teardown'] as const) {
    if (spec[k] !== undefined && typeof spec[k] !== 'function') throw new TypeError(`${option}.${k} must be a function`);
  }
  if (spec.baseline !== undefined && typeof spec.baseline !== 'string') throw new TypeError(`${option}.baseline must be a figure name`);
  const ops = spec.ops ?? DEFAULT_OPS;
  const perBudget: Record<BudgetName, number> = typeof ops === 'number'
    ? { full: positiveInt(ops, `${option}.ops`), quick: ops, smoke: ops }
    : { full: positiveInt(ops?.full, `${option}.ops.full`), quick: positiveInt(ops?.quick, `${option}.ops.quick`), smoke: positiveInt(ops?.smoke, `${option}.ops.smoke`) };
  const { fn } = spec;
  return {
    name: spec.name,
    group: USER_GROUP,
    title: spec.title ?? spec.name,
    unit: 'ns/op',
    ...(spec.baseline !== undefined ? { baseline: spec.baseline } : {}),
    ...(spec.targets !== undefined ? { targets: spec.targets } : {}),
    async open(ctx): Promise<Session> {
      const n = ctx.pick(perBudget);
      const state = (await spec.setup?.()) as S;
      const batch = async (): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const r = fn(state);
          // Only promises are awaited: an await per call would dominate a synchronous operation.
          if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') await r;
        }
        return ((performance.now() - t0) * 1e6) / n;
      };
      try {
        await batch(); // warm-up: the JIT, caches, the first call's lazy work
      } catch (e) {
        await spec.teardown?.(state);
        throw e;
      }
      return {
        rep: `a batch of ${n.toLocaleString('en-US')} calls`,
        async sample() {
          const out: number[] = [];
          for (let b = 0; b < BATCHES_PER_ROUND; b++) out.push(await batch());
          return out;
        },
        close: async () => {
          await spec.teardown?.(state);
        },
      };
    },
  };
}

/** How runBenchmarks runs: the budget and where progress goes. */
export interface RunBenchmarksOptions {
  /** 'full' (11 rounds), 'quick' (5) or 'smoke' (2: proves it runs, figures mean little). Default 'quick'. */
  budget?: BudgetName;
  /** Progress lines, e.g. (line) => process.stderr.write(line + '\n'). Default: silent. */
  progress?: (line: string) => void;
}

/**
 * Run user benchmarks (specs or defineBenchmark results) with every built-in
 * figure they name as a baseline, interleaved, and return the report
 * (renderBenchReport prints it). Names are checked first: a duplicate or an
 * unknown baseline is a TypeError naming it.
 */
export async function runBenchmarks(benchmarks: readonly (UserBenchmarkSpec<any> | Benchmark)[], options: RunBenchmarksOptions = {}): Promise<Report> {
  if (!Array.isArray(benchmarks) || benchmarks.length === 0) throw new TypeError('benchmarks must be a non-empty array');
  const budget = options.budget ?? 'quick';
  if (!['full', 'quick', 'smoke'].includes(budget)) throw new TypeError(`options.budget must be 'full', 'quick' or 'smoke' (got ${String(budget)})`);
  const user = benchmarks.map((b, i) => (typeof (b as Benchmark).open === 'function' ? (b as Benchmark) : defineBenchmark(b as UserBenchmarkSpec, `benchmarks[${i}]`)));
  const builtIn = allBenchmarks();
  const names = new Set<string>();
  for (const [i, b] of user.entries()) {
    if (names.has(b.name) || builtIn.some((x) => x.name === b.name || x.group === b.name)) {
      throw new TypeError(`benchmarks[${i}].name: '${b.name}' is already a figure or group of this run`);
    }
    if (b.name.includes('*')) throw new TypeError(`benchmarks[${i}].name: '${b.name}' must not contain '*' (a selection glob)`);
    names.add(b.name);
  }
  for (const [i, b] of user.entries()) {
    if (b.baseline !== undefined && !names.has(b.baseline) && !builtIn.some((x) => x.name === b.baseline)) {
      throw new TypeError(`benchmarks[${i}].baseline: no figure '${b.baseline}' (yours: ${[...names].join(', ')}; built-in: vgic-lab bench --list)`);
    }
  }
  const { benchmarks: selected, pulledIn } = select(user.map((b) => b.name), [...builtIn, ...user]);
  // A built-in baseline is sampled in the user's group, interleaved with the figure it is the baseline of.
  const run = selected.map((b) => (pulledIn.has(b.name) ? { ...b, group: USER_GROUP } : b));
  return runSuite(run, { budget, pulledIn, ...(options.progress ? { progress: options.progress } : {}) });
}
