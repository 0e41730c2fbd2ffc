/**
 * Threads that take a lock of a lock arena, for the mutex contract tests: the
 * main thread (lockAsync) and command-driven workers (test/fixtures/lock-worker.mjs,
 * lock() or lock(timeoutMs)). A LockEnv owns one arena with one lock under test
 * and every worker it spawned; on a worker's 'exit' it recovers the worker's
 * locks with arena.recoverThread(tid), as the VMM does.
 */
import { Worker } from 'node:worker_threads';
import { LockArena, ThreadContext, type Mutex } from '../../dist/src/sync/index.js';
import { C_GO, C_READY, C_WAITING, CTL_WORDS } from '../fixtures/lock-ctl.mjs';
import { HANG_MS, waitForWord, within } from './wait.js';

const LOCK_WORKER = new URL('../fixtures/lock-worker.mjs', import.meta.url);

/** How a worker's `lock()` command acquires: blocking lock(), or lock(timeoutMs). */
export type WorkerMode = 'lock' | 'timed';

export interface CallResult {
  result: number;
  elapsedMs: number;
}

/** A thread taking part in a test: the same operations whether it is a worker or the main thread. */
export interface Party {
  readonly tid: number;
  readonly label: string;
  /** Acquire the way this party stands for (worker: lock() or lock(timeoutMs); main: lockAsync()). */
  lock(): Promise<number>;
  /** Acquire with a timeout (worker: lock(ms); main: lockAsync(ms)). */
  lockTimed(ms: number): Promise<CallResult>;
  tryLock(): Promise<number>;
  unlock(): Promise<number>;
  /** Run the incrementer loop (see lock-worker.mjs); resolves with the number of failed lock/unlock calls. */
  increment(iterations: number, gap: number): Promise<number>;
}

export interface SpawnOptions {
  mode?: WorkerMode;
  /** Timeout used by `lock()` in 'timed' mode (default: generous, never expected to expire). */
  timeoutMs?: number;
  /** Bump ctl[C_WAITING] on every acquire that finds the lock held. */
  reportWaiting?: boolean;
}

export class LockWorker implements Party {
  tid = 0;
  exitCode: number | undefined;
  /** Resolves with the exit code once the worker has exited (and its locks were recovered). */
  readonly exited: Promise<number>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: CallResult) => void; reject: (e: Error) => void }>();

  constructor(readonly worker: Worker, readonly label: string, private readonly onExit: (w: LockWorker) => void) {
    this.exited = new Promise((resolve) => {
      worker.on('exit', (code) => {
        this.exitCode = code;
        this.onExit(this);
        for (const p of this.pending.values()) p.reject(new Error(`${label} exited (code ${code}) before answering`));
        this.pending.clear();
        resolve(code);
      });
    });
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    worker.on('message', (m: { id?: number; result: number; elapsedMs: number }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve({ result: m.result, elapsedMs: m.elapsedMs });
    });
  }

  call(cmd: string, args: Record<string, unknown> = {}): Promise<CallResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, cmd, ...args });
    });
  }

  async lock(): Promise<number> { return (await this.call('lock')).result; }
  lockTimed(ms: number): Promise<CallResult> { return this.call('timedLock', { ms }); }
  async tryLock(): Promise<number> { return (await this.call('tryLock')).result; }
  async unlock(): Promise<number> { return (await this.call('unlock')).result; }
  async increment(iterations: number, gap: number): Promise<number> {
    return (await this.call('increment', { iterations, gap })).result;
  }

  /** Make the worker call process.exit() on its own thread, holding whatever it holds. */
  exitFromInside(code = 0): void {
    this.worker.postMessage({ id: 0, cmd: 'exit', code });
  }
}

/** The main thread as a party: lockAsync() (it must never block its event loop). */
export class MainParty implements Party {
  readonly label = 'main';
  readonly ctx: ThreadContext;
  readonly mutex: Mutex;
  private sink = 0;

  constructor(private readonly env: LockEnv) {
    this.ctx = new ThreadContext(env.arena, env.arena.registerThread('vmm', 0, 'main'));
    this.mutex = this.ctx.mutex(env.lock);
  }

  get tid(): number { return this.ctx.tid; }

  /** Bump ctl[C_WAITING] whenever this thread's acquire finds the lock held. */
  reportWaiting(): void {
    const { ctl } = this.env;
    this.ctx.observer = {
      acquired() {},
      released() {},
      waiting() {
        Atomics.add(ctl, C_WAITING, 1);
        Atomics.notify(ctl, C_WAITING);
      },
    };
  }

  lock(): Promise<number> { return this.mutex.lockAsync(); }
  async lockTimed(ms: number): Promise<CallResult> {
    const t0 = performance.now();
    const result = await this.mutex.lockAsync(ms);
    return { result, elapsedMs: performance.now() - t0 };
  }
  async tryLock(): Promise<number> { return this.mutex.tryLock(); }
  async unlock(): Promise<number> { return this.mutex.unlock(); }

  /** The incrementer loop of lock-worker.mjs, with lockAsync(); starts at ctl[C_GO] like the workers. */
  async increment(iterations: number, gap: number): Promise<number> {
    const { counter, ctl } = this.env;
    await waitForWord(ctl, C_GO, (v) => v !== 0, 'the start signal');
    let failed = 0;
    for (let i = 0; i < iterations; i++) {
      if ((await this.mutex.lockAsync()) !== 0) {
        failed++;
        continue;
      }
      const v = counter[0]!;
      for (let k = 0; k < gap; k++) this.sink = (this.sink + k) | 0;
      counter[0] = v + 1;
      if (this.mutex.unlock() !== 0) failed++;
    }
    return failed;
  }
}

export class LockEnv {
  readonly arena: LockArena;
  readonly lock: number;
  readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  /** counter[0]: the plain (non-atomic) counter the incrementers share. */
  readonly counter = new Int32Array(new SharedArrayBuffer(64));
  readonly main: MainParty;
  /** Locks recovered on each worker exit, in exit order. */
  readonly recoveries: { tid: number; label: string; locks: number[] }[] = [];
  private readonly workers: LockWorker[] = [];
  private spawned = 0;

  constructor(readonly className = 'test.contract') {
    this.arena = LockArena.create({ locks: 8, threads: 64 }, 'full');
    this.lock = this.arena.allocLock(className);
    this.main = new MainParty(this);
  }

  /** Start a lock worker and wait until it has registered its thread. */
  async spawn(options: SpawnOptions = {}): Promise<LockWorker> {
    const index = this.spawned++;
    const label = `worker ${index}`;
    const worker = new Worker(LOCK_WORKER, {
      workerData: {
        arena: this.arena.buffer, lock: this.lock, index, name: label,
        mode: options.mode ?? 'lock', timeoutMs: options.timeoutMs ?? HANG_MS,
        ctl: this.ctl.buffer, counter: this.counter.buffer, reportWaiting: options.reportWaiting ?? false,
      },
    });
    const w = new LockWorker(worker, label, (dead) => {
      // What the VMM does on a worker's 'exit' event: robust-futex owner-death recovery.
      if (dead.tid !== 0) this.recoveries.push({ tid: dead.tid, label, locks: this.arena.recoverThread(dead.tid) });
    });
    this.workers.push(w);
    const ready = new Promise<number>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; tid: number }) => {
        if (m.ready) {
          worker.off('message', onMessage);
          resolve(m.tid);
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`${label} exited (code ${code}) while starting`)));
    });
    w.tid = await within(ready, `${label} to start`);
    return w;
  }

  spawnMany(n: number, options: SpawnOptions = {}): Promise<LockWorker[]> {
    return Promise.all(Array.from({ length: n }, () => this.spawn(options)));
  }

  /** Wait until `n` acquires have found the lock held (needs reportWaiting). */
  waitForWaiters(n: number): Promise<number> {
    return waitForWord(this.ctl, C_WAITING, (v) => v >= n, `${n} threads blocked on the lock`);
  }

  /** Wait until `n` incrementers are ready, then start them all. */
  async go(n: number): Promise<void> {
    await waitForWord(this.ctl, C_READY, (v) => v >= n, `${n} incrementers ready`);
    Atomics.store(this.ctl, C_GO, 1);
    Atomics.notify(this.ctl, C_GO);
  }

  owner(): number {
    return this.arena.ownerOf(this.lock);
  }

  /** Terminate every worker still running. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      if (w.exitCode === undefined) await w.worker.terminate();
      await w.exited;
    }));
  }
}
