/**
 * The mutex contract, run against every lock flavour: blocking lock() in
 * worker threads, lock(timeoutMs) in worker threads, and lockAsync() on the
 * main thread mixed with workers. Real worker_threads and real Atomics; every
 * wait is on an event (a shared word, a message), never a sleep.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockStats } from '../dist/src/sync/index.js';
import { T_WAIT_LOCK } from '../dist/src/sync/arena.js';
import { EBUSY, EOWNERDEAD, EPERM, ETIMEDOUT } from '../dist/src/uapi/errno.js';
import { LockEnv, type LockWorker, type Party, type WorkerMode } from './helpers/lock-party.js';
import { within } from './helpers/wait.js';

/** A lock flavour: how the thread under test acquires. */
interface Flavour {
  name: string;
  /** How the workers of this flavour acquire. */
  workerMode: WorkerMode;
  /** The main thread (lockAsync) is the party under test and joins the contended runs. */
  mainThread: boolean;
}

const FLAVOURS: Flavour[] = [
  { name: 'blocking lock() in workers', workerMode: 'lock', mainThread: false },
  { name: 'lock(timeoutMs) in workers', workerMode: 'timed', mainThread: false },
  { name: 'lockAsync() on the main thread, mixed with workers', workerMode: 'lock', mainThread: true },
];

const WORKERS = 4;
const ITERATIONS = 5_000;
/** Spin iterations between the plain read and the plain write of the counter. */
const GAP = 20;

function mutexContract(f: Flavour): void {
  describe(`mutex contract: ${f.name}`, () => {
    let env: LockEnv;

    beforeEach(() => {
      env = new LockEnv();
    });

    afterEach(async () => {
      await env.close();
    });

    /** The thread under test: the main thread, or a worker of this flavour. */
    async function subject(options: { reportWaiting?: boolean } = {}): Promise<Party> {
      if (f.mainThread) {
        if (options.reportWaiting) env.main.reportWaiting();
        return env.main;
      }
      return env.spawn({ mode: f.workerMode, ...options });
    }

    /** Another thread: a worker (of this flavour's mode when the subject is a worker too). */
    function other(options: { reportWaiting?: boolean } = {}): Promise<LockWorker> {
      return env.spawn({ mode: f.workerMode, ...options });
    }

    it(`keeps a plain read-modify-write exact: ${WORKERS} workers${f.mainThread ? ' and the main thread' : ''} x ${ITERATIONS} increments`, async () => {
      const workers = await env.spawnMany(WORKERS, { mode: f.workerMode });
      const runs: Promise<number>[] = workers.map((w) => w.increment(ITERATIONS, GAP));
      if (f.mainThread) runs.push(env.main.increment(ITERATIONS, GAP));
      await env.go(WORKERS);
      const failed = await within(Promise.all(runs), 'the incrementers to finish');
      expect(failed).toEqual(runs.map(() => 0));
      expect(env.counter[0]).toBe(runs.length * ITERATIONS);
      expect(env.owner()).toBe(0);
    });

    it('tryLock returns -EBUSY while another thread holds the lock and 0 once it is free', async () => {
      const holder = await subject();
      const prober = await other();
      expect(await holder.lock()).toBe(0);
      expect(await prober.tryLock()).toBe(-EBUSY);
      if (!f.mainThread) expect(await env.main.tryLock()).toBe(-EBUSY);
      expect(env.owner()).toBe(holder.tid);

      expect(await holder.unlock()).toBe(0);
      expect(env.owner()).toBe(0);
      expect(await prober.tryLock()).toBe(0);
      expect(env.owner()).toBe(prober.tid);
      expect(await holder.tryLock()).toBe(-EBUSY);
      expect(await prober.unlock()).toBe(0);
      expect(await holder.tryLock()).toBe(0);
      expect(await holder.unlock()).toBe(0);
    });

    it('a timed lock returns -ETIMEDOUT while another thread holds the lock, without acquiring it', async () => {
      const waiter = await subject();
      const holder = await other();
      expect(await holder.lock()).toBe(0);
      const timeoutMs = 50;
      const r = await within(waiter.lockTimed(timeoutMs), 'the timed lock to return');
      expect(r.result).toBe(-ETIMEDOUT);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(timeoutMs - 1);
      expect(env.owner()).toBe(holder.tid);
      expect(env.arena.locksHeldBy(waiter.tid)).toEqual([]);
      // Not left recorded as waiting (the deadlock detector reads this word).
      expect(Atomics.load(env.arena.i32, env.arena.threadRecord(waiter.tid) + T_WAIT_LOCK)).toBe(0);

      expect(await holder.unlock()).toBe(0);
      expect(env.owner()).toBe(0);
      const again = await within(waiter.lockTimed(10_000), 'the timed lock of a free lock');
      expect(again.result).toBe(0);
      expect(env.owner()).toBe(waiter.tid);
      expect(await waiter.unlock()).toBe(0);
    });

    it('unlock by a thread that does not own the lock returns -EPERM and the owner keeps it', async () => {
      const owner = await subject();
      const intruder = await other();
      expect(await intruder.unlock()).toBe(-EPERM); // free: nobody owns it
      expect(await owner.lock()).toBe(0);
      expect(await intruder.unlock()).toBe(-EPERM);
      if (!f.mainThread) expect(await env.main.unlock()).toBe(-EPERM);
      expect(env.owner()).toBe(owner.tid);
      expect(await intruder.tryLock()).toBe(-EBUSY);

      expect(await owner.unlock()).toBe(0);
      expect(await owner.unlock()).toBe(-EPERM); // no longer the owner
      expect(env.owner()).toBe(0);
    });

    for (const death of ['process.exit() in the worker', 'worker.terminate() from main'] as const) {
      it(`owner death (${death}) while holding: the blocked waiter gets -EOWNERDEAD and owns the lock, the next acquirer gets 0`, async () => {
        const dying = await env.spawn({ mode: f.workerMode });
        const waiter = await subject({ reportWaiting: true });
        const later = await other();
        expect(await dying.lock()).toBe(0);

        let answeredAfterRecovery: boolean | undefined;
        const waited = waiter.lock().then((r) => {
          answeredAfterRecovery = env.recoveries.length > 0;
          return r;
        });
        await env.waitForWaiters(1); // the waiter found the lock held and is blocking on it

        if (death === 'process.exit() in the worker') dying.exitFromInside(7);
        else void dying.worker.terminate();
        const code = await within(dying.exited, 'the dying worker to exit');
        expect(code).toBe(death === 'process.exit() in the worker' ? 7 : 1);
        expect(env.recoveries).toEqual([{ tid: dying.tid, label: 'worker 0', locks: [env.lock] }]);

        expect(await within(waited, 'the blocked waiter to be told')).toBe(-EOWNERDEAD);
        expect(answeredAfterRecovery).toBe(true); // it stayed blocked until the recovery
        expect(env.owner()).toBe(waiter.tid);
        expect(await later.tryLock()).toBe(-EBUSY);
        expect(await waiter.unlock()).toBe(0);

        expect(await within(later.lock(), 'a later acquirer')).toBe(0);
        expect(await later.unlock()).toBe(0);
        expect(await waiter.tryLock()).toBe(0); // the owner-died mark is gone for good
        expect(await waiter.unlock()).toBe(0);
      });
    }

    it('owner death with two blocked waiters: exactly one is told -EOWNERDEAD, the other then gets 0', async () => {
      const dying = await env.spawn({ mode: f.workerMode });
      const first = await subject({ reportWaiting: true });
      const second = await other({ reportWaiting: true });
      expect(await dying.lock()).toBe(0);
      const results: { who: Party; r: number }[] = [];
      const waits = [first, second].map((who) => who.lock().then(async (r) => {
        results.push({ who, r });
        expect(env.owner()).toBe(who.tid);
        expect(await who.unlock()).toBe(0);
      }));
      await env.waitForWaiters(2);
      await dying.worker.terminate();
      await within(dying.exited, 'the dying worker to exit');
      await within(Promise.all(waits), 'both waiters to acquire in turn');
      // The first to get the lock is the one told; the second gets it from the first, cleanly.
      expect(results.map((x) => x.r)).toEqual([-EOWNERDEAD, 0]);
      expect(env.owner()).toBe(0);
    });

    it('lock_stat: after a forced-contention run, acquisitions equal the lock calls and contentions are counted', async () => {
      const workers = await env.spawnMany(WORKERS, { mode: f.workerMode, reportWaiting: true });
      // Hold the lock until every worker has found it held: contention is forced, not hoped for.
      expect(await env.main.lock()).toBe(0);
      const runs: Promise<number>[] = workers.map((w) => w.increment(ITERATIONS, GAP));
      await env.go(WORKERS);
      await env.waitForWaiters(WORKERS);
      expect(await env.main.unlock()).toBe(0);
      if (f.mainThread) runs.push(env.main.increment(ITERATIONS, GAP));
      expect(await within(Promise.all(runs), 'the incrementers to finish')).toEqual(runs.map(() => 0));
      expect(await env.main.tryLock()).toBe(0); // one more acquisition, by trylock
      expect(await env.main.unlock()).toBe(0);

      const stats = lockStats(env.arena).find((c) => c.className === env.className);
      expect(stats).toBeDefined();
      const lockCalls = 1 /* main's hold */ + runs.length * ITERATIONS + 1 /* the tryLock */;
      expect(stats!.instances).toBe(1);
      expect(stats!.acquisitions).toBe(lockCalls);
      expect(env.counter[0]).toBe(runs.length * ITERATIONS);
      expect(stats!.contentions).toBeGreaterThanOrEqual(WORKERS);
      expect(stats!.contentions).toBeLessThanOrEqual(lockCalls);
      expect(stats!.trylockFailures).toBe(0);
      expect(stats!.waitTotalNs).toBeGreaterThan(0);
      expect(stats!.waitMaxNs).toBeGreaterThan(0);
      expect(stats!.waitMaxNs).toBeLessThanOrEqual(stats!.waitTotalNs);
      expect(stats!.holdTotalNs).toBeGreaterThan(0);
      expect(stats!.holdMaxNs).toBeLessThanOrEqual(stats!.holdTotalNs);
    });
  });
}

for (const f of FLAVOURS) mutexContract(f);
