/**
 * Controlled-scheduler decisions per second (issue 5): the cost of one
 * decision of src/sync/schedule.ts when real worker threads contend on a
 * real arena lock, for the 'random' and 'pct' strategies with 2 and 4
 * threads, in ns per decision (decisions per second = 1e9 / the figure).
 *
 * A session keeps its participant threads (agents/schedule.ts) and, per
 * repetition, re-initialises the schedule buffer in place (seed = repetition
 * number), begins it with the main thread as the VMM (blocked on the
 * participants' DONE count, so it never runs inside the measured region),
 * and lets the participants loop lock(a) / point / unlock(a). Every lock,
 * unlock and point is a scheduling point (plus a 'lock-wait' decision when
 * the lock is held), about 3 decisions per iteration per thread. The region
 * is timed by the participants themselves, from the first turn after a
 * controlled barrier (every thread arrived: no start-up inside) to the end
 * of the first loop to finish (every thread still competing).
 *
 * A decision that hands the turn to another thread costs at least one
 * one-way Atomics hop (Atomics.add + notify on that thread's GO word, which
 * it waits on with Atomics.wait); one that keeps the turn costs only the
 * bookkeeping (enabled set, strategy, trace hash, trace ring). The baseline
 * is that hop, hot: two threads passing a sequence number back and forth
 * with Atomics.store + notify / Atomics.wait, ns per one-way hop, in the
 * same group (sampled interleaved). 'random' switches threads on about half
 * of its decisions with 2 threads (four in five with 4); 'pct' keeps the
 * highest-priority thread running until it blocks or a change point demotes
 * it, so most of its decisions switch nothing and cost a fraction of a hop.
 * Measured (full budget, shared 2-core EPYC): hop ~4.3 µs; random-2 ~2.9 µs
 * (~350K decisions/s), pct-2 ~0.4 µs (~2.4M/s), random-4 ~7.3 µs (~140K/s),
 * pct-4 ~0.4 µs (~2.7M/s).
 */
import { LockArena } from '../../sync/arena.js';
import { KEY_OTHER, KEY_VMM, Schedule, ScheduleEnded, threadKey, type ScheduleStrategyName } from '../../sync/schedule.js';
import { controlBlock } from '../agents/batch.js';
import {
  HOP_BYTES, S_ARRIVED, S_D0, S_D1, S_DONE, S_F64_T0, S_F64_T1, S_FAILED, S_FINISHED, S_GO, S_READY, S_STARTED,
  SCHED_CONTROL_BYTES, type HopData, type ParticipantData,
} from '../agents/schedule.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, batchSession } from '../xthread.js';

/** Slots of the schedule buffer: the participants and the VMM. */
const MAX_THREADS = 8;
/** Far above any repetition, so the run never ends as 'budget'. */
const STEP_BUDGET = 1 << 30;

function warmups(ctx: RunContext): number {
  return ctx.pick({ full: 3, quick: 2, smoke: 1 });
}

const hop: Benchmark = {
  name: 'schedule.atomics-hop',
  group: 'schedule',
  title: 'one-way Atomics hop, hot: worker A Atomics.store + notify, worker B parked in Atomics.wait returns and echoes (round trips / 2)',
  unit: 'ns',
  async open(ctx) {
    const agents = new Agents();
    try {
      const { buffer, i32, f64 } = controlBlock();
      const count = ctx.pick({ full: 20_000, quick: 10_000, smoke: 200 });
      const data: HopData = { ctl: buffer, words: new SharedArrayBuffer(HOP_BYTES), count };
      agents.spawn(agentModule('schedule'), 'hopPonger', data);
      agents.spawn(agentModule('schedule'), 'hopPinger', data);
      const s = await batchSession(agents, ctx, i32, f64, { agents: 2, count, warmup: warmups(ctx) });
      return {
        rep: `batch of ${count.toLocaleString('en-US')} round trips, wall time / (2 x count)`,
        sample: async (round) => (await s.sample(round)).map((v) => v / 2),
        close: () => s.close(),
      };
    } catch (e) {
      await agents.close();
      throw e;
    }
  },
};

/** A session of `threads` participants under `strategy`; a repetition is one fresh schedule. */
async function openDecisions(ctx: RunContext, strategy: ScheduleStrategyName, threads: number): Promise<Session> {
  // About the same number of decisions per repetition at any thread count; 'pct' decisions are cheap
  // (most keep the turn), so it gets more of them for a region of comparable length.
  const iterations = Math.round(ctx.pick({ full: 6_000, quick: 3_000, smoke: 50 }) * (2 / threads) * (strategy === 'pct' ? 4 : 1));
  const agents = new Agents();
  const arena = LockArena.create({ locks: 4, threads: MAX_THREADS }, 'off');
  const lock = arena.allocLock('bench.sched');
  const ctlBuf = new SharedArrayBuffer(SCHED_CONTROL_BYTES);
  const ctl = new Int32Array(ctlBuf), f64 = new Float64Array(ctlBuf);
  const sched = Schedule.create({ strategy, seed: 1, stepBudget: STEP_BUDGET }, MAX_THREADS);
  const state = new Int32Array(sched);
  let vmm: Schedule | null = null;
  const close = async () => {
    // A VMM still waiting for its turn (an agent died) must hear the schedule end, or its keep-alive timer stays.
    if (vmm !== null && vmm.active) vmm.end('stall');
    await agents.close();
  };
  try {
    for (let i = 0; i < threads; i++) {
      const data: ParticipantData = { arena: arena.buffer, sched, ctl: ctlBuf, lock, index: i, threads, iterations };
      agents.spawn(agentModule('schedule'), 'participant', data);
    }
    await agents.waitWord(ctl, S_READY, (v) => v >= threads, 'the participants');
    let rep = 0;
    const once = async (): Promise<number> => {
      rep++;
      // Every participant is parked on S_GO: the buffer and the per-repetition words are ours.
      state.set(new Int32Array(Schedule.create({ strategy, seed: rep, stepBudget: STEP_BUDGET }, MAX_THREADS)));
      for (const w of [S_ARRIVED, S_STARTED, S_FINISHED, S_D0, S_D1]) Atomics.store(ctl, w, 0);
      const failedBefore = Atomics.load(ctl, S_FAILED);
      const v = new Schedule(sched, [arena.buffer, ctlBuf], threadKey(KEY_VMM, 0));
      vmm = v;
      for (let i = 0; i < threads; i++) v.expect(threadKey(KEY_OTHER, i));
      await v.begin(() => {});
      Atomics.store(ctl, S_GO, rep);
      Atomics.notify(ctl, S_GO);
      const target = rep * threads;
      try {
        await agents.guard((async () => {
          for (let d = Atomics.load(ctl, S_DONE); d < target; d = Atomics.load(ctl, S_DONE)) {
            if ((await v.blockAsync(ctl, S_DONE, d, 'yield')) === 'free') break;
          }
        })(), `schedule ${rep} (${strategy}, ${threads} threads)`);
      } catch (e) {
        if (e instanceof ScheduleEnded) throw new Error(`schedule ${rep} ended as '${e.end}': ${JSON.stringify(v.summary().threads)}`);
        throw e;
      }
      const end = v.ended;
      v.end();
      if (end !== 'running') throw new Error(`schedule ${rep} ended as '${end}'`);
      const failed = Atomics.load(ctl, S_FAILED) - failedBefore;
      if (failed !== 0) throw new Error(`schedule ${rep}: ${failed} lock()/unlock() calls failed`);
      const decisions = Atomics.load(ctl, S_D1) - Atomics.load(ctl, S_D0);
      if (decisions <= 0) throw new Error(`schedule ${rep}: no decision in the measured region`);
      return ((f64[S_F64_T1]! - f64[S_F64_T0]!) * 1e6) / decisions;
    };
    for (let i = 0; i < warmups(ctx); i++) {
      ctx.progress(`warm-up ${i + 1}/${warmups(ctx)}`);
      await once();
    }
    return {
      rep: `one schedule: ${threads} threads x ${iterations.toLocaleString('en-US')} x lock / point / unlock, ns per decision between the barrier and the first thread done`,
      sample: async () => [await once()],
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

function decisionBench(strategy: ScheduleStrategyName, threads: number): Benchmark {
  return {
    name: `schedule.decision-${strategy}-${threads}`,
    group: 'schedule',
    title: `controlled schedule '${strategy}', ${threads} worker threads looping lock / point / unlock on one arena lock: wall time per decision (1e9 / this = decisions/s)`,
    unit: 'ns',
    baseline: hop.name,
    open: (ctx) => openDecisions(ctx, strategy, threads),
  };
}

export const scheduleBenchmarks: Benchmark[] = [
  hop,
  decisionBench('random', 2), decisionBench('pct', 2),
  decisionBench('random', 4), decisionBench('pct', 4),
];
