/**
 * Agents of the schedule benchmarks (issue 5): threads taking part in a
 * controlled schedule, and the Atomics hop they are compared with.
 *
 * participant: registers a thread on the session's LockArena, attaches a
 * Schedule handle to it, then serves repetitions. For each, the main thread
 * re-initialises the schedule buffer, pre-registers every participant,
 * begins the schedule (it takes part as the VMM, blocked on S_DONE) and
 * bumps S_GO. A participant then enters, waits to be chosen, and meets the
 * others at a controlled barrier (S_ARRIVED), so worker start-up and the
 * first wake-ups stay outside the measured region. The first thread to hold
 * the turn after the barrier stamps the start (time and s.decisions()); then
 * every participant loops lock(a) / point('yield') / unlock(a), each a
 * scheduling point; the first to finish its loop stamps the end, so the
 * region is the steady state with every participant competing. Only one
 * thread runs at a time, so the stamps read a consistent decision count.
 * Stamps are performance.timeOrigin + now (comparable across threads).
 *
 * hopPinger / hopPonger: the baseline, a hot Atomics ping-pong on the batch
 * protocol of batch.ts: the pinger stores a sequence number and notifies,
 * then parks in Atomics.wait until the ponger, parked on the same kind of
 * wait, echoes it. Each round trip is two one-way hops, the physical core of
 * a decision that hands the turn to another thread (Atomics.add + notify on
 * its GO word, Atomics.wait on our own).
 */
import { LockArena } from '../../sync/arena.js';
import { KEY_OTHER, Schedule, threadKey } from '../../sync/schedule.js';
import { ThreadContext } from '../../sync/thread.js';
import { BatchCounter, PARK_SLICE_MS, producerLoop, ready } from './batch.js';

// ---- control block of the participants (Int32 words, the stamps as Float64) -------------------------

/** GO: repetition number; READY: participants set up; DONE: loops finished (cumulative, the VMM blocks on it). */
export const S_GO = 0, S_READY = 16, S_DONE = 32;
/** Per repetition (reset by the main thread): barrier count, start stamped, loops finished, decision counts. */
export const S_ARRIVED = 48, S_STARTED = 49, S_FINISHED = 50, S_D0 = 51, S_D1 = 52, S_FAILED = 53;
/** Float64 indices of the start and end stamps (bytes 256, 264). */
export const S_F64_T0 = 32, S_F64_T1 = 33;
export const SCHED_CONTROL_BYTES = 512;

export interface ParticipantData {
  arena: SharedArrayBuffer;
  sched: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  /** Lock index in the arena. */
  lock: number;
  index: number;
  threads: number;
  iterations: number;
}

const stamp = (): number => performance.timeOrigin + performance.now();

export function participant(d: ParticipantData): never {
  const arena = new LockArena(d.arena);
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl);
  const t = new ThreadContext(arena, arena.registerThread('other', d.index, `schedule bench ${d.index}`));
  // The buffer list must be the same, in the same order, in every thread (the main thread's VMM handle too).
  const s = new Schedule(d.sched, [d.arena, d.ctl], threadKey(KEY_OTHER, d.index));
  t.sched = s;
  const m = t.mutex(d.lock);
  const { index, threads, iterations } = d;
  Atomics.add(ctl, S_READY, 1);
  Atomics.notify(ctl, S_READY);
  let rep = 0;
  for (;;) {
    for (;;) {
      Atomics.wait(ctl, S_GO, rep, PARK_SLICE_MS);
      const go = Atomics.load(ctl, S_GO);
      if (go !== rep) { rep = go; break; }
    }
    s.enter();
    s.point('begin', index); // pre-registered: no decision, just wait to be chosen
    let v = Atomics.add(ctl, S_ARRIVED, 1) + 1;
    while (v < threads && s.active) {
      s.block(ctl, S_ARRIVED, v, 'yield', index);
      v = Atomics.load(ctl, S_ARRIVED);
    }
    if (Atomics.load(ctl, S_STARTED) === 0) {
      Atomics.store(ctl, S_STARTED, 1);
      f64[S_F64_T0] = stamp();
      Atomics.store(ctl, S_D0, s.decisions());
    }
    let failed = 0;
    for (let i = 0; i < iterations; i++) {
      if (m.lock() !== 0) failed++;
      s.point('yield', index);
      if (m.unlock() !== 0) failed++;
    }
    if (Atomics.add(ctl, S_FINISHED, 1) === 0) {
      f64[S_F64_T1] = stamp();
      Atomics.store(ctl, S_D1, s.decisions());
    }
    if (failed !== 0) Atomics.add(ctl, S_FAILED, failed);
    Atomics.add(ctl, S_DONE, 1);
    Atomics.notify(ctl, S_DONE);
    s.leave();
  }
}

// ---- the baseline: a hot one-way Atomics hop -----------------------------------------------------------

/** Words of the ping-pong (a SharedArrayBuffer of HOP_BYTES): the pinger's request, the ponger's echo. */
export const HOP_REQ = 0, HOP_ACK = 16;
export const HOP_BYTES = 128;

export interface HopData {
  ctl: SharedArrayBuffer;
  words: SharedArrayBuffer;
  /** Round trips per repetition. */
  count: number;
}

export function hopPinger(d: HopData): never {
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl), w = new Int32Array(d.words);
  let seq = Atomics.load(w, HOP_ACK);
  ready(ctl);
  return producerLoop(ctl, f64, d.count, () => {
    const prev = seq++;
    Atomics.store(w, HOP_REQ, seq);
    Atomics.notify(w, HOP_REQ);
    while (Atomics.load(w, HOP_ACK) === prev) Atomics.wait(w, HOP_ACK, prev, PARK_SLICE_MS);
  });
}

export function hopPonger(d: HopData): never {
  const ctl = new Int32Array(d.ctl), w = new Int32Array(d.words);
  const counter = new BatchCounter(ctl, d.count);
  let seen = Atomics.load(w, HOP_REQ);
  ready(ctl);
  for (;;) {
    Atomics.wait(w, HOP_REQ, seen, PARK_SLICE_MS);
    const v = Atomics.load(w, HOP_REQ);
    if (v === seen) continue;
    seen = v;
    Atomics.store(w, HOP_ACK, v);
    Atomics.notify(w, HOP_ACK);
    counter.hit(v);
  }
}
