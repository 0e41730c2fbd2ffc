/**
 * The benchmark model. A benchmark is one figure: { name, group, baseline?,
 * open(ctx) -> session }, and a session yields samples. The harness
 * (runner.ts) runs a selection together with the baselines and comparison
 * figures it refers to, so every ratio compares two figures of the same
 * process run. Within a group, every session is open at once and sampled
 * in interleaved rounds (A B C, B C A, ...): on a shared 2-core machine the
 * speed of a core-to-core hop changes from second to second (vCPU placement
 * on the host), and interleaving makes a figure and its baseline see the same
 * conditions. Sessions must be quiescent between samples (no spinning thread,
 * a VM paused).
 *
 * Two ways of measuring, used the same way everywhere:
 *   - throughput figures: a repetition is a batch of a fixed number of
 *     operations timed as a whole (wall time / count = per-op figure);
 *     single-thread micro figures get their batches from tinybench.
 *   - latency figures: a repetition is one operation timed on its own
 *     (e.g. one pause()), its baseline timed the same way.
 */

/** A run's size: 'full' (the published figures), 'quick' (well under 30 s for everything), 'smoke' (only proves each runs). */
export type BudgetName = 'full' | 'quick' | 'smoke';

/** How much time a run may spend. Benchmarks size themselves with ctx.pick(). */
export interface Budget {
  /** Its name. */
  readonly name: BudgetName;
  /** Interleaved rounds per group; a batch figure takes one repetition per round. */
  readonly rounds: number;
  /** Repetitions of a latency figure in all (each times one operation), spread over the rounds. */
  readonly latencySamples: number;
  /** tinybench time budget per micro figure (split over the rounds), ms. */
  readonly microTimeMs: number;
}

/** The three budgets. */
export const BUDGETS: Readonly<Record<BudgetName, Budget>> = {
  full: { name: 'full', rounds: 11, latencySamples: 220, microTimeMs: 800 },
  quick: { name: 'quick', rounds: 5, latencySamples: 40, microTimeMs: 200 },
  // Only proves that every benchmark runs end to end (tests); its figures mean nothing.
  smoke: { name: 'smoke', rounds: 2, latencySamples: 2, microTimeMs: 10 },
};

/** What a benchmark's open() gets: the run's budget, to size itself. */
export interface RunContext {
  /** The run's budget. */
  readonly budget: Budget;
  /** A value per budget, e.g. message counts: ctx.pick({ full: 50_000, quick: 20_000, smoke: 500 }). */
  pick<T>(v: Readonly<Record<BudgetName, T>>): T;
  /** Progress detail for the terminal (shown only when stderr is a TTY). */
  progress(detail: string): void;
}

/** An open benchmark: its threads, VMs, buffers, warmed up. */
export interface Session {
  /** What one repetition is, for the report (e.g. 'batch of 20,000 messages'). */
  readonly rep: string;
  /**
   * Take this round's repetitions: one value per repetition, in the
   * benchmark's unit. Leave everything quiescent on return.
   */
  sample(round: number): Promise<number[]>;
  /** Release everything: terminate workers, destroy VMs. Called even after a failure. */
  close(): Promise<void>;
}

/**
 * A target checked against a figure of the same run: the figure's median
 * divided by `against`'s median must be at most `maxRatio` (maxRatio < 1
 * reads as "at least 1/maxRatio times faster"), and/or the median must be at
 * most `maxMedian` (in the figure's unit).
 */
export interface Target {
  /** Figure to compare with; default: the benchmark's baseline. */
  against?: string;
  /** The largest median / against's median that meets the target. */
  maxRatio?: number;
  /** The largest median that meets the target, in the figure's unit. */
  maxMedian?: number;
  /** Where the target comes from (e.g. 'issue 2'). */
  source?: string;
}

/**
 * A benchmark: one figure, measured by opening a session and sampling it.
 * Write your own with this shape and run it with runSuite, beside a baseline.
 */
export interface Benchmark {
  /** Unique, dotted: '<group>.<figure>'. */
  readonly name: string;
  /** Benchmarks of a group are open at once and sampled in interleaved rounds. */
  readonly group: string;
  /** One line: what is measured (printed in the legend). */
  readonly title: string;
  /** Unit of the samples: 'ns/op', 'ns/msg', 'µs', ... */
  readonly unit: string;
  /** The figure this one is reported against (ratio column); it runs whenever this one does. */
  readonly baseline?: string;
  /** Further figures to print a ratio against (they run too), without a target. */
  readonly compare?: readonly string[];
  /** Targets checked against this run's figures (a miss is reported, never an error). */
  readonly targets?: readonly Target[];
  /** Set up and warm up (not measured). */
  open(ctx: RunContext): Promise<Session>;
}
