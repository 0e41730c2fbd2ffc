/**
 * Deadlock detection from what blocked threads publish in the lock arena:
 * a thread parked on a lock names it (T_WAIT_LOCK) and the lock word names
 * its owner; a thread parked on an actor's reply names the actor
 * (T_WAIT_ACTOR), which runs on its host's thread. Each blocked thread thus
 * has one wait-for edge; a cycle of them is a deadlock (ABBA, longer chains,
 * and chains through an actor's reply). No bookkeeping on any fast path.
 */
import type { ActorDirectory } from '../actors/directory.js';
import { T_WAIT_ACTOR, T_WAIT_LOCK, THREAD_ALIVE, type LockArena } from '../sync/arena.js';

/** @internal One blocked thread's wait. */
export interface WaitEdge {
  /** The waiting thread. */
  tid: number;
  /** The thread it waits for. */
  on: number;
  /** What it waits for: a lock (class#instance) or an actor's reply. */
  what: string;
}

/** One thread of a deadlock. */
export interface DeadlockThread {
  /** Its id in the VM. */
  tid: number;
  /** 'vCPU 0', 'ITS 0', 'VMM', ... */
  name: string;
  /** The lock (class#instance) or actor reply it is blocked on. */
  waitsFor: string;
  /** Locks it holds (class#instance), in index order. */
  holds: string[];
}

/** A cycle of waits: each thread waits for something the next one holds (or is serving). */
export interface Deadlock {
  /** The threads of the cycle, in cycle order. */
  threads: DeadlockThread[];
}

/** The current wait-for edges of every live thread of the arena. */
export function waitForEdges(arena: LockArena, dir: ActorDirectory): WaitEdge[] {
  const edges: WaitEdge[] = [];
  const hostTid = new Map<number, number>();
  for (let tid = 1; tid <= arena.threadCount(); tid++) {
    const t = arena.threadInfo(tid);
    if (t.kind === 'actor') hostTid.set(t.index, tid);
  }
  for (let tid = 1; tid <= arena.threadCount(); tid++) {
    const rec = arena.threadRecord(tid);
    if (Atomics.load(arena.i32, rec) !== THREAD_ALIVE) continue;
    const lock = Atomics.load(arena.i32, rec + T_WAIT_LOCK) - 1;
    if (lock >= 0) {
      const owner = arena.ownerOf(lock);
      if (owner !== 0 && owner !== tid) edges.push({ tid, on: owner, what: lockName(arena, lock) });
      continue;
    }
    const actor = Atomics.load(arena.i32, rec + T_WAIT_ACTOR) - 1;
    if (actor >= 0) {
      const host = hostTid.get(dir.hostOf(actor));
      if (host !== undefined && host !== tid) edges.push({ tid, on: host, what: `the reply of actor ${actor}` });
    }
  }
  return edges;
}

/** Every cycle in a set of wait-for edges (each thread waits for one thing, so cycles are disjoint). */
export function findDeadlocks(arena: LockArena, edges: WaitEdge[]): Deadlock[] {
  const next = new Map(edges.map((e) => [e.tid, e]));
  const done = new Set<number>();
  const found: Deadlock[] = [];
  for (const start of next.keys()) {
    const path: number[] = [];
    const onPath = new Map<number, number>();
    let t: number | undefined = start;
    while (t !== undefined && !done.has(t) && !onPath.has(t)) {
      onPath.set(t, path.length);
      path.push(t);
      t = next.get(t)?.on;
    }
    if (t !== undefined && onPath.has(t)) {
      const cycle = path.slice(onPath.get(t)!);
      found.push({
        threads: cycle.map((tid) => ({
          tid, name: arena.threadName(tid), waitsFor: `${next.get(tid)!.what} (held by ${arena.threadName(next.get(tid)!.on)})`,
          holds: arena.locksHeldBy(tid).map((l) => lockName(arena, l)),
        })),
      });
    }
    for (const p of path) done.add(p);
  }
  return found;
}

/** Deadlocks now present (a cycle is stable once formed: its threads cannot move). */
export function detectDeadlocks(arena: LockArena, dir: ActorDirectory): Deadlock[] {
  return findDeadlocks(arena, waitForEdges(arena, dir));
}

/** A report a person can read: one block per deadlock, one line per thread. */
export function formatDeadlock(d: Deadlock): string {
  return ['deadlock: a cycle of waits', ...d.threads.map((t) =>
    `  ${t.name} waits for ${t.waitsFor}; holds ${t.holds.length ? t.holds.join(', ') : 'nothing'}`)].join('\n');
}

function lockName(arena: LockArena, lock: number): string {
  const i = arena.lockInfo(lock);
  return `${i.className}#${i.instance}`;
}

/**
 * Poll until a deadlock is confirmed (the same cycle in two samples
 * `sliceMs` apart: a cycle read while one of its waits was ending is not
 * reported) or `timeoutMs` passes. Resolves to the deadlocks, or [].
 */
export async function watchForDeadlock(arena: LockArena, dir: ActorDirectory, timeoutMs = 30_000, sliceMs = 10): Promise<Deadlock[]> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (;;) {
    const found = detectDeadlocks(arena, dir);
    const key = JSON.stringify(found.map((d) => d.threads.map((t) => [t.tid, t.waitsFor])));
    if (found.length > 0 && key === last) return found;
    last = found.length > 0 ? key : '';
    if (performance.now() >= deadline) return [];
    await new Promise((r) => setTimeout(r, sliceMs));
  }
}
