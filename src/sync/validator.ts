/**
 * The lock-order validator: lockdep's dependency graph, shared by every thread
 * of a VM. Its whole state is one SharedArrayBuffer (created once with
 * Validator.create, attached by every thread with `new Validator(buffer, arena)`),
 * so an edge recorded by a vCPU closes a cycle found by the ITS actor.
 *
 * Rules (lockdep's, over lock CLASSES, see src/sync/classes.ts):
 *  - edge class(H) -> class(L) when L is acquired blocking while H is held;
 *    a trylock records L as held but adds no edge (and no nesting check);
 *  - a new edge triggers a cycle check (BFS from class(L) back to class(H));
 *    a cycle is an 'inversion' finding with every edge's provenance;
 *  - the declared hierarchy: acquiring a lock of rank r while holding one of
 *    rank > r is a 'hierarchy' finding, trylocks included, cycle or not;
 *  - same-class nesting (another instance of a held class) is a 'recursive'
 *    finding unless annotated nestable (default: vcpu.mutex under kvm.lock,
 *    lockdep's mutex_lock_nest_lock); re-acquiring a held instance is a
 *    'recursive' finding (seen in waiting(): the mutex throws right after);
 *    releasing a lock not on the thread's held stack is 'unlock-unheld';
 *  - while an actor host serves a synchronous request (T_PROXY_FOR = requester),
 *    the held context is the requester's held stack plus the host's own, and
 *    the edges are attributed to the requester (the kernel runs that path on
 *    the requester's thread): actor-mediated cycles are found;
 *  - every edge and finding records the operation (src/sync/operations.ts)
 *    the ACTING thread was in: for an actor-mediated edge, the request the
 *    actor was serving (the vCPU's 'CWRITER write' on the ITS actor).
 *
 * The per-acquisition path is validator-observer.ts; this file holds the
 * shared state, the rare paths (a new edge, a finding) and the decoders.
 *
 * Layout (Int32 words): header | ranks[maxClasses] | nestUnder[maxClasses] |
 * adjacency bits[mc*mc] | hierarchy-reported bits[mc*mc] |
 * provenance[mc*mc*PROV_WORDS] | held stacks[(maxThreads+1) * STACK_WORDS,
 * line-aligned] | findings.
 */
import { L_CLASS, LOCK_WORDS, T_OP, type LockArena } from './arena.js';
import type { LockObserver, ThreadContext } from './thread.js';
import { KVM_LOCK, LOCK_ORDER_2017, LOCK_ORDER_UPSTREAM, VCPU_MUTEX } from './classes.js';
import { operationName } from './operations.js';
import { alignedSharedBuffer } from './shared-buffer.js';
import { STACK_LAYOUT, ThreadObserver } from './validator-observer.js';

/** Locks tracked per thread's held stack; deeper ones are counted, not checked. */
export const STACK_DEPTH = STACK_LAYOUT.depth;
const { S_DEPTH, S_LOCKS, words: STACK_WORDS } = STACK_LAYOUT;

const MAGIC = 0x76616c64; // 'vald'
const H_MAGIC = 0, H_MAX_CLASSES = 1, H_MAX_THREADS = 2, H_MAX_FINDINGS = 3, H_FINDINGS = 4,
  H_OVERFLOW = 5, H_SPIN = 6, H_HIERARCHY = 7, H_EDGES = 8, H_STOP_AT_FIRST = 9, H_STOPPED = 10;
const HEADER_WORDS = 16;

/**
 * Provenance words per ordered class pair: attributed tid (written last), acting tid,
 * from lock + 1, to lock + 1, the acting thread's operation.
 */
const P_TID = 0, P_ACTING = 1, P_FROM = 2, P_TO = 3, P_OP = 4;
const PROV_WORDS = 5;

/** Finding record words. */
const F_KIND = 0, F_TID = 1, F_ACTING = 2, F_LOCK = 3, F_HELD = 4, F_HOW = 5, F_NEDGES = 6, F_TRUNC = 7, F_OP = 8,
  F_EDGES = 9;
const EDGE_WORDS = 7; // from class, to class, tid, acting tid, from lock, to lock, operation
/** Edges kept per inversion finding; longer cycles are marked truncated. */
export const MAX_CYCLE_EDGES = 8;
const FINDING_WORDS = F_EDGES + MAX_CYCLE_EDGES * EDGE_WORDS;

/**
 * 'inversion': a cycle in the lock dependency graph (a possible deadlock);
 * 'hierarchy': a lock taken against the declared order; 'recursive': a class
 * nested in itself without annotation; 'unlock-unheld': a lock released that
 * its thread does not hold.
 */
export type FindingKind = 'inversion' | 'hierarchy' | 'recursive' | 'unlock-unheld';
const KINDS: FindingKind[] = ['inversion', 'hierarchy', 'recursive', 'unlock-unheld'];
const K_INVERSION = 1, K_HIERARCHY = 2, K_RECURSIVE = 3, K_UNLOCK_UNHELD = 4;

/** Which declared order a validator checks: none, today's, the 2017 patch's, or a list of your own. */
export type HierarchyName = 'none' | 'upstream' | '2017' | 'custom';
const HIERARCHY_NAMES: readonly HierarchyName[] = ['none', 'upstream', '2017', 'custom'];

/** A same-class nesting annotation: a class, optionally only while a lock of class `under` is held. */
export type Nestable = string | {
  /** The class that may nest in itself. */
  class: string;
  /** Only while a lock of this class is held (lockdep's nest_lock). */
  under?: string;
};

/** The lock-order validator's options (`createVm({ validator })`). Every field is optional. */
export interface ValidatorOptions {
  /** Declared order, outermost first: 'upstream' (default), '2017', 'none', or a list of class names. */
  hierarchy?: 'upstream' | '2017' | 'none' | readonly string[];
  /** Same-class nesting allowed without a finding (default: vcpu.mutex under kvm.lock). */
  nestable?: readonly Nestable[];
  /** Finding records kept, 1..65536 (default 256); more are counted in `overflow`. */
  maxFindings?: number;
  /**
   * Record only the first finding and raise `stopped` (a stress run can end
   * there); later findings are counted in `overflow`, not recorded.
   */
  stopAtFirst?: boolean;
}

/** One edge of the dependency graph and who created it. */
export interface EdgeProvenance {
  /** The class held. */
  from: string;
  /** The class taken while `from` was held. */
  to: string;
  /** `from`'s class id (per VM). */
  fromClass: number;
  /** `to`'s class id (per VM). */
  toClass: number;
  /** The thread the edge is attributed to (the requester when taken while serving its request). */
  tid: number;
  /** Its name ('vCPU 0', 'VMM', ...). */
  thread: string;
  /** The thread that actually took the lock (differs from `tid` for actor-mediated edges). */
  actingTid: number;
  /** Its name ('ITS 0', ...). */
  actingThread: string;
  /** The lock instances (class#instance) that created the edge. */
  fromLock: string;
  /** The instance taken (class#instance). */
  toLock: string;
  /** The operation the acting thread was in (src/sync/operations.ts), e.g. 'CWRITER write'; 'none' if unnamed. */
  operation: string;
}

/** Something the lock-order validator found (`vm.lockFindings()`); formatFinding() prints it lockdep-style. */
export interface Finding {
  /** What kind of problem. */
  kind: FindingKind;
  /** Classes involved: the cycle's (inversion), [held, acquired] (hierarchy, recursive), [released] (unlock-unheld). */
  classes: string[];
  /** The thread the triggering operation is attributed to, and the one that performed it. */
  tid: number;
  /** Its name. */
  thread: string;
  /** The thread that performed it (an actor serving `tid`'s request, or `tid` itself). */
  actingTid: number;
  /** Its name. */
  actingThread: string;
  /** The operation the acting thread was in when the finding was made. */
  operation: string;
  /** The lock acquired (or released) when the finding was made, class#instance. */
  lock: string;
  /** For hierarchy/recursive: the held lock it conflicts with. */
  held?: string;
  /** The call that triggered it. */
  how: 'lock' | 'trylock' | 'unlock';
  /** For inversion: the cycle, starting with the edge just added. */
  edges: EdgeProvenance[];
  /** The cycle was longer than the edges kept. */
  truncated: boolean;
  /** For hierarchy: the declared order's name. */
  hierarchy?: HierarchyName;
}

function hierarchyOf(h: ValidatorOptions['hierarchy']): { id: number; order: readonly string[] } {
  if (h === undefined || h === 'upstream') return { id: 1, order: LOCK_ORDER_UPSTREAM };
  if (h === '2017') return { id: 2, order: LOCK_ORDER_2017 };
  if (h === 'none') return { id: 0, order: [] };
  if (h === LOCK_ORDER_UPSTREAM) return { id: 1, order: h };
  if (h === LOCK_ORDER_2017) return { id: 2, order: h };
  return { id: 3, order: h };
}

export class Validator {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly maxClasses: number;
  readonly maxThreads: number;
  readonly maxFindings: number;
  private readonly rankBase = HEADER_WORDS;
  private readonly nestBase: number;
  /** @internal Word of the adjacency bit matrix (bit from * maxClasses + to). */
  readonly adjBase: number;
  private readonly hierBase: number;
  private readonly provBase: number;
  private readonly stackBase: number;
  private readonly findBase: number;
  private readonly matrixWords: number;
  private readonly ai32: Int32Array;
  private readonly lockBase: number;

  /**
   * Create the shared state for `arena`. Registers the classes named by the
   * hierarchy and annotations in the arena (call before threads start).
   */
  static create(arena: LockArena, options: ValidatorOptions = {}): SharedArrayBuffer {
    const mc = arena.maxClasses, mt = arena.maxThreads;
    const maxFindings = options.maxFindings ?? 256;
    const words = stackBaseOf(mc) + (mt + 1) * STACK_WORDS + maxFindings * FINDING_WORDS;
    const buffer = alignedSharedBuffer(words * 4);
    const h = new Int32Array(buffer);
    h[H_MAX_CLASSES] = mc;
    h[H_MAX_THREADS] = mt;
    h[H_MAX_FINDINGS] = maxFindings;
    const { id, order } = hierarchyOf(options.hierarchy);
    h[H_HIERARCHY] = id;
    h[H_STOP_AT_FIRST] = options.stopAtFirst === true ? 1 : 0;
    h[H_MAGIC] = MAGIC;
    const v = new Validator(buffer, arena);
    order.forEach((name, r) => { h[v.rankBase + arena.classId(name)] = r + 1; });
    for (const n of options.nestable ?? [{ class: VCPU_MUTEX, under: KVM_LOCK }]) {
      const spec = typeof n === 'string' ? { class: n } : n;
      h[v.nestBase + arena.classId(spec.class)] = spec.under === undefined ? -1 : arena.classId(spec.under) + 1;
    }
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer, readonly arena: LockArena) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    if (this.i32[H_MAGIC] !== MAGIC) throw new TypeError('not a vgic-lab validator buffer');
    this.maxClasses = this.i32[H_MAX_CLASSES]!;
    this.maxThreads = this.i32[H_MAX_THREADS]!;
    this.maxFindings = this.i32[H_MAX_FINDINGS]!;
    if (this.maxClasses !== arena.maxClasses || this.maxThreads !== arena.maxThreads) {
      throw new TypeError('validator buffer was created for another arena');
    }
    const mc = this.maxClasses;
    this.matrixWords = Math.ceil((mc * mc) / 32);
    this.nestBase = this.rankBase + mc;
    this.adjBase = this.nestBase + mc;
    this.hierBase = this.adjBase + this.matrixWords;
    this.provBase = this.hierBase + this.matrixWords;
    this.stackBase = stackBaseOf(mc);
    this.findBase = this.stackBase + (this.maxThreads + 1) * STACK_WORDS;
    this.ai32 = arena.i32;
    this.lockBase = arena.lockBase;
  }

  /** Install (and return) the observer for `ctx`'s thread. */
  observe(ctx: ThreadContext): LockObserver {
    const obs = new ThreadObserver(this, ctx.tid);
    ctx.observer = obs;
    return obs;
  }

  /** The declared rank of each class (0 = not in the order), as a private copy. */
  ranks(): Int32Array {
    return this.i32.slice(this.rankBase, this.rankBase + this.maxClasses);
  }

  private classOf(lock: number): number {
    return Atomics.load(this.ai32, this.lockBase + lock * LOCK_WORDS + L_CLASS);
  }

  /** @internal Word of thread `tid`'s held stack. */
  stackOf(tid: number): number {
    return this.stackBase + tid * STACK_WORDS;
  }

  /** Locks on `tid`'s held stack, bottom first. */
  heldBy(tid: number): number[] {
    const s = this.stackOf(tid);
    const depth = Math.min(Atomics.load(this.i32, s + S_DEPTH), STACK_DEPTH);
    const out: number[] = [];
    for (let i = 0; i < depth; i++) out.push(Atomics.load(this.i32, s + S_LOCKS + i));
    return out;
  }

  /** @internal May `cls` nest in this context (held stacks `a`, `b`; -1 = none)? */
  nestAllowed(cls: number, a: number, b: number): boolean {
    const under = this.i32[this.nestBase + cls]!;
    if (under === 0) return false;
    if (under === -1) return true;
    return this.stackHasClass(a, under - 1) || this.stackHasClass(b, under - 1);
  }

  private stackHasClass(stack: number, cls: number): boolean {
    if (stack < 0) return false;
    const depth = Math.min(Atomics.load(this.i32, stack + S_DEPTH), STACK_DEPTH);
    for (let i = 0; i < depth; i++) if (this.classOf(Atomics.load(this.i32, stack + S_LOCKS + i)) === cls) return true;
    return false;
  }

  hasEdge(from: number, to: number): boolean {
    const n = from * this.maxClasses + to;
    return (Atomics.load(this.i32, this.adjBase + (n >>> 5)) & (1 << (n & 31))) !== 0;
  }

  /** The operation thread `tid` is in (read on that thread, or of a thread waiting for it). */
  private opOf(tid: number): number {
    return Atomics.load(this.ai32, this.arena.threadRecord(tid) + T_OP);
  }

  /** @internal Record edge from -> to (first time only) and look for the cycle it closes. */
  addEdge(tid: number, acting: number, fromLock: number, from: number, toLock: number, to: number): void {
    const n = from * this.maxClasses + to;
    const w = this.adjBase + (n >>> 5), m = 1 << (n & 31);
    if ((Atomics.load(this.i32, w) & m) !== 0) return;
    // The first setter writes the provenance, then publishes the edge: whoever sees the bit sees who made it.
    const p = this.provBase + (from * this.maxClasses + to) * PROV_WORDS;
    if (Atomics.compareExchange(this.i32, p + P_TID, 0, -1) !== 0) return;
    Atomics.store(this.i32, p + P_ACTING, acting);
    Atomics.store(this.i32, p + P_FROM, fromLock + 1);
    Atomics.store(this.i32, p + P_TO, toLock + 1);
    Atomics.store(this.i32, p + P_OP, this.opOf(acting));
    Atomics.store(this.i32, p + P_TID, tid);
    Atomics.or(this.i32, w, m);
    Atomics.add(this.i32, H_EDGES, 1);
    const path = this.path(to, from);
    if (path === null) return;
    // The cycle: the new edge, then the path back from `to` to `from`.
    const cycle = [from, ...path];
    this.report(K_INVERSION, tid, acting, toLock, fromLock, 'lock', cycle, cycle.length - 1 > MAX_CYCLE_EDGES);
  }

  /** Shortest class path src ... dst over the edges (BFS), or null. */
  private path(src: number, dst: number): number[] | null {
    const n = this.arena.classCount();
    const parent = new Int32Array(n).fill(-1);
    parent[src] = src;
    const queue = [src];
    for (let q = 0; q < queue.length; q++) {
      const c = queue[q]!;
      if (c === dst) {
        const out = [c];
        for (let x = c; x !== src; x = parent[x]!) out.push(parent[x]!);
        return out.reverse();
      }
      for (let d = 0; d < n; d++) {
        if (parent[d] === -1 && this.hasEdge(c, d)) {
          parent[d] = c;
          queue.push(d);
        }
      }
    }
    return null;
  }

  /** @internal `lock` (class cls) taken while holding `heldLock` of a class declared outside it. */
  outOfOrder(tid: number, acting: number, heldLock: number, hc: number, lock: number, cls: number, how: 'lock' | 'trylock'): void {
    const n = hc * this.maxClasses + cls;
    const w = this.hierBase + (n >>> 5), m = 1 << (n & 31);
    if ((Atomics.or(this.i32, w, m) & m) !== 0) return; // one per ordered class pair
    this.report(K_HIERARCHY, tid, acting, lock, heldLock, how, [], false);
  }

  /** @internal Same-class nesting without annotation, or re-acquiring a held lock (held === lock). */
  recursive(tid: number, acting: number, lock: number, held: number): void {
    this.report(K_RECURSIVE, tid, acting, lock, held, 'lock', [], false);
  }

  /** @internal A release of a lock not on the thread's held stack. */
  unlockUnheld(tid: number, acting: number, lock: number): void {
    this.report(K_UNLOCK_UNHELD, tid, acting, lock, -1, 'unlock', [], false);
  }

  // ---- findings -------------------------------------------------------------

  /**
   * Append a finding under a spin lock (findings are rare), deduplicated:
   * inversion by the cycle's class set, recursive by class pair,
   * unlock-unheld by class (hierarchy is deduplicated by its own bit matrix).
   * Runs on the acting thread, so its operation word is current. With
   * stopAtFirst, the first finding raises `stopped` and later ones are only
   * counted.
   */
  private report(kind: number, tid: number, acting: number, lock: number, held: number, how: 'lock' | 'trylock' | 'unlock',
    cycle: number[], truncated: boolean): void {
    const i = this.i32;
    while (Atomics.compareExchange(i, H_SPIN, 0, 1) !== 0) { /* spin: held for a few hundred instructions */ }
    try {
      const key = this.key(kind, lock, held, cycle);
      const n = Math.min(Atomics.load(i, H_FINDINGS), this.maxFindings);
      for (let k = 0; k < n; k++) {
        const b = this.findBase + k * FINDING_WORDS;
        if (i[b + F_KIND] === kind && kind !== K_HIERARCHY && this.recordKey(b) === key) return;
      }
      if (n >= this.maxFindings || (n > 0 && i[H_STOP_AT_FIRST] === 1)) {
        Atomics.add(i, H_OVERFLOW, 1);
        return;
      }
      const b = this.findBase + n * FINDING_WORDS;
      i[b + F_OP] = this.opOf(acting);
      i[b + F_TID] = tid;
      i[b + F_ACTING] = acting;
      i[b + F_LOCK] = lock;
      i[b + F_HELD] = held;
      i[b + F_HOW] = how === 'lock' ? 0 : how === 'trylock' ? 1 : 2;
      i[b + F_TRUNC] = truncated ? 1 : 0;
      const edges = Math.min(cycle.length - 1, MAX_CYCLE_EDGES);
      i[b + F_NEDGES] = Math.max(edges, 0);
      for (let e = 0; e < edges; e++) {
        const from = cycle[e]!, to = cycle[e + 1]!;
        const p = this.provBase + (from * this.maxClasses + to) * PROV_WORDS;
        const eb = b + F_EDGES + e * EDGE_WORDS;
        i[eb] = from;
        i[eb + 1] = to;
        i[eb + 2] = Atomics.load(i, p + P_TID);
        i[eb + 3] = Atomics.load(i, p + P_ACTING);
        i[eb + 4] = Atomics.load(i, p + P_FROM) - 1;
        i[eb + 5] = Atomics.load(i, p + P_TO) - 1;
        i[eb + 6] = Atomics.load(i, p + P_OP);
      }
      Atomics.store(i, b + F_KIND, kind);
      Atomics.store(i, H_FINDINGS, n + 1);
      if (i[H_STOP_AT_FIRST] === 1) {
        Atomics.store(i, H_STOPPED, 1);
        Atomics.notify(i, H_STOPPED);
      }
    } finally {
      Atomics.store(i, H_SPIN, 0);
    }
  }

  private key(kind: number, lock: number, held: number, cycle: number[]): string {
    if (kind === K_INVERSION) return [...new Set(cycle)].sort((a, b) => a - b).join(',');
    if (kind === K_UNLOCK_UNHELD) return String(this.classOf(lock));
    return `${this.classOf(held)}>${this.classOf(lock)}>${held === lock ? 'same' : 'nest'}`;
  }

  private recordKey(b: number): string {
    const i = this.i32;
    const kind = i[b + F_KIND]!;
    const cycle: number[] = [];
    const n = i[b + F_NEDGES]!;
    for (let e = 0; e < n; e++) cycle.push(i[b + F_EDGES + e * EDGE_WORDS]!, i[b + F_EDGES + e * EDGE_WORDS + 1]!);
    return this.key(kind, i[b + F_LOCK]!, i[b + F_HELD]!, cycle);
  }

  /** Findings not recorded: the findings area was full, or (stopAtFirst) one was already recorded. */
  overflow(): number {
    return Atomics.load(this.i32, H_OVERFLOW);
  }

  /** With stopAtFirst: true once the first finding is recorded (any thread may read it). */
  get stopped(): boolean {
    return Atomics.load(this.i32, H_STOPPED) !== 0;
  }

  /** Wait (without blocking the event loop) until `stopped` or `timeoutMs`; resolves to `stopped`. */
  async waitStopped(timeoutMs = Infinity): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.stopped) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const r = Atomics.waitAsync(this.i32, H_STOPPED, 0, left);
      if (r.async) await r.value;
    }
    return true;
  }

  /** The declared hierarchy: its name and its classes, outermost first. */
  declaredOrder(): { name: HierarchyName; order: string[] } {
    const order: [number, string][] = [];
    for (let c = 0; c < this.arena.classCount(); c++) {
      const r = this.i32[this.rankBase + c]!;
      if (r !== 0) order.push([r, this.arena.className(c)]);
    }
    return { name: HIERARCHY_NAMES[this.i32[H_HIERARCHY]!] ?? 'custom', order: order.sort((a, b) => a[0] - b[0]).map(([, n]) => n) };
  }

  /** Number of distinct class edges recorded so far. */
  edgeCount(): number {
    return Atomics.load(this.i32, H_EDGES);
  }

  /** Every recorded edge with its provenance (for reports and the DOT picture). */
  edges(): EdgeProvenance[] {
    const n = this.arena.classCount();
    const out: EdgeProvenance[] = [];
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) if (this.hasEdge(a, b)) out.push(this.provenance(a, b));
    }
    return out;
  }

  private provenance(from: number, to: number): EdgeProvenance {
    const p = this.provBase + (from * this.maxClasses + to) * PROV_WORDS;
    return this.edgeInfo(from, to, Atomics.load(this.i32, p + P_TID), Atomics.load(this.i32, p + P_ACTING),
      Atomics.load(this.i32, p + P_FROM) - 1, Atomics.load(this.i32, p + P_TO) - 1, Atomics.load(this.i32, p + P_OP));
  }

  private edgeInfo(from: number, to: number, tid: number, acting: number, fromLock: number, toLock: number,
    op: number): EdgeProvenance {
    const a = this.arena;
    return {
      from: a.className(from), to: a.className(to), fromClass: from, toClass: to,
      tid, thread: a.threadName(tid), actingTid: acting, actingThread: a.threadName(acting),
      fromLock: this.lockName(fromLock), toLock: this.lockName(toLock), operation: operationName(op),
    };
  }

  private lockName(lock: number): string {
    if (lock < 0) return '?';
    const info = this.arena.lockInfo(lock);
    return `${info.className}#${info.instance}`;
  }

  /** Decode every finding recorded so far, by any thread. */
  findings(): Finding[] {
    const i = this.i32;
    const n = Math.min(Atomics.load(i, H_FINDINGS), this.maxFindings);
    const out: Finding[] = [];
    const hierarchy = HIERARCHY_NAMES[i[H_HIERARCHY]!] ?? 'custom';
    for (let k = 0; k < n; k++) {
      const b = this.findBase + k * FINDING_WORDS;
      const kind = KINDS[Atomics.load(i, b + F_KIND) - 1]!;
      const tid = i[b + F_TID]!, acting = i[b + F_ACTING]!, lock = i[b + F_LOCK]!, held = i[b + F_HELD]!;
      const edges: EdgeProvenance[] = [];
      for (let e = 0; e < i[b + F_NEDGES]!; e++) {
        const eb = b + F_EDGES + e * EDGE_WORDS;
        edges.push(this.edgeInfo(i[eb]!, i[eb + 1]!, i[eb + 2]!, i[eb + 3]!, i[eb + 4]!, i[eb + 5]!, i[eb + 6]!));
      }
      const lockClass = this.arena.className(this.classOf(lock));
      const classes = kind === 'inversion' ? edges.map((e) => e.from)
        : kind === 'unlock-unheld' ? [lockClass]
          : [this.arena.className(this.classOf(held)), lockClass];
      const f: Finding = {
        kind, classes, tid, thread: this.arena.threadName(tid), actingTid: acting, actingThread: this.arena.threadName(acting),
        operation: operationName(i[b + F_OP]!), lock: this.lockName(lock), how: (['lock', 'trylock', 'unlock'] as const)[i[b + F_HOW]!]!,
        edges, truncated: i[b + F_TRUNC] === 1,
      };
      if (held >= 0) f.held = this.lockName(held);
      if (kind === 'hierarchy') f.hierarchy = hierarchy;
      out.push(f);
    }
    return out;
  }
}

/** Word where the held stacks start: after the provenance, rounded up to a cache line. */
function stackBaseOf(mc: number): number {
  const matrixWords = Math.ceil((mc * mc) / 32);
  const end = HEADER_WORDS + 2 * mc + 2 * matrixWords + mc * mc * PROV_WORDS;
  return Math.ceil(end / 16) * 16;
}

export { findingKey, formatFinding, validatorReport, type ValidatorReport } from './validator-report.js';
