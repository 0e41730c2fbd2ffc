/**
 * What "progress" means for the stall detector: a signature of counters that
 * move whenever any thread of a VM does anything, read without touching any
 * fast path. Two equal signatures `stallMs` apart mean nothing happened.
 *
 *  - lock arena: every lock word and its lock_stat acquisition and
 *    trylock-failure counts; every thread's wait words and T_PROGRESS (free
 *    for a scheduler to bump);
 *  - vCPU block: state, KVM_RUN entries, MMIO exits, WFIs, and the guest's
 *    results area (guest programs count their work there);
 *  - actors: messages sent and taken (mailbox positions, or the postMessage
 *    transport's counters).
 */
import type { Vm } from '../kvm/vm.js';
import {
  S_ACQ, S_TRYLOCK_FAIL, T_PROGRESS, T_STATE, T_WAIT_ACTOR, T_WAIT_LOCK, THREAD_ALIVE, type LockArena,
} from '../sync/arena.js';
import { V_ENTRIES, V_MMIO_EXITS, V_STATE, V_UNHANDLED_MMIO, V_WFI } from '../kvm/vcpu-block.js';

export function progressSignature(vm: Vm): number[] {
  const sig: number[] = [];
  const a = vm.rt.arena;
  for (let l = 0; l < a.lockCount(); l++) {
    sig.push(Atomics.load(a.i32, a.wordIndex(l)));
    if (a.countStats) sig.push(a.f64[a.statIndex(l) + S_ACQ]!, a.f64[a.statIndex(l) + S_TRYLOCK_FAIL]!);
  }
  for (let tid = 1; tid <= a.threadCount(); tid++) {
    const r = a.threadRecord(tid);
    for (const w of [T_STATE, T_WAIT_LOCK, T_WAIT_ACTOR, T_PROGRESS]) sig.push(Atomics.load(a.i32, r + w));
  }
  const b = vm.rt.vcpus;
  for (let v = 0; v < b.nrVcpus; v++) {
    for (const w of [V_STATE, V_ENTRIES, V_MMIO_EXITS, V_WFI, V_UNHANDLED_MMIO]) sig.push(Atomics.load(b.i32, b.word(v, w)));
    for (const x of b.results[v]!) sig.push(x);
  }
  const dir = vm.rt.dir;
  for (let id = 0; id < dir.actorCount(); id++) {
    sig.push(...vm.rt.transport.positions(id));
  }
  return sig;
}

export function sameSignature(x: number[], y: number[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}

export interface ThreadState {
  tid: number;
  name: string;
  waitsFor: string;
  holds: string[];
}

/** Every live thread of an arena: what it waits for (a lock and its owner, an actor's reply, or nothing) and what it holds. */
export function threadStates(arena: LockArena, hostName: (actor: number) => string | undefined): ThreadState[] {
  const out: ThreadState[] = [];
  for (let tid = 1; tid <= arena.threadCount(); tid++) {
    const rec = arena.threadRecord(tid);
    if (Atomics.load(arena.i32, rec + T_STATE) !== THREAD_ALIVE) continue;
    const lock = Atomics.load(arena.i32, rec + T_WAIT_LOCK) - 1;
    const actor = Atomics.load(arena.i32, rec + T_WAIT_ACTOR) - 1;
    let waitsFor = 'nothing (running, idle or parked)';
    if (lock >= 0) {
      const owner = arena.ownerOf(lock);
      waitsFor = `${lockName(arena, lock)} (held by ${owner === 0 ? 'nobody' : arena.threadName(owner)})`;
    } else if (actor >= 0) {
      const host = hostName(actor);
      waitsFor = `the reply of actor ${actor}${host !== undefined ? ` (served by ${host})` : ''}`;
    }
    out.push({ tid, name: arena.threadName(tid), waitsFor, holds: arena.locksHeldBy(tid).map((l) => lockName(arena, l)) });
  }
  return out;
}

function lockName(arena: LockArena, lock: number): string {
  const i = arena.lockInfo(lock);
  return `${i.className}#${i.instance}`;
}
