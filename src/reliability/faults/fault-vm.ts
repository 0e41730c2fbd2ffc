/**
 * The VM every fault runs on, under realistic load: the traffic guest
 * (vCPU 0 writes ITS commands through GITS_CWRITER, the others handle LPIs
 * and read GITS_CREADR; guest.ts adds the victim), MSIs signalled from an
 * injector thread, SAVE_TABLES attempts from the VMM. Plus what the faults
 * need to inject at a precise moment: each thread's tid and published wait
 * words, the ITS's locks, a gate (the VMM holding one of them) and the
 * victim's trigger.
 */
import type { Worker } from 'node:worker_threads';
import type { ActorTransportKind } from '../../actors/transport.js';
import { createVm, type GicVm } from '../../create-vm.js';
import { waitForItsSetup } from '../../guest/setup-wait.js';
import { T_OP, T_PROXY_FOR, T_WAIT_ACTOR, T_WAIT_LOCK } from '../../sync/arena.js';
import type { Mutex } from '../../sync/mutex.js';
import { waitForWord, waitUntil } from '../../sync/wait.js';
import { V_MMIO_EXITS, V_WFI } from '../../kvm/vcpu-block.js';
import { EOWNERDEAD, errnoName } from '../../uapi/errno.js';
import type { ScenarioOptions } from '../../stress/scenario.js';
import { R_ROUNDS_FROM_END } from '../../stress/guests/its-traffic.js';
import { trafficMsi, trafficVmOptions } from '../../stress/traffic.js';
import type { ItsTrafficArgs } from '../../stress/guests/its-traffic.js';
import { R_TRIGGER_FROM_END, R_VICTIM_FROM_END, type FaultGuestArgs, type VictimMode } from './guest.js';
import { MsiLoad, SaveLoad } from './msi-load.js';

const FAULT_GUEST = new URL('./guest.js', import.meta.url);
/** A RAM word no other part of the traffic guest uses (its GIC tables end below 9 MiB). */
const GUEST_LOCK_GPA = 0x4000_0000 + 12 * 2 ** 20;

export interface FaultVmOptions {
  /** vCPUs (>= 2: vCPU 0 runs the command traffic). */
  vcpus: number;
  /** The vCPU guest.ts makes misbehave (mode 'burn' or 'throw'); others run the traffic. */
  victim: number;
  mode: VictimMode;
  message: string;
  /** Slots per actor mailbox (createVm's mailboxCapacity). */
  mailboxCapacity?: number;
  pauseTimeoutMs?: number;
  /** How messages reach actors (createVm's actorTransport). */
  actorTransport?: ActorTransportKind;
  /** One worker per actor, or every actor on one (createVm's actorPlacement). */
  actorPlacement?: 'worker-per-actor' | 'shared';
  /** Guard of every wait for an event: only a hang reaches it. */
  guardMs: number;
}

/** A thread of the VM by its published words (src/sync/arena.ts T_*). */
export interface ThreadWords {
  tid: number;
  /** The lock it parks on, or -1. */
  waitLock: number;
  /** The actor whose reply it waits for, or -1. */
  waitActor: number;
  /** The requester an actor host serves (tid), or 0. */
  proxyFor: number;
  /** The operation it is in (src/sync/operations.ts). */
  op: number;
}

export class FaultVm {
  readonly msis: MsiLoad;
  readonly saves: SaveLoad;
  /** The ITS actor, its host thread's tid and its two locks. */
  readonly itsActor: number;
  readonly itsHostTid: number;
  readonly cmdLock: number;
  readonly itsLock: number;
  /** vCPU tids by vcpu_id. */
  readonly vcpuTids: number[];
  /** GPA of the guest spinlock word a 'throw' victim takes. */
  readonly guestLock = GUEST_LOCK_GPA;

  private constructor(readonly vm: GicVm, readonly o: FaultVmOptions) {
    const a = vm.rt.arena;
    this.itsActor = vm.gic.its[0]!.actor;
    this.vcpuTids = [];
    let host = 0;
    for (let tid = 1; tid <= a.threadCount(); tid++) {
      const t = a.threadInfo(tid);
      if (t.kind === 'vcpu') this.vcpuTids[t.index] = tid;
      if (t.kind === 'actor' && t.index === vm.rt.dir.hostOf(this.itsActor)) host = tid;
    }
    this.itsHostTid = host;
    const locks = Array.from({ length: a.lockCount() }, (_, l) => a.lockInfo(l));
    this.cmdLock = locks.find((l) => l.className === 'its.cmd_lock' && l.instance === 0)!.index;
    this.itsLock = locks.find((l) => l.className === 'its.its_lock' && l.instance === 0)!.index;
    // Every vCPU's own event; the victim's is what kicks it out of WFI once triggered.
    this.msis = new MsiLoad(vm, Array.from({ length: o.vcpus }, (_, v) => trafficMsi(0, v)));
    this.saves = new SaveLoad(vm);
  }

  /** Boot the VM, wait for the guest's setup and command traffic, start the load and wait until it is answered. */
  static async boot(o: FaultVmOptions): Promise<FaultVm> {
    const base = trafficVmOptions({ vcpus: o.vcpus, its: 1 } as ScenarioOptions);
    const args: FaultGuestArgs = {
      traffic: (base.guest as { args: ItsTrafficArgs }).args, victim: o.victim, mode: o.mode, message: o.message, guestLock: GUEST_LOCK_GPA,
    };
    const vm = await createVm({
      ...base,
      guest: { module: FAULT_GUEST, args },
      ...(o.mailboxCapacity !== undefined ? { mailboxCapacity: o.mailboxCapacity } : {}),
      ...(o.pauseTimeoutMs !== undefined ? { pauseTimeoutMs: o.pauseTimeoutMs } : {}),
      ...(o.actorTransport !== undefined ? { actorTransport: o.actorTransport } : {}),
      ...(o.actorPlacement !== undefined ? { actorPlacement: o.actorPlacement } : {}),
    });
    let f: FaultVm | undefined;
    try {
      const started = await vm.start();
      if (started !== 0) throw new Error(`start: ${errnoName(started)}`);
      const setup = await waitForItsSetup(vm, vm.nrVcpus, o.guardMs);
      if (setup !== 0) throw new Error(`guest ITS setup: ${errnoName(setup)}`);
      f = new FaultVm(vm, o);
      if (!(await f.waitRounds(2))) throw new Error('guest command traffic did not start');
      // Every MSI of the load answered twice: their translations are cached, so the load rarely needs the ITS actor.
      if (!(await f.msis.advance(2 * o.vcpus, o.guardMs))) throw new Error('the MSI load did not start');
      const saves = f.saves;
      if (!(await waitUntil(() => saves.answered > 0, o.guardMs))) throw new Error('no SAVE_TABLES attempt was answered');
      return f;
    } catch (e) {
      await vm.destroy(1000);
      await f?.msis.stop(1000);
      await f?.saves.stop(1000);
      throw e;
    }
  }

  /** Command rounds vCPU 0 completed. */
  rounds(): number {
    const r = this.vm.results(0);
    return Atomics.load(r, r.length - R_ROUNDS_FROM_END);
  }

  /** Wait until vCPU 0 completed `n` more rounds. */
  waitRounds(n: number): Promise<boolean> {
    const r = this.vm.results(0);
    const target = this.rounds() + n;
    return waitForWord(r, r.length - R_ROUNDS_FROM_END, (v) => v >= target, this.o.guardMs);
  }

  /** What moves while vCPU `v` runs guest code: MMIO exits, WFIs, LPIs handled, command rounds. */
  activity(v: number): number {
    const b = this.vm.rt.vcpus;
    const r = this.vm.results(v);
    return b.counter(v, V_MMIO_EXITS) + b.counter(v, V_WFI) + Atomics.load(r, 0) + Atomics.load(r, r.length - R_ROUNDS_FROM_END);
  }

  threadWords(tid: number): ThreadWords {
    const a = this.vm.rt.arena, rec = a.threadRecord(tid);
    return {
      tid,
      waitLock: Atomics.load(a.i32, rec + T_WAIT_LOCK) - 1,
      waitActor: Atomics.load(a.i32, rec + T_WAIT_ACTOR) - 1,
      proxyFor: Atomics.load(a.i32, rec + T_PROXY_FOR),
      op: Atomics.load(a.i32, rec + T_OP),
    };
  }

  /** The VMM's handle on lock `index` (a gate: while the VMM holds it, whoever needs it waits). */
  gate(index: number): Mutex {
    return this.vm.rt.thread.mutex(index);
  }

  /**
   * Hold lock `index` from the VMM until the ITS actor parks on it while
   * serving a message `match` accepts (its published words). A message it
   * does not want is let through (the gate opens until the actor no longer
   * waits) and the gate closes again. Resolves holding the gate with the
   * actor's words, or undefined (gate open) once the guard passed.
   */
  async catchAtGate(index: number, match: (w: ThreadWords) => boolean): Promise<ThreadWords | undefined> {
    const gate = this.gate(index);
    const deadline = performance.now() + this.o.guardMs;
    const atGate = () => this.threadWords(this.itsHostTid).waitLock === index;
    while (performance.now() < deadline) {
      const r = await gate.lockAsync(deadline - performance.now());
      if (r !== 0 && r !== -EOWNERDEAD) return undefined; // -EOWNERDEAD: a dead owner's lock, ours now
      if (await waitUntil(atGate, deadline - performance.now(), 1)) {
        const w = this.threadWords(this.itsHostTid);
        if (match(w)) return w;
      }
      gate.unlock();
      await waitUntil(() => !atGate(), deadline - performance.now(), 1);
    }
    return undefined;
  }

  /** Raise the victim's trigger and kick it with its MSI; resolves once it says it misbehaves (its word), false on timeout. */
  async trigger(): Promise<boolean> {
    const r = this.vm.results(this.o.victim);
    Atomics.store(r, r.length - R_TRIGGER_FROM_END, 1);
    // The victim may sleep in WFI: its MSI wakes it (the load sends it too; this one does not wait for a pass).
    await this.vm.signalMsi(trafficMsi(0, this.o.victim));
    return waitForWord(r, r.length - R_VICTIM_FROM_END, (v) => v !== 0, this.o.guardMs);
  }

  /** The ITS actor's host worker (the VM numbers its hosts in the order it starts them). */
  itsHost(): Worker {
    return this.vm.workers().hosts[this.vm.rt.dir.hostOf(this.itsActor)]!;
  }

  /** Every worker the fault started: the VM's and the load's. */
  workers(): Worker[] {
    const { vcpus, hosts } = this.vm.workers();
    return [...vcpus, ...hosts, this.msis.worker];
  }
}
