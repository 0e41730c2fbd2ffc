/**
 * What the lock-order validator costs (issue 5: at most 1.3x), each figure
 * with the validator on beside the same workload without it, in one group so
 * the pairs are sampled in interleaved rounds:
 *
 *  - lpi: the lpi-stress workload (runLpiStress's VM and guest, 1 vCPU /
 *    1 device / 1 event; sessions of suites/lpi.ts), createVm({ validator: true })
 *    or not. The translation-cache hit path takes no arena lock: this shows
 *    what observing every thread costs a workload that barely locks.
 *  - lpi-miss: the same with a 2-slot translation cache and 4 events, so 3 of
 *    4 MSIs take the slow path (a request to the ITS actor, which translates
 *    under its_lock on the injector's behalf: the validator's proxy path).
 *    No target: two identical VMs without the validator already differ by
 *    0.94x..1.32x here (an A/A run: each VM keeps its threads' placement on
 *    the 2 cores for its whole session, so the slow path's spin-or-park
 *    handoffs differ per VM), more than the observer's few ns per MSI.
 *  - pairs: the lock-heavy case, no VM: 2 worker threads on one arena (and
 *    one validator graph), each taking its own cmd_lock -> its_lock pair of
 *    real arena locks in a loop, like ITS actors running commands (uncontended:
 *    the observer's cost is not hidden behind futex waits). ns per pair
 *    (lock, lock, unlock, unlock), wall time over all workers.
 */
import { LockArena } from '../../sync/arena.js';
import { Validator } from '../../sync/validator.js';
import { L_DONE, L_F64, L_READY, L_GO, lpiControl } from '../agents/lpi.js';
import { allocPair, type NestedPairsData } from '../agents/validator.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule } from '../xthread.js';
import { openStress, type Shape, type StressFigure } from './lpi.js';

const MAX_RATIO = { maxRatio: 1.3, source: 'issue 5: validator on <= 1.3x off' };

function lpiPair(name: string, shape: Shape, lpis: StressFigure['lpis'], what: string, target = true): Benchmark[] {
  const fig = (on: boolean): StressFigure => ({
    name: `validator.${name}-${on ? 'on' : 'off'}`,
    shape: { ...shape, validator: on },
    lpis,
    title: `${what}, lock-order validator ${on ? 'on (createVm({ validator: true }))' : 'off'}`,
    baseline: `validator.${name}-off`,
  });
  const off = fig(false), on = fig(true);
  return [
    { name: off.name, group: 'validator', title: off.title, unit: 'ns/LPI', open: (ctx) => openStress(ctx, off) },
    {
      name: on.name, group: 'validator', title: on.title, unit: 'ns/LPI', baseline: off.name,
      ...(target ? { targets: [MAX_RATIO] } : {}), open: (ctx) => openStress(ctx, on),
    },
  ];
}

/** Worker threads of the pairs figures: one per core of the 2-core machines (more would measure time slicing). */
const WORKERS = 2;

async function openPairs(ctx: RunContext, validated: boolean): Promise<Session> {
  const pairs = ctx.pick({ full: 1_000_000, quick: 500_000, smoke: 1_000 });
  const arena = LockArena.create({ locks: 2 * WORKERS, threads: WORKERS + 1 }, 'off');
  const validator = validated ? Validator.create(arena) : null;
  const { buffer, i32, f64 } = lpiControl(2 * WORKERS);
  const agents = new Agents();
  try {
    for (let slot = 0; slot < WORKERS; slot++) {
      const data: NestedPairsData = { arena: arena.buffer, validator, slot, ...allocPair(arena, slot), pairs, ctl: buffer };
      agents.spawn(agentModule('validator'), 'nestedPairs', data);
    }
    await agents.waitWord(i32, L_READY, (v) => v >= WORKERS, 'the pair workers');
    let rep = 0;
    const burst = async (): Promise<number> => {
      rep++;
      Atomics.store(i32, L_GO, rep);
      Atomics.notify(i32, L_GO);
      await agents.waitWord(i32, L_DONE, (v) => v >= rep * WORKERS, `pairs burst ${rep}`);
      let t0 = Infinity, t1 = -Infinity;
      for (let w = 0; w < WORKERS; w++) {
        t0 = Math.min(t0, f64[L_F64 + 2 * w]!);
        t1 = Math.max(t1, f64[L_F64 + 2 * w + 1]!);
      }
      return ((t1 - t0) * 1e6) / (pairs * WORKERS);
    };
    await burst(); // warm-up
    if (validated && new Validator(validator!, arena).findings().length !== 0) throw new Error('validator: findings in a clean workload');
    return {
      rep: `burst of ${(pairs * WORKERS).toLocaleString('en-US')} pairs (${WORKERS} threads x ${pairs.toLocaleString('en-US')}), wall time / count`,
      sample: async () => [await burst()],
      close: () => agents.close(),
    };
  } catch (e) {
    await agents.close();
    throw e;
  }
}

const pairsOff: Benchmark = {
  name: 'validator.pairs-off',
  group: 'validator',
  title: `${WORKERS} threads, each its own its.cmd_lock -> its.its_lock pair of arena locks (lock, lock, unlock, unlock; the threads run in parallel: wall time / all pairs), lock_stat off, no validator`,
  unit: 'ns/pair',
  open: (ctx) => openPairs(ctx, false),
};

const pairsOn: Benchmark = {
  name: 'validator.pairs-on',
  group: 'validator',
  title: 'the same with the lock-order validator observing both threads (one shared graph, upstream hierarchy)',
  unit: 'ns/pair',
  baseline: pairsOff.name,
  targets: [MAX_RATIO],
  open: (ctx) => openPairs(ctx, true),
};

export const validatorBenchmarks: Benchmark[] = [
  ...lpiPair('lpi', { vcpus: 1, devices: 1, events: 1 }, { full: 200_000, quick: 60_000, smoke: 1_000 },
    'lpi-stress 1 vCPU / 1 device / 1 event: signalMsi per LPI (translation-cache hits)'),
  ...lpiPair('lpi-miss', { vcpus: 1, devices: 1, events: 4, cacheCapacity: 2 }, { full: 100_000, quick: 40_000, smoke: 400 },
    'lpi-stress 1/1/4 with gic.cacheCapacity 2: 3 of 4 MSIs take the slow path (ITS actor, its_lock)', false),
  pairsOff, pairsOn,
];
