/**
 * Measuring one point of a curve: open every probe of the point (the figure
 * and the baselines it is drawn beside) at once, sample them in interleaved
 * rounds, rotating who goes first (as the bench runner does for a group), and
 * close them. Probes are the bench suites' own sessions (src/bench/suites),
 * opened with a curve budget: a Budget (its name sizes the sessions through
 * ctx.pick) plus the points each curve visits.
 */
import type { Budget, BudgetName, RunContext, Session } from '../types.js';

export interface CurveBudget extends Budget {
  /** vCPU counts of the curves over vCPUs. */
  readonly vcpus: readonly number[];
  /** ITS counts of the lpi-its curve, and its fixed vCPU (= device) count. */
  readonly its: readonly number[];
  readonly itsVcpus: number;
  /** Table sizes (ITEs) of the save-restore curve. */
  readonly ites: readonly number[];
  /** LPIs per lpi-stress repetition, all injectors together. */
  readonly lpisPerRep: number;
  /** Events per device of the lpi-stress curves. */
  readonly events: number;
}

const GEOMETRIC = (from: number, to: number, factor: number): number[] => {
  const out: number[] = [];
  for (let v = from; v <= to; v *= factor) out.push(v);
  return out;
};

export const CURVE_BUDGETS: Readonly<Record<BudgetName, CurveBudget>> = {
  full: {
    name: 'full', rounds: 11, latencySamples: 220, microTimeMs: 0,
    vcpus: [1, 2, 4, 8, 16], its: [1, 2, 3, 4], itsVcpus: 4, ites: GEOMETRIC(1024, 1 << 20, 4),
    lpisPerRep: 128_000, events: 16,
  },
  quick: {
    name: 'quick', rounds: 9, latencySamples: 120, microTimeMs: 0,
    vcpus: [1, 2, 4, 8], its: [1, 2, 3, 4], itsVcpus: 4, ites: GEOMETRIC(1024, 1 << 16, 4),
    lpisPerRep: 64_000, events: 16,
  },
  // Proves the command runs end to end (tests): its figures mean nothing.
  smoke: {
    name: 'smoke', rounds: 1, latencySamples: 2, microTimeMs: 0,
    vcpus: [1, 2], its: [1, 2], itsVcpus: 2, ites: [1024, 4096],
    lpisPerRep: 1_024, events: 4,
  },
};

export interface ProbeResult {
  values: number[];
  rep: string | null;
  error: string | null;
}

export interface PointProbe {
  id: string;
  open(ctx: RunContext): Promise<Session>;
}

/** Measure the probes of one point side by side; a probe that throws is closed and reported, the others go on. */
export async function measurePoint(probes: readonly PointProbe[], budget: CurveBudget, progress?: (detail: string) => void): Promise<Map<string, ProbeResult>> {
  const results = new Map<string, ProbeResult>(probes.map((p) => [p.id, { values: [], rep: null, error: null }]));
  const open = new Map<string, Session>();
  const fail = async (id: string, e: unknown): Promise<void> => {
    results.get(id)!.error ??= String((e as Error)?.stack ?? e);
    const s = open.get(id);
    open.delete(id);
    if (s !== undefined) await s.close().catch(() => {});
  };
  const ctxFor = (id: string): RunContext => ({
    budget,
    pick: (v) => v[budget.name],
    progress: (detail) => progress?.(`${id}: ${detail}`),
  });
  try {
    for (const p of probes) {
      progress?.(`opening ${p.id}`);
      try {
        const s = await p.open(ctxFor(p.id));
        open.set(p.id, s);
        results.get(p.id)!.rep = s.rep;
      } catch (e) {
        await fail(p.id, e);
      }
    }
    for (let round = 0; round < budget.rounds; round++) {
      for (let i = 0; i < probes.length; i++) {
        const p = probes[(i + round) % probes.length]!;
        const s = open.get(p.id);
        if (s === undefined) continue;
        progress?.(`round ${round + 1}/${budget.rounds}: ${p.id}`);
        try {
          results.get(p.id)!.values.push(...await s.sample(round));
        } catch (e) {
          await fail(p.id, e);
        }
      }
    }
  } finally {
    for (const [id, s] of open) {
      try {
        await s.close();
      } catch (e) {
        results.get(id)!.error ??= `close: ${String((e as Error)?.stack ?? e)}`;
      }
    }
  }
  for (const r of results.values()) {
    if (r.error === null && (r.values.length === 0 || r.values.some((v) => !Number.isFinite(v)))) {
      r.error = `no samples, or a non-finite one (${r.values.length} samples)`;
    }
  }
  return results;
}
