/**
 * Agents of the validator benchmarks (issue 5): `nestedPairs`, one of several
 * workers sharing one lock arena (and, when validated, one validator graph),
 * each taking its own ITS-like pair of real arena locks the way an ITS actor
 * runs a command: its.cmd_lock, then its.its_lock inside it (same classes in
 * every worker, instance = worker). On GO it does `pairs` lock/lock/unlock/
 * unlock rounds, stamps its first and last (performance.timeOrigin + now,
 * comparable across threads) and reports, like the lpi injectors: the main
 * thread times a repetition from the earliest start to the latest end.
 */
import { LockArena } from '../../sync/arena.js';
import { ITS_CMD_LOCK, ITS_ITS_LOCK } from '../../sync/classes.js';
import { ThreadContext } from '../../sync/thread.js';
import { Validator } from '../../sync/validator.js';
import { L_DONE, L_F64, L_GO, L_READY } from './lpi.js';
import { PARK_SLICE_MS } from './batch.js';

export interface NestedPairsData {
  arena: SharedArrayBuffer;
  /** The validator's buffer (Validator.create on the main thread), or null for the baseline. */
  validator: SharedArrayBuffer | null;
  /** Worker index: its slot in the control block (f64 L_F64 + 2 * slot: start, end). */
  slot: number;
  /** Arena indices of this worker's cmd_lock and its_lock. */
  cmdLock: number;
  itsLock: number;
  /** lock+lock+unlock+unlock rounds per repetition. */
  pairs: number;
  ctl: SharedArrayBuffer;
}

/** Allocate worker `slot`'s pair in `arena` (main thread, before the workers start). */
export function allocPair(arena: LockArena, slot: number): { cmdLock: number; itsLock: number } {
  return { cmdLock: arena.allocLock(ITS_CMD_LOCK, slot), itsLock: arena.allocLock(ITS_ITS_LOCK, slot) };
}

const stamp = (): number => performance.timeOrigin + performance.now();

export function nestedPairs(d: NestedPairsData): never {
  const arena = new LockArena(d.arena);
  const ctx = ThreadContext.register(arena, 'other', d.slot, `bench pairs ${d.slot}`);
  if (d.validator !== null) new Validator(d.validator, arena).observe(ctx);
  const cmd = ctx.mutex(d.cmdLock), its = ctx.mutex(d.itsLock);
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl);
  const pairs = d.pairs;
  Atomics.add(ctl, L_READY, 1);
  Atomics.notify(ctl, L_READY);
  let rep = 0;
  for (;;) {
    Atomics.wait(ctl, L_GO, rep, PARK_SLICE_MS);
    const go = Atomics.load(ctl, L_GO);
    if (go === rep) continue;
    rep = go;
    let acc = 0;
    const t0 = stamp();
    for (let i = 0; i < pairs; i++) {
      acc += cmd.lock();
      acc += its.lock();
      acc += its.unlock();
      acc += cmd.unlock();
    }
    const t1 = stamp();
    if (acc !== 0) throw new Error(`nestedPairs: a lock operation failed (${acc})`);
    f64[L_F64 + 2 * d.slot] = t0;
    f64[L_F64 + 2 * d.slot + 1] = t1;
    Atomics.add(ctl, L_DONE, 1);
    Atomics.notify(ctl, L_DONE);
  }
}
