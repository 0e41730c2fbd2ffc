/**
 * The controlled scheduler: one thread of a VM runs at a time, and at every
 * scheduling point (lock acquire/release, mailbox send/receive, MMIO exit,
 * WFI, signalMsi, ...) a seeded strategy picks who runs next. The same seed
 * gives the same interleaving, so a failure found once is a failure that can
 * be replayed.
 *
 * There is no scheduler thread: the thread that holds the turn reaches a
 * point, records its own state, and runs the decision itself (the state lives
 * in one SharedArrayBuffer, so every thread computes the same thing), then
 * hands the turn over through the chosen thread's GO word and waits on its
 * own. A thread that must wait (a held lock, an empty mailbox, a reply) does
 * not sleep on the word: it publishes "blocked until word w of buffer b is no
 * longer v" and the decider enables it once that holds. No thread enabled and
 * none waiting with a deadline is a deadlock; with deadlines, virtual time
 * jumps to the earliest (timeouts are virtual in this mode).
 *
 * Threads are ordered by a stable key (kind, index), never by tid or arrival,
 * because tids depend on start-up timing. A thread spawned under control is
 * pre-registered STARTING by its spawner, so choosing it before it arrives
 * waits for its arrival instead of depending on when it got there.
 *
 * Strategies: 'random' (uniform over enabled threads) and 'pct' (Burckhardt
 * et al., ASPLOS 2010: random distinct priorities, d - 1 change points at
 * random steps that demote the running thread; a bug of depth d is found with
 * probability >= 1/(n k^(d-1))).
 */
import { alignedSharedBuffer } from './shared-buffer.js';

/** 'random': a uniformly random enabled thread at every point; 'pct': probabilistic concurrency testing (priorities, d - 1 change points). */
export type ScheduleStrategyName = 'random' | 'pct';

/** A controlled schedule (`createVm({ schedule })`): one thread runs at a time, chosen by a seeded strategy. */
export interface ScheduleConfig {
  /** 'random' or 'pct'. */
  strategy: ScheduleStrategyName;
  /** The seed, 0..2^32-1: same seed, same interleaving. */
  seed: number;
  /** PCT depth d, 1..9. Default 3. */
  pctDepth?: number;
  /** Decisions before the run ends as 'budget', >= 1. Default 200000. */
  stepBudget?: number;
  /** Steps over which PCT spreads its change points, >= 1. Default min(stepBudget, 5000). */
  pctHorizon?: number;
}

/** Scheduling points: what the running thread was doing when it yielded. */
export const POINTS = [
  'begin', 'lock', 'trylock', 'unlock', 'lock-wait', 'send', 'send-full', 'recv', 'park', 'reply',
  'mmio-exit', 'wfi', 'wfe', 'relax', 'signal-msi', 'spin', 'pause-wait', 'vcpu-wait', 'yield', 'exit',
] as const;
export type PointName = (typeof POINTS)[number];
const POINT_ID = new Map<string, number>(POINTS.map((p, i) => [p, i]));
export function pointId(p: PointName): number {
  return POINT_ID.get(p)!;
}

/** How a schedule ended: still 'running', 'done' (destroyed), 'deadlock' (no thread enabled), 'budget' (step budget used) or 'stall'. */
export type ScheduleEnd = 'running' | 'done' | 'deadlock' | 'budget' | 'stall';
const END_NAMES: ScheduleEnd[] = ['running', 'done', 'deadlock', 'budget', 'stall'];
const END_DONE = 1, END_DEADLOCK = 2, END_BUDGET = 3, END_STALL = 4;

/** Stable thread keys: kind in the high bits, index in the low 16. */
export const KEY_VMM = 0, KEY_VCPU = 1, KEY_ACTOR_HOST = 2, KEY_INJECTOR = 3, KEY_OTHER = 4;
const KIND_NAMES = ['VMM', 'vCPU', 'actor host', 'injector', 'thread'];
export function threadKey(kind: number, index: number): number {
  return (kind << 16) | (index & 0xffff);
}
export function keyName(key: number): string {
  const kind = key >>> 16, index = key & 0xffff;
  return kind === KEY_VMM ? 'VMM' : `${KIND_NAMES[kind] ?? 'thread'} ${index}`;
}

// ---- shared layout (Int32 words) -------------------------------------------
const H_ACTIVE = 0, H_ENDED = 1, H_TURN = 2, H_DECISIONS = 3, H_BUDGET = 4, H_STRATEGY = 5, H_RNG = 6,
  H_DEPTH = 7, H_NSLOTS = 8, H_REG = 9, H_HASH_A = 10, H_HASH_B = 11, H_LATE = 12, H_TRACE = 13,
  H_MAX_SLOTS = 14, H_END_SLOT = 15, H_CHANGE = 16; // 16..23: PCT change points
const MAX_CHANGE_POINTS = 8;
const H_VTIME_F64 = 12; // Float64 index (words 24..25): virtual time in ms
const H_SEED = 26;
const HEADER_WORDS = 32;

const S_KEY = 0, S_STATE = 1, S_GO = 2, S_PRIO = 3, S_WBUF = 4, S_WIDX = 5, S_WVAL = 6, S_KIND = 7,
  S_ARG = 8, S_TIMED_OUT = 9, S_POINTS = 10, S_DEADLINE_F64 = 6; // Float64 index within the slot (words 12..13)
const SLOT_WORDS = 16;

/** Slot states. FREE: registered, running uncontrolled (before begin, or a late join). */
const ST_ABSENT = 0, ST_FREE = 1, ST_STARTING = 2, ST_READY = 3, ST_BLOCKED = 4, ST_DONE = 5;
const STATE_NAMES = ['absent', 'free', 'starting', 'ready', 'blocked', 'done'];

/** Decisions kept for the report and the timeline (a ring). */
export const TRACE_ENTRIES = 4096;
const TRACE_WORDS = 4;

const STRATEGY_IDS: Record<ScheduleStrategyName, number> = { random: 1, pct: 2 };

/** One scheduling decision. */
export interface ScheduleDecision {
  /** Its number, from 0. */
  step: number;
  /** The thread that reached the point, the point, its argument (lock index, actor, op). */
  thread: string;
  /** The scheduling point ('lock', 'send', 'wfi', ...). */
  point: PointName;
  /** The point's argument (lock index, actor, op). */
  arg: number;
  /** The thread chosen to run next. */
  next: string;
}

/** A controlled schedule's state (`vm.schedule()`). */
export interface ScheduleSummary {
  /** The strategy. */
  strategy: ScheduleStrategyName;
  /** The seed. */
  seed: number;
  /** How it ended, or 'running'. */
  end: ScheduleEnd;
  /** Decisions taken so far. */
  decisions: number;
  /** FNV-1a over every decision (thread key, point, argument, choice): equal hashes, equal interleavings. */
  traceHash: string;
  /** Virtual time elapsed (timeouts run on it). */
  virtualMs: number;
  /** Threads that joined without being pre-registered (their timing is not reproducible). */
  lateJoins: number;
  /** For 'deadlock' and 'stall': every thread's state and what it waited for. */
  threads: {
    /** 'vCPU 0', 'ITS 0', 'VMM', ... */
    name: string;
    /** Its scheduler state (running, enabled, blocked, ...). */
    state: string;
    /** What it waited for, if blocked. */
    waitsFor: string;
  }[];
}

/** xorshift32: tiny, seedable, the same in every thread. */
function nextRandom(i32: Int32Array): number {
  let x = i32[H_RNG]! | 0;
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  i32[H_RNG] = x;
  return (x >>> 0) / 4294967296;
}

function fnv(h: number, v: number): number {
  for (let i = 0; i < 4; i++) {
    h ^= (v >>> (i * 8)) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Buffers a blocked thread's wait word may live in, identified the same way by every thread. */
export type BufferRegistry = readonly SharedArrayBuffer[];

/** Thrown on the VMM thread when the schedule ended under it (deadlock, budget, stall). */
export class ScheduleEnded extends Error {
  constructor(
    /** How the schedule ended. */
    readonly end: ScheduleEnd,
  ) {
    super(`controlled schedule ended: ${end}`);
  }
}

let current: Schedule | null = null;
/**
 * The schedule this thread takes part in, if one is active (for code that has
 * no thread context: spinlocks, waits), or ended abnormally without this
 * thread's async caller having been told (its next async call throws).
 */
export function activeSchedule(): Schedule | null {
  return current !== null && (current.active || current.endUnreported) ? current : null;
}

export class Schedule {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly views: Int32Array[];
  private readonly ids = new Map<ArrayBufferLike, number>();
  private slot = -1;
  /** An end (deadlock, budget, stall) this handle has not yet thrown at its caller. */
  private endReported = false;

  /** The shared state of a schedule for up to `maxThreads` threads. */
  static create(config: ScheduleConfig, maxThreads = 64): SharedArrayBuffer {
    const buf = alignedSharedBuffer((HEADER_WORDS + maxThreads * SLOT_WORDS + TRACE_ENTRIES * TRACE_WORDS) * 4);
    const i32 = new Int32Array(buf);
    const seed = config.seed >>> 0;
    i32[H_RNG] = (seed ^ 0x9e3779b9) || 1;
    for (let i = 0; i < 4; i++) nextRandom(i32); // let small seeds diverge
    i32[H_STRATEGY] = STRATEGY_IDS[config.strategy];
    i32[H_BUDGET] = config.stepBudget ?? 200_000;
    const depth = Math.min(config.pctDepth ?? 3, MAX_CHANGE_POINTS + 1);
    i32[H_DEPTH] = depth;
    i32[H_TURN] = -1;
    i32[H_MAX_SLOTS] = maxThreads;
    i32[H_END_SLOT] = -1;
    i32[H_HASH_A] = 0x811c9dc5 | 0;
    i32[H_HASH_B] = (seed ^ 0x811c9dc5) | 0;
    const horizon = Math.max(1, config.pctHorizon ?? Math.min(i32[H_BUDGET]!, 5000));
    for (let i = 0; i < depth - 1; i++) i32[H_CHANGE + i] = 1 + Math.floor(nextRandom(i32) * horizon);
    i32[H_LATE] = 0;
    new Float64Array(buf)[H_VTIME_F64] = 0;
    i32[H_SEED] = seed | 0;
    return buf;
  }

  /**
   * A thread's handle. `buffers` must be the same list, in the same order, in
   * every thread (VmRuntime builds it from VmShared).
   */
  constructor(readonly buffer: SharedArrayBuffer, buffers: BufferRegistry, readonly key: number) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.views = buffers.map((b) => new Int32Array(b));
    buffers.forEach((b, i) => this.ids.set(b, i));
    this.ids.set(buffer, buffers.length);
    this.views.push(this.i32);
  }

  /** True while the schedule controls its threads (begun, not ended). */
  get active(): boolean {
    return Atomics.load(this.i32, H_ACTIVE) !== 0 && Atomics.load(this.i32, H_ENDED) === 0;
  }

  get ended(): ScheduleEnd {
    return END_NAMES[Atomics.load(this.i32, H_ENDED)]!;
  }

  /** Virtual time in ms (timeouts in controlled mode are measured on it). */
  now(): number {
    return this.f64[H_VTIME_F64]!;
  }

  // ---- registration ---------------------------------------------------------

  private base(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  /** The slot of `key`, created (in `state`) if absent. */
  private slotOf(key: number, createAs: number): number {
    const { i32 } = this;
    while (Atomics.compareExchange(i32, H_REG, 0, 1) !== 0) { /* registration is rare and short */ }
    try {
      const n = i32[H_NSLOTS]!;
      for (let s = 0; s < n; s++) if (i32[this.base(s) + S_KEY] === key) return s;
      if (n >= i32[H_MAX_SLOTS]!) throw new RangeError(`controlled schedule: more than ${n} threads`);
      const b = this.base(n);
      i32[b + S_KEY] = key;
      Atomics.store(i32, b + S_STATE, createAs);
      Atomics.store(i32, H_NSLOTS, n + 1);
      return n;
    } finally {
      Atomics.store(i32, H_REG, 0);
    }
  }

  /** This thread takes part from now on (a worker's loop starts; a vCPU enters KVM_RUN). */
  enter(): void {
    current = this;
    const s = this.slotOf(this.key, ST_FREE);
    this.slot = s;
    const st = Atomics.load(this.i32, this.base(s) + S_STATE);
    if (st === ST_DONE || st === ST_ABSENT) Atomics.store(this.i32, this.base(s) + S_STATE, ST_FREE);
    if (st === ST_FREE && this.active) Atomics.add(this.i32, H_LATE, 1);
  }

  /** A spawner announces a thread it starts under control (choosing it waits for its arrival). */
  expect(key: number): void {
    const s = this.slotOf(key, ST_STARTING);
    const b = this.base(s);
    const st = Atomics.load(this.i32, b + S_STATE);
    if (st === ST_DONE || st === ST_ABSENT) Atomics.store(this.i32, b + S_STATE, ST_STARTING);
  }

  /** This thread stops taking part (its loop ended); if it holds the turn, it passes it on. */
  leave(): void {
    if (this.slot < 0) return;
    const b = this.base(this.slot);
    if (this.active && !this.holdsTurn()) {
      // Not running under the schedule yet (never reached a point): leaving is a point too, or a decider
      // could choose us as STARTING after we looked and hand the turn to a thread that is gone.
      Atomics.store(this.i32, b + S_STATE, ST_READY);
      this.waitTurn();
    }
    const holding = this.holdsTurn() && this.active;
    Atomics.store(this.i32, b + S_STATE, ST_DONE);
    if (holding) this.decide(pointId('exit'), 0);
  }

  /** VMM: wait (through the scheduler) until the thread `key` has left. */
  async leftAsync(key: number): Promise<void> {
    const s = this.slotOf(key, ST_STARTING);
    const w = this.base(s) + S_STATE;
    for (let st = Atomics.load(this.i32, w); st !== ST_DONE; st = Atomics.load(this.i32, w)) {
      if ((await this.blockAsync(this.i32, w, st, 'yield', key)) === 'free') return;
    }
  }

  // ---- the VMM's side -------------------------------------------------------

  /**
   * Start controlling (VMM thread). Every thread that entered must reach a
   * scheduling point first: `kick` wakes those parked in uncontrolled waits.
   */
  async begin(kick: () => void, timeoutMs = 30_000): Promise<void> {
    this.enter();
    const { i32 } = this;
    Atomics.store(i32, this.base(this.slot) + S_STATE, ST_READY);
    Atomics.store(i32, H_TURN, this.slot);
    Atomics.store(i32, H_ACTIVE, 1);
    kick();
    const deadline = performance.now() + timeoutMs;
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      for (;;) {
        let free = 0;
        for (let s = 0; s < i32[H_NSLOTS]!; s++) if (Atomics.load(i32, this.base(s) + S_STATE) === ST_FREE) free++;
        if (free === 0) break;
        if (performance.now() > deadline) throw new Error(`controlled schedule: ${free} thread(s) never reached a scheduling point`);
        await new Promise((r) => setTimeout(r, 1));
        kick();
      }
    } finally {
      clearInterval(keepAlive);
    }
    // A thread that parked before a kick sees it as a wake-up, one that parked after does not: re-arm
    // every parked thread on the word's value now, so the first decision does not depend on that race.
    for (let s = 0; s < i32[H_NSLOTS]!; s++) {
      const b = this.base(s);
      const kind = i32[b + S_KIND];
      if (Atomics.load(i32, b + S_STATE) === ST_BLOCKED && (kind === pointId('park') || kind === pointId('wfi'))) {
        i32[b + S_WVAL] = Atomics.load(this.views[i32[b + S_WBUF]!]!, i32[b + S_WIDX]!);
      }
    }
  }

  /** End the schedule: every thread goes back to running uncontrolled. */
  end(reason: 'done' | 'stall' = 'done'): void {
    this.finish(reason === 'done' ? END_DONE : END_STALL, this.slot);
  }

  // ---- scheduling points ----------------------------------------------------

  /** A scheduling point: let the strategy choose who runs next (maybe this thread). */
  point(p: PointName, arg = 0): void {
    if (!this.arrive()) return;
    this.decide(pointId(p), arg);
    this.waitTurn();
  }

  async pointAsync(p: PointName, arg = 0): Promise<void> {
    this.throwUnreportedEnd();
    if (!this.active) return;
    if (this.slot < 0) this.enter();
    const b = this.base(this.slot);
    const fresh = this.isFresh();
    Atomics.store(this.i32, b + S_STATE, ST_READY);
    if (this.holdsTurn() && fresh) return;
    if (this.holdsTurn()) this.decide(pointId(p), arg);
    await this.waitTurnAsync();
  }

  /**
   * Wait until word `index` of `view` is no longer `value`, or `timeoutMs` of
   * virtual time passed. 'ok', 'timed-out', or 'free' when the schedule is not
   * active (the caller waits the ordinary way).
   */
  block(view: Int32Array, index: number, value: number, p: PointName, arg = 0, timeoutMs = Infinity): 'ok' | 'timed-out' | 'free' {
    if (!this.active) return 'free';
    if (this.prepareBlock(view, index, value, p, arg, timeoutMs)) return 'ok';
    if (!this.waitTurn()) return 'free';
    return this.i32[this.base(this.slot) + S_TIMED_OUT] !== 0 ? 'timed-out' : 'ok';
  }

  async blockAsync(view: Int32Array, index: number, value: number, p: PointName, arg = 0, timeoutMs = Infinity): Promise<'ok' | 'timed-out' | 'free'> {
    this.throwUnreportedEnd();
    if (!this.active) return 'free';
    if (this.prepareBlock(view, index, value, p, arg, timeoutMs)) return 'ok';
    if (!(await this.waitTurnAsync())) return 'free';
    return this.i32[this.base(this.slot) + S_TIMED_OUT] !== 0 ? 'timed-out' : 'ok';
  }

  /** Publish the wait and, holding the turn, decide. True when the word already changed (no wait). */
  private prepareBlock(view: Int32Array, index: number, value: number, p: PointName, arg: number, timeoutMs: number): boolean {
    if (this.slot < 0) this.enter();
    if (this.holdsTurn() && Atomics.load(view, index) !== value) {
      Atomics.store(this.i32, this.base(this.slot) + S_STATE, ST_READY);
      return true;
    }
    this.publishWait(view, index, value, p, arg, timeoutMs);
    if (this.holdsTurn()) this.decide(pointId(p), arg);
    return false;
  }

  private isFresh(): boolean {
    const st = Atomics.load(this.i32, this.base(this.slot) + S_STATE);
    return st === ST_FREE || st === ST_STARTING;
  }

  /**
   * Let others run before re-checking something no single word describes (the
   * VMM polling a predicate). Alone and without a deadline, nothing could ever
   * change: the run is ended as a stall. 'ok', 'timed-out' or 'free'.
   */
  async yieldAsync(timeoutMs = Infinity): Promise<'ok' | 'timed-out' | 'free'> {
    this.throwUnreportedEnd();
    if (!this.active) return 'free';
    if (this.slot < 0) this.enter();
    const fresh = this.isFresh();
    Atomics.store(this.i32, this.base(this.slot) + S_STATE, ST_READY);
    if (!this.holdsTurn()) return (await this.waitTurnAsync()) ? 'ok' : 'free';
    if (fresh) return 'ok';
    const next = this.nextDeadline();
    if (this.aloneEnabled() || (next !== Infinity && this.enabledSlots().length === 1)) {
      // Only this poll loop can run: let virtual time reach the first deadline (a timed wait elsewhere, or ours).
      const mine = this.now() + timeoutMs;
      if (next < mine) {
        this.f64[H_VTIME_F64] = next;
        this.decide(pointId('yield'), 0);
        return (await this.waitTurnAsync()) ? 'ok' : 'free';
      }
      if (timeoutMs === Infinity) {
        this.finish(END_STALL, this.slot);
        this.endReported = true;
        throw new ScheduleEnded('stall');
      }
      this.f64[H_VTIME_F64] = this.now() + timeoutMs;
      return 'timed-out';
    }
    this.decide(pointId('yield'), 0);
    return (await this.waitTurnAsync()) ? 'ok' : 'free';
  }

  /** True when `view` is memory of this schedule's VM (a wait on it can be scheduled). */
  owns(view: Int32Array): boolean {
    return this.ids.has(view.buffer);
  }

  /**
   * The VMM learns of an abnormal end once, at its next async call: an end met in a
   * synchronous point (a trylock, an unlock) could not throw into its async caller.
   */
  private throwUnreportedEnd(): void {
    if (!this.endUnreported) return;
    this.endReported = true;
    throw new ScheduleEnded(this.ended);
  }

  /** Ended by deadlock, budget or stall, and this handle has not thrown it yet. */
  get endUnreported(): boolean {
    const e = Atomics.load(this.i32, H_ENDED);
    return e !== 0 && e !== END_DONE && !this.endReported && this.slot >= 0;
  }

  private holdsTurn(): boolean {
    return this.slot >= 0 && Atomics.load(this.i32, H_TURN) === this.slot;
  }

  /**
   * A point: true when the caller holds the turn and should decide. A thread
   * arriving (FREE, STARTING) publishes READY and waits to be chosen; one that
   * was chosen before it arrived just runs: either way the decision sequence
   * does not depend on when it got here.
   */
  private arrive(): boolean {
    if (!this.active) return false;
    if (this.slot < 0) this.enter();
    const b = this.base(this.slot);
    const prev = Atomics.load(this.i32, b + S_STATE);
    const fresh = prev === ST_FREE || prev === ST_STARTING;
    Atomics.store(this.i32, b + S_STATE, ST_READY);
    if (this.holdsTurn()) return !fresh;
    this.waitTurn();
    return false;
  }

  private publishWait(view: Int32Array, index: number, value: number, p: PointName, arg: number, timeoutMs: number): void {
    if (this.slot < 0) this.enter();
    const id = this.ids.get(view.buffer);
    if (id === undefined) throw new Error('controlled schedule: a wait on a buffer the VM does not share');
    const b = this.base(this.slot);
    const { i32 } = this;
    i32[b + S_WBUF] = id;
    i32[b + S_WIDX] = view.byteOffset / 4 + index;
    i32[b + S_WVAL] = value;
    i32[b + S_KIND] = pointId(p);
    i32[b + S_ARG] = arg;
    i32[b + S_TIMED_OUT] = 0;
    this.f64[(b >> 1) + S_DEADLINE_F64] = timeoutMs === Infinity ? Infinity : this.now() + timeoutMs;
    Atomics.store(i32, b + S_STATE, ST_BLOCKED);
  }

  private condition(slot: number): boolean {
    const b = this.base(slot);
    const v = this.views[this.i32[b + S_WBUF]!];
    return v !== undefined && Atomics.load(v, this.i32[b + S_WIDX]!) !== this.i32[b + S_WVAL];
  }

  private enabledSlots(): number[] {
    const { i32 } = this;
    const out: number[] = [];
    const vt = this.now();
    for (let s = 0; s < i32[H_NSLOTS]!; s++) {
      const b = this.base(s);
      const st = Atomics.load(i32, b + S_STATE);
      if (st === ST_READY || st === ST_STARTING) out.push(s);
      else if (st === ST_BLOCKED && (this.condition(s) || this.f64[(b >> 1) + S_DEADLINE_F64]! <= vt)) out.push(s);
    }
    return out.sort((a, b) => i32[this.base(a) + S_KEY]! - i32[this.base(b) + S_KEY]!);
  }

  /** The earliest deadline of a blocked thread (Infinity if none). */
  private nextDeadline(): number {
    let next = Infinity;
    for (let s = 0; s < this.i32[H_NSLOTS]!; s++) {
      const b = this.base(s);
      if (Atomics.load(this.i32, b + S_STATE) === ST_BLOCKED) next = Math.min(next, this.f64[(b >> 1) + S_DEADLINE_F64]!);
    }
    return next;
  }

  private aloneEnabled(): boolean {
    const e = this.enabledSlots();
    if (e.length !== 1 || e[0] !== this.slot) return false;
    // A blocked thread with a deadline will become enabled when virtual time gets there.
    for (let s = 0; s < this.i32[H_NSLOTS]!; s++) {
      const b = this.base(s);
      if (Atomics.load(this.i32, b + S_STATE) === ST_BLOCKED && this.f64[(b >> 1) + S_DEADLINE_F64]! !== Infinity) return false;
    }
    return true;
  }

  /** Choose the next thread and hand it the turn. Called by the turn holder only. */
  private decide(point: number, arg: number): void {
    const { i32, f64 } = this;
    if (Atomics.load(i32, H_ENDED) !== 0) return;
    const step = i32[H_DECISIONS]! + 1;
    i32[H_DECISIONS] = step;
    if (step > i32[H_BUDGET]!) {
      this.finish(END_BUDGET, this.slot);
      return;
    }
    f64[H_VTIME_F64] = this.now() + 0.001; // every decision costs a virtual microsecond
    let enabled = this.enabledSlots();
    if (enabled.length === 0) {
      const next = this.nextDeadline();
      if (next === Infinity) {
        this.finish(END_DEADLOCK, this.slot);
        return;
      }
      f64[H_VTIME_F64] = next;
      enabled = this.enabledSlots();
    }
    const chosen = i32[H_STRATEGY] === STRATEGY_IDS.pct ? this.pickPct(enabled, step) : enabled[Math.floor(nextRandom(i32) * enabled.length)]!;
    const cb = this.base(chosen);
    if (Atomics.load(i32, cb + S_STATE) === ST_BLOCKED) {
      i32[cb + S_TIMED_OUT] = this.condition(chosen) ? 0 : 1;
      Atomics.store(i32, cb + S_STATE, ST_READY);
    }
    const me = this.slot >= 0 ? i32[this.base(this.slot) + S_KEY]! : -1;
    const to = i32[cb + S_KEY]!;
    i32[H_HASH_A] = fnv(fnv(fnv(fnv(i32[H_HASH_A]!, me), point), arg), to);
    i32[H_HASH_B] = fnv(i32[H_HASH_B]!, i32[H_HASH_A]! ^ step);
    const t = HEADER_WORDS + i32[H_MAX_SLOTS]! * SLOT_WORDS + ((step - 1) % TRACE_ENTRIES) * TRACE_WORDS;
    i32[t] = step; i32[t + 1] = me; i32[t + 2] = (point << 24) | (arg & 0xffffff); i32[t + 3] = to;
    if (this.slot >= 0) i32[this.base(this.slot) + S_POINTS]! += 1;
    this.handTurn(chosen);
  }

  private pickPct(enabled: number[], step: number): number {
    const { i32 } = this;
    const depth = i32[H_DEPTH]!;
    // A change point demotes the running thread below every initial priority.
    for (let i = 0; i < depth - 1; i++) {
      if (i32[H_CHANGE + i] === step && this.slot >= 0) i32[this.base(this.slot) + S_PRIO] = depth - 1 - i;
    }
    let best = -1, bestPrio = -1;
    for (const s of enabled) {
      const b = this.base(s);
      if (i32[b + S_PRIO] === 0) i32[b + S_PRIO] = depth + 1 + Math.floor(nextRandom(i32) * 0x3fffffff);
      if (i32[b + S_PRIO]! > bestPrio) { best = s; bestPrio = i32[b + S_PRIO]!; }
    }
    return best;
  }

  private handTurn(slot: number): void {
    Atomics.store(this.i32, H_TURN, slot);
    const g = this.base(slot) + S_GO;
    Atomics.add(this.i32, g, 1);
    Atomics.notify(this.i32, g);
  }

  /** Wait until this thread holds the turn. False when the schedule ended meanwhile. */
  private waitTurn(): boolean {
    const { i32 } = this;
    const g = this.base(this.slot) + S_GO;
    for (;;) {
      const seen = Atomics.load(i32, g);
      if (Atomics.load(i32, H_ENDED) !== 0) return false;
      if (Atomics.load(i32, H_TURN) === this.slot) return true;
      Atomics.wait(i32, g, seen);
    }
  }

  private async waitTurnAsync(): Promise<boolean> {
    const { i32 } = this;
    const g = this.base(this.slot) + S_GO;
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      for (;;) {
        const seen = Atomics.load(i32, g);
        const ended = Atomics.load(i32, H_ENDED);
        if (ended !== 0) {
          if (ended !== END_DONE && !this.endReported) {
            this.endReported = true;
            throw new ScheduleEnded(END_NAMES[ended]!);
          }
          return false;
        }
        if (Atomics.load(i32, H_TURN) === this.slot) return true;
        const r = Atomics.waitAsync(i32, g, seen);
        if (r.async) await r.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  private finish(reason: number, bySlot: number): void {
    const { i32 } = this;
    if (Atomics.compareExchange(i32, H_ENDED, 0, reason) !== 0) return;
    i32[H_END_SLOT] = bySlot;
    Atomics.store(i32, H_TURN, -1);
    for (let s = 0; s < i32[H_NSLOTS]!; s++) {
      const g = this.base(s) + S_GO;
      Atomics.add(i32, g, 1);
      Atomics.notify(i32, g);
    }
  }

  // ---- reports --------------------------------------------------------------

  /** The hash of every decision so far (hex): equal for equal interleavings. */
  traceHash(): string {
    return ((this.i32[H_HASH_A]! >>> 0).toString(16).padStart(8, '0') + (this.i32[H_HASH_B]! >>> 0).toString(16).padStart(8, '0'));
  }

  decisions(): number {
    return Math.min(this.i32[H_DECISIONS]!, this.i32[H_BUDGET]!);
  }

  /** The last `max` decisions, oldest first. */
  trace(max = TRACE_ENTRIES): ScheduleDecision[] {
    const { i32 } = this;
    const n = this.decisions();
    const first = Math.max(1, n - Math.min(max, TRACE_ENTRIES) + 1);
    const out: ScheduleDecision[] = [];
    for (let step = first; step <= n; step++) {
      const t = HEADER_WORDS + i32[H_MAX_SLOTS]! * SLOT_WORDS + ((step - 1) % TRACE_ENTRIES) * TRACE_WORDS;
      if (i32[t] !== step) continue;
      const pa = i32[t + 2]!;
      out.push({ step, thread: i32[t + 1]! < 0 ? '-' : keyName(i32[t + 1]!), point: POINTS[pa >>> 24]!, arg: pa & 0xffffff, next: keyName(i32[t + 3]!) });
    }
    return out;
  }

  summary(): ScheduleSummary {
    const { i32 } = this;
    const end = this.ended;
    const threads: ScheduleSummary['threads'] = [];
    for (let s = 0; s < i32[H_NSLOTS]!; s++) {
      const b = this.base(s);
      const st = Atomics.load(i32, b + S_STATE);
      threads.push({
        name: keyName(i32[b + S_KEY]!),
        state: STATE_NAMES[st]!,
        waitsFor: st === ST_BLOCKED ? `${POINTS[i32[b + S_KIND]!]} (${i32[b + S_ARG]})` : '',
      });
    }
    threads.sort((a, b) => a.name.localeCompare(b.name));
    return {
      strategy: i32[H_STRATEGY] === STRATEGY_IDS.pct ? 'pct' : 'random',
      seed: i32[H_SEED]! >>> 0,
      end,
      decisions: this.decisions(),
      traceHash: this.traceHash(),
      virtualMs: this.now(),
      lateJoins: i32[H_LATE]!,
      threads,
    };
  }
}
