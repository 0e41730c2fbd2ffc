/**
 * Read-only scans of a VM's published shared state, for the faults'
 * postconditions: which lock words are held and by whom (every lock of the
 * arena, and the vGIC's spin words), and which live threads wait for a
 * thread or an actor that is gone (the wait words the deadlock detector
 * reads). None of them takes a lock or touches a fast path.
 */
import { ACTOR_DEAD, type ActorDirectory } from '../../actors/directory.js';
import { T_STATE, T_WAIT_ACTOR, T_WAIT_LOCK, THREAD_ALIVE, type LockArena } from '../../sync/arena.js';
import { GIC_LPI_OFFSET } from '../../uapi/gic-fields.js';
import { C_AP_LOCK, D_LPI_LOCK, D_NR_ITS, K_LOCK, L_LOCK, NR_INTIDS, type VgicState } from '../../vgic/vgic-state.js';

/** A lock word with an owner. */
export interface HeldLock {
  /** class#instance, as lock_stat and the deadlock detector name it. */
  lock: string;
  index: number;
  owner: number;
  ownerName: string;
  /** Whether the owner is a live thread of the arena (a dead owner's lock was never recovered). */
  ownerAlive: boolean;
}

function lockName(arena: LockArena, index: number): string {
  const l = arena.lockInfo(index);
  return `${l.className}#${l.instance}`;
}

function alive(arena: LockArena, tid: number): boolean {
  return tid >= 1 && tid <= arena.threadCount() && Atomics.load(arena.i32, arena.threadRecord(tid) + T_STATE) === THREAD_ALIVE;
}

/** Every lock of the arena whose word names an owner, in index order. */
export function heldLocks(arena: LockArena): HeldLock[] {
  const out: HeldLock[] = [];
  for (let l = 0; l < arena.lockCount(); l++) {
    const owner = arena.ownerOf(l);
    if (owner !== 0) out.push({ lock: lockName(arena, l), index: l, owner, ownerName: arena.threadName(owner), ownerAlive: alive(arena, owner) });
  }
  return out;
}

/** A raw spinlock word of the vGIC with a holder. */
export interface HeldSpinlock {
  /** 'lpi_lock', 'ap_list_lock#<vcpu>', 'irq_lock#<intid>', 'its_cache_lock#<its>'. */
  lock: string;
  owner: number;
}

/** Every vGIC spin word (the LPI-set lock, ap_list locks, irq locks, cache write locks) that names a holder. */
export function heldSpinlocks(st: VgicState): HeldSpinlock[] {
  const out: HeldSpinlock[] = [];
  const at = (lock: string, w: number) => {
    const owner = Atomics.load(st.i32, w);
    if (owner !== 0) out.push({ lock, owner });
  };
  at('lpi_lock', D_LPI_LOCK);
  for (let v = 0; v < st.nrVcpus; v++) at(`ap_list_lock#${v}`, st.cpu(v) + C_AP_LOCK);
  for (let intid = GIC_LPI_OFFSET; intid < NR_INTIDS; intid++) at(`irq_lock#${intid}`, st.lpi(intid) + L_LOCK);
  for (let n = 0; n < Atomics.load(st.i32, D_NR_ITS); n++) at(`its_cache_lock#${n}`, st.cache(n) + K_LOCK);
  return out;
}

/** A live thread parked on something that can never come: a lock a dead thread holds, or a dead actor's reply. */
export interface StuckWait {
  tid: number;
  name: string;
  waitsFor: string;
}

/**
 * Live threads whose published wait names a dead thread (a lock it still
 * holds) or a dead actor (a reply that will never come). A requester of a
 * dead actor notices within its liveness slice and clears its word, so a
 * non-empty answer is only a failure if it lasts.
 */
export function stuckWaits(arena: LockArena, dir: ActorDirectory): StuckWait[] {
  const out: StuckWait[] = [];
  const hostTid = new Map<number, number>();
  for (let tid = 1; tid <= arena.threadCount(); tid++) {
    const t = arena.threadInfo(tid);
    if (t.kind === 'actor') hostTid.set(t.index, tid);
  }
  for (let tid = 1; tid <= arena.threadCount(); tid++) {
    if (!alive(arena, tid)) continue;
    const rec = arena.threadRecord(tid);
    const lock = Atomics.load(arena.i32, rec + T_WAIT_LOCK) - 1;
    if (lock >= 0) {
      const owner = arena.ownerOf(lock);
      if (owner !== 0 && owner !== tid && !alive(arena, owner)) {
        out.push({ tid, name: arena.threadName(tid), waitsFor: `${lockName(arena, lock)} held by ${arena.threadName(owner)}, which is dead` });
      }
      continue;
    }
    const actor = Atomics.load(arena.i32, rec + T_WAIT_ACTOR) - 1;
    if (actor < 0) continue;
    const host = hostTid.get(dir.hostOf(actor));
    if (dir.state(actor) === ACTOR_DEAD || (host !== undefined && !alive(arena, host))) {
      out.push({ tid, name: arena.threadName(tid), waitsFor: `the reply of actor ${actor}, which is dead` });
    }
  }
  return out;
}
