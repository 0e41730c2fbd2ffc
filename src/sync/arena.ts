/**
 * The lock arena: one SharedArrayBuffer per VM holding every lock word, the
 * lock-class and thread registries, per-lock statistics and what each blocked
 * thread waits for. Every thread of the VM attaches to the same buffer, so a
 * lock is just an index. Mirrors the role of lockdep's class table and
 * lock_stat's per-class counters, but lives in shared memory.
 *
 * Layout (Int32 words unless noted): header | class names | thread records |
 * lock records | per-lock stats (Float64). Offsets are derived from the
 * capacities stored in the header, so attaching needs only the buffer.
 */
import { alignedSharedBuffer } from './shared-buffer.js';
import { utf8Decode, utf8Encode } from './text.js';

const MAGIC = 0x76676c61; // 'vgla'
const H_MAGIC = 0, H_MAX_LOCKS = 1, H_LOCKS = 2, H_MAX_CLASSES = 3, H_CLASSES = 4,
  H_MAX_THREADS = 5, H_THREADS = 6, H_FLAGS = 7, H_SEQ = 8;
const HEADER_WORDS = 16;
/** Words per name slot (class or thread): [byteLength, ...utf8 bytes]. */
const NAME_WORDS = 16;
const NAME_BYTES = (NAME_WORDS - 1) * 4;

/**
 * Thread record words. T_OP is the operation the thread is in (src/sync/operations.ts),
 * written by the thread itself with a plain store (ThreadContext.setOperation).
 */
export const T_STATE = 0, T_KIND = 1, T_INDEX = 2, T_WAIT_LOCK = 3, T_WAIT_ACTOR = 4,
  T_PROXY_FOR = 5, T_PROGRESS = 6, T_OP = 7;
const THREAD_WORDS = 16 + NAME_WORDS;
export const THREAD_FREE = 0, THREAD_ALIVE = 1, THREAD_DEAD = 2;

/** Lock record words: one cache line per lock so unrelated locks never share a line. */
export const L_WORD = 0, L_CLASS = 1, L_INSTANCE = 2, L_SUBCLASS = 3;
export const LOCK_WORDS = 16;
/** Per-lock statistics (Float64), written only by the lock holder. */
export const S_ACQ = 0, S_CONTENDED = 1, S_WAIT_TOTAL = 2, S_WAIT_MAX = 3, S_HOLD_TOTAL = 4,
  S_HOLD_MAX = 5, S_HOLD_START = 6, S_TRYLOCK_FAIL = 7;
export const STAT_WORDS = 8;

/** Lock word layout, the robust-futex one: owner tid in the low 30 bits. */
export const FUTEX_TID_MASK = 0x3fffffff;
export const FUTEX_OWNER_DIED = 0x40000000;
export const FUTEX_WAITERS = 0x80000000 | 0;

/** How much lock_stat records. 'full' times every wait and hold (two clock reads per acquisition). */
export type LockStatLevel = 'off' | 'counts' | 'full';
const FLAG_COUNTS = 1, FLAG_TIMES = 2;

/** Who a thread is, for reports: the VMM (main thread), a vCPU, an actor host, an injector. */
export type ThreadKind = 'vmm' | 'vcpu' | 'actor' | 'injector' | 'other';
const KINDS: ThreadKind[] = ['vmm', 'vcpu', 'actor', 'injector', 'other'];

export interface ArenaCapacity {
  /** Maximum number of locks (default 4096). */
  locks?: number;
  /** Maximum number of lock classes (default 64). */
  classes?: number;
  /** Maximum number of threads ever registered (default 256). */
  threads?: number;
}

export interface ThreadInfo {
  tid: number; kind: ThreadKind; index: number; name: string; state: number;
  /** The operation it is in (an id of src/sync/operations.ts; 0 = none). */
  operation: number;
}
export interface LockInfo { index: number; classId: number; className: string; instance: number; word: number }

export class LockArena {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly maxLocks: number;
  readonly maxClasses: number;
  readonly maxThreads: number;
  private readonly classBase: number;
  private readonly threadBase: number;
  readonly lockBase: number;
  private readonly statBase: number;
  readonly countStats: boolean;
  readonly timeStats: boolean;

  static create(capacity: ArenaCapacity = {}, lockStat: LockStatLevel = 'full'): LockArena {
    const maxLocks = capacity.locks ?? 4096;
    const maxClasses = capacity.classes ?? 64;
    const maxThreads = capacity.threads ?? 256;
    const words = HEADER_WORDS + maxClasses * NAME_WORDS + maxThreads * THREAD_WORDS + maxLocks * LOCK_WORDS;
    const statOffsetBytes = Math.ceil((words * 4) / 64) * 64;
    const buffer = alignedSharedBuffer(statOffsetBytes + maxLocks * STAT_WORDS * 8);
    const h = new Int32Array(buffer, 0, HEADER_WORDS);
    h[H_MAGIC] = MAGIC;
    h[H_MAX_LOCKS] = maxLocks;
    h[H_MAX_CLASSES] = maxClasses;
    h[H_MAX_THREADS] = maxThreads;
    h[H_FLAGS] = lockStat === 'off' ? 0 : lockStat === 'counts' ? FLAG_COUNTS : FLAG_COUNTS | FLAG_TIMES;
    return new LockArena(buffer);
  }

  /** Attach to an arena created on another thread. */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    if (this.i32[H_MAGIC] !== MAGIC) throw new TypeError('not a vgic-lab lock arena');
    this.maxLocks = this.i32[H_MAX_LOCKS]!;
    this.maxClasses = this.i32[H_MAX_CLASSES]!;
    this.maxThreads = this.i32[H_MAX_THREADS]!;
    this.classBase = HEADER_WORDS;
    this.threadBase = this.classBase + this.maxClasses * NAME_WORDS;
    this.lockBase = this.threadBase + this.maxThreads * THREAD_WORDS;
    const words = this.lockBase + this.maxLocks * LOCK_WORDS;
    const statOffsetBytes = Math.ceil((words * 4) / 64) * 64;
    this.statBase = 0;
    this.f64 = new Float64Array(buffer, statOffsetBytes, this.maxLocks * STAT_WORDS);
    const flags = this.i32[H_FLAGS]!;
    this.countStats = (flags & FLAG_COUNTS) !== 0;
    this.timeStats = (flags & FLAG_TIMES) !== 0;
  }

  // ---- lock classes -------------------------------------------------------

  /** Id of a lock class, registering it on first use (any thread may register). */
  classId(name: string): number {
    const n = this.classCount();
    for (let i = 0; i < n; i++) if (this.className(i) === name) return i;
    const id = Atomics.add(this.i32, H_CLASSES, 1);
    if (id >= this.maxClasses) {
      Atomics.sub(this.i32, H_CLASSES, 1);
      throw new RangeError(`lock arena: more than ${this.maxClasses} lock classes`);
    }
    this.writeName(this.classBase + id * NAME_WORDS, name);
    return id;
  }

  classCount(): number {
    return Math.min(Atomics.load(this.i32, H_CLASSES), this.maxClasses);
  }

  className(id: number): string {
    return this.readName(this.classBase + id * NAME_WORDS);
  }

  // ---- locks --------------------------------------------------------------

  /** Allocate a lock of class `className`; `instance` tells instances apart in reports (e.g. the vCPU id). */
  allocLock(className: string, instance = 0): number {
    const classId = this.classId(className);
    const index = Atomics.add(this.i32, H_LOCKS, 1);
    if (index >= this.maxLocks) {
      Atomics.sub(this.i32, H_LOCKS, 1);
      throw new RangeError(`lock arena: more than ${this.maxLocks} locks (option arena.locks)`);
    }
    const base = this.lockBase + index * LOCK_WORDS;
    Atomics.store(this.i32, base + L_CLASS, classId);
    Atomics.store(this.i32, base + L_INSTANCE, instance);
    return index;
  }

  lockCount(): number {
    return Math.min(Atomics.load(this.i32, H_LOCKS), this.maxLocks);
  }

  /** Index of the lock word of lock `index` in `i32`. */
  wordIndex(index: number): number {
    return this.lockBase + index * LOCK_WORDS + L_WORD;
  }

  statIndex(index: number): number {
    return this.statBase + index * STAT_WORDS;
  }

  lockInfo(index: number): LockInfo {
    const base = this.lockBase + index * LOCK_WORDS;
    const classId = Atomics.load(this.i32, base + L_CLASS);
    return {
      index, classId, className: this.className(classId),
      instance: Atomics.load(this.i32, base + L_INSTANCE),
      word: Atomics.load(this.i32, base + L_WORD),
    };
  }

  /** Owner tid of a lock, 0 when free. */
  ownerOf(index: number): number {
    return Atomics.load(this.i32, this.wordIndex(index)) & FUTEX_TID_MASK;
  }

  /** Every lock currently owned by `tid`, in index order. */
  locksHeldBy(tid: number): number[] {
    const held: number[] = [];
    const n = this.lockCount();
    for (let i = 0; i < n; i++) if (this.ownerOf(i) === tid) held.push(i);
    return held;
  }

  // ---- threads ------------------------------------------------------------

  /** Register the calling thread; the tid is what lock words record as owner (never 0). */
  registerThread(kind: ThreadKind, index: number, name: string): number {
    const slot = Atomics.add(this.i32, H_THREADS, 1);
    if (slot >= this.maxThreads) {
      Atomics.sub(this.i32, H_THREADS, 1);
      // Tids are never reused (lock words, findings and reports may still name an exited thread).
      throw new RangeError(`lock arena: more than ${this.maxThreads} threads registered (createVm options.maxThreads; ArenaCapacity.threads)`);
    }
    const base = this.threadRecord(slot + 1);
    this.i32[base + T_KIND] = KINDS.indexOf(kind);
    this.i32[base + T_INDEX] = index;
    this.i32[base + T_WAIT_LOCK] = 0;
    this.i32[base + T_WAIT_ACTOR] = 0;
    this.i32[base + T_PROXY_FOR] = 0;
    this.i32[base + T_OP] = 0;
    this.writeName(base + 16, name);
    Atomics.store(this.i32, base + T_STATE, THREAD_ALIVE);
    return slot + 1;
  }

  /** Word index of thread `tid`'s record. */
  threadRecord(tid: number): number {
    return this.threadBase + (tid - 1) * THREAD_WORDS;
  }

  threadCount(): number {
    return Math.min(Atomics.load(this.i32, H_THREADS), this.maxThreads);
  }

  threadInfo(tid: number): ThreadInfo {
    const base = this.threadRecord(tid);
    return {
      tid,
      kind: KINDS[this.i32[base + T_KIND]!] ?? 'other',
      index: this.i32[base + T_INDEX]!,
      name: this.readName(base + 16),
      state: Atomics.load(this.i32, base + T_STATE),
      operation: Atomics.load(this.i32, base + T_OP),
    };
  }

  threadName(tid: number): string {
    return tid > 0 && tid <= this.threadCount() ? this.readName(this.threadRecord(tid) + 16) : `tid ${tid}`;
  }

  /**
   * Owner death (robust futex semantics): mark `tid` dead and release every lock it
   * holds with FUTEX_OWNER_DIED set, waking all waiters; the next owner is told
   * with -EOWNERDEAD. Called by whoever learns of the death (the VMM on a worker's
   * 'exit' event). Returns the locks recovered.
   */
  recoverThread(tid: number): number[] {
    Atomics.store(this.i32, this.threadRecord(tid) + T_STATE, THREAD_DEAD);
    const recovered: number[] = [];
    const n = this.lockCount();
    for (let i = 0; i < n; i++) {
      const w = this.wordIndex(i);
      for (;;) {
        const v = Atomics.load(this.i32, w);
        if ((v & FUTEX_TID_MASK) !== tid) break;
        if (Atomics.compareExchange(this.i32, w, v, FUTEX_OWNER_DIED | FUTEX_WAITERS) === v) {
          Atomics.notify(this.i32, w);
          recovered.push(i);
          break;
        }
      }
    }
    const rec = this.threadRecord(tid);
    Atomics.store(this.i32, rec + T_WAIT_LOCK, 0);
    Atomics.store(this.i32, rec + T_WAIT_ACTOR, 0);
    return recovered;
  }

  /** A sequence number any thread can draw from (e.g. unique request ids). */
  nextSeq(): number {
    return Atomics.add(this.i32, H_SEQ, 1);
  }

  private writeName(base: number, name: string): void {
    const bytes = utf8Encode(name).subarray(0, NAME_BYTES);
    const padded = new Uint8Array(NAME_BYTES);
    padded.set(bytes);
    const words = new Int32Array(padded.buffer);
    for (let i = 0; i < words.length; i++) Atomics.store(this.i32, base + 1 + i, words[i]!);
    Atomics.store(this.i32, base, bytes.length);
  }

  private readName(base: number): string {
    const len = Atomics.load(this.i32, base);
    const words = new Int32Array(NAME_BYTES / 4);
    for (let i = 0; i < words.length; i++) words[i] = Atomics.load(this.i32, base + 1 + i);
    return utf8Decode(new Uint8Array(words.buffer, 0, len));
  }
}
