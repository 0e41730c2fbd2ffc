/**
 * The VMM side of a VM, on the main thread: creates the shared buffers and
 * the kernel locks, starts one worker per vCPU and the actor hosts, and
 * drives the vCPU state machine. Never blocks its event loop: it waits with
 * Atomics.waitAsync, so it can also recover the locks of a worker that died
 * (the robust-futex owner-death path). VMM operations are serialised with
 * async-mutex, because two of them interleaving (pause during destroy) would
 * be a VMM bug, not a model behaviour.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Mutex as AsyncMutex } from 'async-mutex';
import { ActorDirectory, ACTOR_DEAD } from '../actors/directory.js';
import type { HostControl, HostEvent } from '../actors/host.js';
import { createPostMessageShared } from '../actors/transport-postmessage.js';
import { allocateMemslots } from '../mem/guest-memory.js';
import { LockArena, T_WAIT_ACTOR, T_WAIT_LOCK } from '../sync/arena.js';
import { CONFIG_LOCK, KVM_LOCK, SLOTS_LOCK, VCPU_MUTEX } from '../sync/classes.js';
import { lockStats, type LockClassStats } from '../sync/lock-stat.js';
import { asyncOperation, OPN_LOCK_ALL_VCPUS, OPN_PAUSE } from '../sync/operations.js';
import { Validator, validatorReport, type Finding, type ValidatorReport } from '../sync/validator.js';
import { createTimeline } from '../trace/timeline.js';
import { EV_PAUSE } from '../trace/events.js';
import { toChromeTrace, type ChromeTrace } from '../trace/chrome-trace.js';
import { KEY_VCPU, Schedule, threadKey, type ScheduleSummary } from '../sync/schedule.js';
import { EBUSY, EINVAL, ETIMEDOUT } from '../uapi/errno.js';
import { IoBus, type IoRegion } from './io-bus.js';
import { resolveVmOptions, type ResolvedVmOptions, type VmOptions } from './options.js';
import { VmRuntime, type VcpuExtensionSpec, type VmShared } from './shared.js';
import {
  EXIT_DIED, EXIT_REASON_NAMES, REQ_EXIT, REQ_PAUSE, V_ENTRIES, V_REQUESTS, V_EXIT_REASON, V_IN_MMIO, V_MMIO_EXITS, V_PAUSE_ACK,
  V_PAUSE_EPOCH, V_STATE, V_UNHANDLED_MMIO, V_WFI, VCPU_CREATED, VCPU_EXITED, VCPU_PAUSED, VCPU_STATE_NAMES, VcpuBlock, type VcpuStateName,
} from './vcpu-block.js';
import type { VcpuExit } from './vcpu-run.js';
import type { VcpuWorkerData } from './vcpu-worker.js';

const VCPU_WORKER = new URL('../../workers/vcpu.js', import.meta.url);
const ACTOR_HOST_WORKER = new URL('../../workers/actor-host.js', import.meta.url);

/** A VM's life: Created by createVm, Running after start(), Paused/Running by pause()/resume(), then destroyed. */
export type VmState = 'created' | 'running' | 'paused' | 'destroyed';

/** Something that went wrong in a worker: reported, never thrown into the VMM's caller. */
export interface VmFault {
  /** Where: 'vCPU 0', 'ITS 0', 'actor 3', 'VMM', ... */
  source: string;
  /** What happened (the guest's exception message, "vCPU 1 exited holding ...", ...). */
  message: string;
  /** The JavaScript stack, when the fault was an exception. */
  stack?: string;
}

/** A vCPU's event counters (monotonic, read without stopping it). */
export interface VcpuCounters {
  /** KVM_RUN entries (start and every resume). */
  entries: number;
  /** Trapped MMIO accesses (exits to a device). */
  mmioExits: number;
  /** WFIs the guest executed. */
  wfi: number;
  /** Accesses no device decoded (RAZ/WI). */
  unhandledMmio: number;
}

interface VcpuSlot {
  id: number;
  tid: number;
  worker: Worker;
  remote: Comlink.Remote<{ run(): VcpuExit }>;
  exit?: Promise<VcpuExit>;
  exited?: VcpuExit;
}

interface HostSlot {
  host: number;
  bulk: Map<number, (data: unknown) => void>;
  tid: number;
  worker: Worker;
  ctl: MessagePort;
  actors: number[];
  waiters: Map<number, (e: HostEvent) => void>;
  stopped?: () => void;
  /** Its worker exited: nothing it was asked after that would ever be answered. */
  exited?: boolean;
}

/**
 * A VM as its VMM (the main thread) holds it: vCPU control (start, pause,
 * resume, destroy), results and counters, the lock-order validator's
 * findings, lock_stat and the timeline. Create one with {@link createVm}.
 */
export class Vm {
  /** @internal The resolved, validated options. */
  readonly options: ResolvedVmOptions;
  /** @internal Every shared buffer of the VM (handed to each worker). */
  readonly shared: VmShared;
  /** @internal The VMM thread's view (main thread). */
  readonly rt: VmRuntime;
  /** Every fault reported so far (see {@link Vm.onFault}). */
  readonly faults: VmFault[] = [];
  private readonly vcpuSlots: VcpuSlot[] = [];
  private readonly hosts: HostSlot[] = [];
  private sharedHost: HostSlot | undefined;
  private state: VmState = 'created';
  private readonly ops = new AsyncMutex();
  private readonly faultListeners = new Set<(f: VmFault) => void>();
  private readonly deathHooks: ((tid: number) => void)[] = [];

  private constructor(options: ResolvedVmOptions, extensions: VcpuExtensionSpec[]) {
    this.options = options;
    const arena = LockArena.create({ threads: options.maxThreads }, options.lockStat);
    const locks = {
      kvm: arena.allocLock(KVM_LOCK),
      slots: arena.allocLock(SLOTS_LOCK),
      config: arena.allocLock(CONFIG_LOCK),
      vcpu: Array.from({ length: options.vcpus }, (_, i) => arena.allocLock(VCPU_MUTEX, i)),
    };
    this.shared = {
      arena: arena.buffer,
      // Reply slots: one per tid, then a pool for the VMM's requests in flight (ActorClient).
      directory: ActorDirectory.create({ maxActors: options.maxActors, mailboxCapacity: options.mailboxCapacity, replySlots: options.maxThreads + 256 }),
      memslots: allocateMemslots(options.memory, 'options.memory'),
      vcpus: VcpuBlock.create(options.vcpus, options.resultWords),
      bus: IoBus.create(),
      nrVcpus: options.vcpus,
      locks,
      devices: {},
      vcpuExtensions: extensions,
      ...(options.validator !== undefined ? { validator: Validator.create(arena, options.validator) } : {}),
      ...(options.schedule !== undefined ? { schedule: Schedule.create(options.schedule) } : {}),
      ...(options.actorTransport === 'postmessage' ? { transport: createPostMessageShared(options.maxActors, arena.maxThreads) } : {}),
      // Slots for the VMM, the vCPUs, the actor hosts and a few injectors (tids are handed out in order).
      ...(options.timeline !== undefined
        ? { timeline: createTimeline({ slots: 1 + options.vcpus + options.maxActors + 16, capacity: options.timeline.eventsPerThread }) }
        : {}),
    };
    this.rt = new VmRuntime(this.shared, arena.registerThread('vmm', 0, 'VMM'));
  }

  /**
   * @internal Use createVm().
   * Create a VM and its vCPU workers (KVM_CREATE_VM + KVM_CREATE_VCPU). The
   * vCPUs are Created, not running: call start(). `setup` lets device types
   * add shared state and vCPU extensions before the workers start.
   */
  static async create(options: VmOptions = {}, setup?: { extensions?: VcpuExtensionSpec[]; devices?: Record<string, unknown> }): Promise<Vm> {
    const vm = new Vm(resolveVmOptions(options), setup?.extensions ?? []);
    Object.assign(vm.shared.devices, setup?.devices ?? {});
    try {
      await Promise.all(Array.from({ length: vm.options.vcpus }, (_, i) => vm.createVcpu(i)));
    } catch (e) {
      await vm.destroy();
      throw e;
    }
    return vm;
  }

  private async createVcpu(id: number): Promise<void> {
    const tid = this.rt.arena.registerThread('vcpu', id, `vCPU ${id}`);
    const data: VcpuWorkerData = { shared: this.shared, tid, vcpuId: id, guest: this.options.guest };
    const worker = new Worker(VCPU_WORKER, { workerData: data });
    const remote = Comlink.wrap<{ run(): VcpuExit }>(nodeEndpoint(worker as never));
    const slot: VcpuSlot = { id, tid, worker, remote };
    this.vcpuSlots[id] = slot;
    worker.on('error', (e) => this.fault(`vCPU ${id}`, e));
    worker.on('exit', () => this.workerDied(tid, `vCPU ${id}`, id));
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
  }

  /** Number of vCPUs. */
  get nrVcpus(): number {
    return this.options.vcpus;
  }

  /** Where the VM is in its life. */
  get vmState(): VmState {
    return this.state;
  }

  /** vCPU `id`'s state, as it publishes it. Throws RangeError for an id that does not exist. */
  vcpuState(id: number): VcpuStateName {
    return VCPU_STATE_NAMES[this.rt.vcpus.state(this.checkVcpu(id))]!;
  }

  /** Resolves with how vCPU `id` exited, once it has (requires start()). */
  vcpuExited(id: number): Promise<VcpuExit> {
    const slot = this.vcpuSlots[this.checkVcpu(id)]!;
    if (slot.exit === undefined) return Promise.reject(new Error(`vcpu ${id} was never started`));
    return slot.exit.then(() => slot.exited!);
  }

  /** How vCPU `id` exited, once it has. */
  vcpuExit(id: number): VcpuExit | undefined {
    return this.vcpuSlots[this.checkVcpu(id)]?.exited;
  }

  /** The live results area of vCPU `id` (what its guest reports). */
  results(id: number): Int32Array {
    return this.rt.vcpus.results[this.checkVcpu(id)]!;
  }

  /** vCPU `id`'s event counters. */
  vcpuCounters(id: number): VcpuCounters {
    const b = this.rt.vcpus, i = this.checkVcpu(id);
    return {
      entries: b.counter(i, V_ENTRIES), mmioExits: b.counter(i, V_MMIO_EXITS),
      wfi: b.counter(i, V_WFI), unhandledMmio: b.counter(i, V_UNHANDLED_MMIO),
    };
  }

  private checkVcpu(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.options.vcpus) throw new RangeError(`vcpu id ${id} does not exist (0..${this.options.vcpus - 1})`);
    return id;
  }

  /**
   * Start every vCPU (first KVM_RUN). Resolves once each has entered KVM_RUN
   * (or already exited). 0, or -EINVAL unless the VM is Created.
   */
  start(): Promise<number> {
    return this.ops.runExclusive(async () => {
      if (this.state !== 'created') return -EINVAL;
      this.state = 'running';
      for (const s of this.vcpuSlots) {
        this.rt.sched?.expect(threadKey(KEY_VCPU, s.id)); // chosen before it arrives, it is waited for
        const died = (message: string): VcpuExit => (s.exited ??= { vcpuId: s.id, reason: 'died', error: { message } });
        // A worker that dies never answers run(): its 'exit' event settles the vCPU's exit instead.
        const gone = new Promise<VcpuExit>((resolve) => (s.worker.threadId === -1 ? resolve(died('worker exited'))
          : s.worker.once('exit', () => resolve(died('worker exited')))));
        s.exit = Promise.race([
          Promise.resolve(s.remote.run()).then((x) => (s.exited = x), (e: unknown) => died(String((e as Error)?.message ?? e))),
          gone,
        ]);
        void s.exit.then((x) => {
          if (x.reason === 'fault') this.fault(`vCPU ${s.id}`, x.error!);
        });
      }
      const b = this.rt.vcpus;
      // Bounded: a VMM that holds every vcpu.mutex (lockAllVcpus) keeps vCPUs out of KVM_RUN.
      const late = await this.waitVcpus(V_STATE, (i) => b.state(i) !== VCPU_CREATED, this.options.pauseTimeoutMs);
      return late.length > 0 ? -ETIMEDOUT : 0;
    });
  }

  /**
   * Pause every vCPU: resolves once each has left KVM_RUN and dropped its
   * vcpu.mutex. 0; -EINVAL unless running; -ETIMEDOUT if a vCPU did not leave
   * within pauseTimeoutMs (a guest that never calls back into the runtime).
   */
  pause(): Promise<number> {
    return this.ops.runExclusive(() => asyncOperation(this.rt.thread, OPN_PAUSE, async () => {
      if (this.state !== 'running') return -EINVAL;
      this.rt.timeline?.begin(EV_PAUSE);
      try {
        return await this.pauseVcpus();
      } finally {
        this.rt.timeline?.end(EV_PAUSE);
      }
    }));
  }

  /** pause()'s body: request, then wait for every vCPU's acknowledgement of this pause. */
  private async pauseVcpus(): Promise<number> {
    const b = this.rt.vcpus;
    const epochs = Array.from({ length: this.nrVcpus }, (_, i) => {
      const e = (Atomics.load(b.i32, b.word(i, V_PAUSE_EPOCH)) + 1) | 0;
      Atomics.store(b.i32, b.word(i, V_PAUSE_EPOCH), e);
      b.request(i, REQ_PAUSE, b.doorbell(i));
      return e;
    });
    // Done when each vCPU acknowledged *this* pause (a Paused state left over from an earlier one does not count).
    const late = await this.waitVcpus(V_PAUSE_ACK, (i) => b.state(i) === VCPU_EXITED ||
      (b.state(i) === VCPU_PAUSED && Atomics.load(b.i32, b.word(i, V_PAUSE_ACK)) === epochs[i]), this.options.pauseTimeoutMs);
    if (late.length > 0) {
      // Roll back: a late vCPU must not pause itself later, behind the VMM's back (the VM stays 'running').
      for (let i = 0; i < this.nrVcpus; i++) b.clearRequest(i, REQ_PAUSE);
      this.fault('VMM', {
        message: `pause: vCPU ${late.join(', ')} did not leave KVM_RUN within ${this.options.pauseTimeoutMs} ms (${late.map((i) => `vCPU ${i} ${this.stuckIn(i)}`).join('; ')})`,
      });
      return -ETIMEDOUT;
    }
    this.state = 'paused';
    return 0;
  }

  /** Where a vCPU that does not leave KVM_RUN is, from the words it publishes (its wait words, V_IN_MMIO). */
  private stuckIn(i: number): string {
    const a = this.rt.arena, b = this.rt.vcpus;
    const rec = a.threadRecord(this.vcpuSlots[i]!.tid);
    const lock = Atomics.load(a.i32, rec + T_WAIT_LOCK) - 1;
    if (lock >= 0) {
      const l = a.lockInfo(lock), owner = a.ownerOf(lock);
      return `waits for ${l.className}#${l.instance}${owner !== 0 ? ` (held by ${a.threadName(owner)})` : ''}`;
    }
    const actor = Atomics.load(a.i32, rec + T_WAIT_ACTOR) - 1;
    const host = this.hosts.find((h) => h.actors.includes(actor));
    if (actor >= 0) return `waits for the reply of actor ${actor}${host !== undefined ? ` (${a.threadName(host.tid)})` : ''} to a trapped access`;
    if (Atomics.load(b.i32, b.word(i, V_IN_MMIO)) !== 0) return 'is inside a trapped access its device has not taken';
    return 'runs guest code that never calls the guest API';
  }

  /** Resume every paused vCPU. 0, or -EINVAL unless paused. */
  resume(): Promise<number> {
    return this.ops.runExclusive(() => {
      if (this.state !== 'paused') return -EINVAL;
      const b = this.rt.vcpus;
      for (let i = 0; i < this.nrVcpus; i++) b.clearRequest(i, REQ_PAUSE);
      this.state = 'running';
      return 0;
    });
  }

  /**
   * Wait until `ok(i)` holds for every vCPU, sleeping on word `w` of each (a
   * word the vCPU changes and notifies whenever `ok` may have changed).
   * Returns the ids still not ok after timeoutMs.
   */
  private async waitVcpus(w: number, ok: (i: number) => boolean, timeoutMs: number): Promise<number[]> {
    const b = this.rt.vcpus;
    const s = this.rt.sched;
    // Under a controlled schedule the wait goes through the scheduler, on virtual time; if the schedule
    // ends meanwhile, the rest of the wait is on the wall clock.
    const realDeadline = performance.now() + timeoutMs;
    const virtualDeadline = (s?.now() ?? 0) + timeoutMs;
    const left = (): number => (s?.active ? virtualDeadline - s.now() : realDeadline - performance.now());
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      for (let i = 0; i < this.nrVcpus; i++) {
        for (;;) {
          const seen = Atomics.load(b.i32, b.word(i, w));
          if (ok(i)) break;
          if (left() <= 0) break;
          if (s !== null) { // ended (not active): blockAsync throws an end the VMM was not told of yet, else says 'free'
            if ((await s.blockAsync(b.i32, b.word(i, w), seen, 'pause-wait', i, left())) !== 'free') continue;
          }
          const r = Atomics.waitAsync(b.i32, b.word(i, w), seen, Math.max(0, left()));
          if (r.async) await r.value;
        }
      }
    } finally {
      clearInterval(keepAlive);
    }
    return Array.from({ length: this.nrVcpus }, (_, i) => i).filter((i) => !ok(i));
  }

  /**
   * lock_all_vcpus() as the kernel's device-attribute paths use it: take
   * kvm.lock, then tryLock every vcpu.mutex in index order. -EBUSY, with
   * nothing held, if any vCPU is in KVM_RUN; 0 with all held otherwise.
   */
  lockAllVcpus(): Promise<number> {
    const t = this.rt.thread;
    return asyncOperation(t, OPN_LOCK_ALL_VCPUS, async () => {
      const kvm = t.mutex(this.shared.locks.kvm);
      await kvm.lockAsync();
      t.setOperation(OPN_LOCK_ALL_VCPUS); // again: another VMM call may have named the thread during the wait
      const taken: number[] = [];
      for (const idx of this.shared.locks.vcpu) {
        if (t.mutex(idx).tryLock() !== 0 && !t.mutex(idx).heldByMe()) {
          for (const j of taken.reverse()) t.mutex(j).unlock();
          kvm.unlock();
          return -EBUSY;
        }
        taken.push(idx);
      }
      return 0;
    });
  }

  /** Release what lockAllVcpus() took, in reverse order. */
  unlockAllVcpus(): void {
    const t = this.rt.thread;
    for (const idx of [...this.shared.locks.vcpu].reverse()) t.mutex(idx).unlock();
    t.mutex(this.shared.locks.kvm).unlock();
  }

  /**
   * @internal createVm() calls it.
   * Put every thread of the VM under the controlled schedule (options.schedule).
   * createVm() calls it once the devices exist; from then on one thread runs
   * at a time, the VMM included: its awaits are scheduling points.
   */
  async beginSchedule(): Promise<void> {
    // The VMM's runtime predates the devices' shared state: number the VM's buffers again, as the workers did.
    const s = this.rt.attachSchedule();
    if (s === null) throw new Error('beginSchedule: the VM was created without options.schedule');
    const b = this.rt.vcpus, dir = this.rt.dir, arena = this.rt.arena;
    // Threads parked the ordinary way must wake up and reach a scheduling point.
    await s.begin(() => {
      for (let h = 0; h < dir.maxHosts; h++) dir.doorbell(h).ringAlways();
      for (let i = 0; i < this.nrVcpus; i++) {
        b.doorbell(i).ringAlways();
        Atomics.notify(b.i32, b.word(i, V_REQUESTS));
      }
      for (let l = 0; l < arena.lockCount(); l++) Atomics.notify(arena.i32, arena.wordIndex(l));
    });
  }

  /**
   * The recorded timeline in Chrome Trace Event format (open it in Perfetto
   * or chrome://tracing): per-thread KVM_RUN spans, lock waits and holds,
   * actor messages, MSIs. Undefined unless created with options.timeline.
   */
  chromeTrace(): ChromeTrace | undefined {
    const buf = this.shared.timeline;
    if (buf === undefined) return undefined;
    const arena = this.rt.arena;
    return toChromeTrace(buf, {
      threadName: (slot) => (slot < arena.threadCount() ? arena.threadName(slot + 1) : `thread ${slot + 1}`),
      lockName: (lock) => {
        const l = arena.lockInfo(lock);
        return `${l.className}#${l.instance}`;
      },
    });
  }

  /** The controlled schedule's state: strategy, seed, end, decisions, trace hash (undefined without one). */
  schedule(): ScheduleSummary | undefined {
    return this.rt.sched?.summary();
  }

  /** What the lock-order validator found so far ([] when the VM runs without it). */
  lockFindings(): Finding[] {
    return this.shared.validator === undefined ? [] : new Validator(this.shared.validator, this.rt.arena).findings();
  }

  /**
   * The validator's whole state as plain JSON-safe data: findings (each with
   * its findingKey), the dependency graph's edges with their provenance and
   * the declared order. Undefined when the VM runs without options.validator.
   */
  lockReport(): ValidatorReport | undefined {
    return this.shared.validator === undefined ? undefined : validatorReport(new Validator(this.shared.validator, this.rt.arena));
  }

  /** lock_stat per lock class. */
  lockStats(): LockClassStats[] {
    return lockStats(this.rt.arena);
  }

  // ---- actors and the MMIO bus (used by device types) ---------------------

  /**
   * @internal Used by device types.
   * Start an actor from `module` (its default export is an ActorFactory) with
   * `init` (structured-cloned). Placement follows options.actorPlacement.
   */
  async spawnActor(module: string | URL, init: unknown, name: string): Promise<number> {
    // Spawning waits for the host's MessagePort reply, which the scheduler cannot see.
    if (this.rt.sched?.active) throw new Error(`spawnActor(${name}): actors are created before a controlled schedule begins`);
    const host = this.options.actorPlacement === 'shared' && this.sharedHost !== undefined
      ? this.sharedHost
      : await this.startHost(name);
    if (this.options.actorPlacement === 'shared') this.sharedHost = host;
    // A spawn request to a dead host would wait for its answer forever (with config_lock held, for an ITS).
    if (host.exited) throw new Error(`actor ${name} cannot start: its actor host (${this.rt.arena.threadName(host.tid)}) exited`);
    const id = this.rt.dir.allocActor(host.host);
    host.actors.push(id);
    const done = new Promise<HostEvent>((resolve) => host.waiters.set(id, resolve));
    host.ctl.postMessage({ type: 'spawn', id, module: String(module instanceof URL ? module.href : module), init } satisfies HostControl);
    this.rt.dir.doorbell(host.host).requestControl();
    const ev = await done;
    if (ev.type === 'spawned' && ev.error !== undefined) throw new Error(`actor ${name} failed to start: ${ev.error}`);
    return id;
  }

  private async startHost(name: string): Promise<HostSlot> {
    const host = this.rt.dir.allocHost();
    const label = this.options.actorPlacement === 'shared' ? 'actor host' : name;
    const tid = this.rt.arena.registerThread('actor', host, label);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(ACTOR_HOST_WORKER, { workerData: { shared: this.shared, tid, host, ctl: port2 }, transferList: [port2] });
    const slot: HostSlot = { host, tid, worker, ctl: port1, actors: [], waiters: new Map(), bulk: new Map() };
    this.hosts.push(slot);
    port1.on('message', (ev: HostEvent) => {
      if (ev.type === 'spawned') {
        slot.waiters.get(ev.id)?.(ev);
        slot.waiters.delete(ev.id);
      } else if (ev.type === 'fault') {
        this.fault(`actor ${ev.actor}`, ev);
      } else if (ev.type === 'bulk') {
        slot.bulk.get(ev.id)?.(ev.data);
        slot.bulk.delete(ev.id);
      } else if (ev.type === 'stopped') {
        slot.stopped?.();
      }
    });
    port1.unref();
    worker.on('error', (e) => this.fault(label, e));
    worker.on('exit', () => {
      slot.exited = true;
      for (const a of slot.actors) this.rt.dir.setState(a, ACTOR_DEAD);
      for (const [id, w] of slot.waiters) w({ type: 'spawned', id, error: 'actor host exited' });
      this.workerDied(tid, label);
    });
    return slot;
  }

  /**
   * @internal Used by device types.
   * A request whose answer is bulk data (a snapshot, a table dump): the actor
   * answers with ctx.sendBulk(args[0], data) and then replies with a result
   * >= 0 (a negative result means no data was sent). Resolves to the result
   * and the data.
   */
  async query<T>(actor: number, op: number, args: number[] = []): Promise<{ result: number; data: T | undefined }> {
    const host = this.hosts.find((h) => h.actors.includes(actor));
    if (host === undefined) throw new RangeError(`no actor ${actor}`);
    const id = this.rt.arena.nextSeq();
    let data: T | undefined;
    const arrived = new Promise<void>((resolve) => host.bulk.set(id, (d) => {
      data = d as T;
      resolve();
    }));
    const { result } = await this.rt.client.requestAsync(actor, op, [id, ...args]);
    // The bulk message was posted before the reply, so it is already in the port's queue.
    if (result >= 0) await arrived;
    host.bulk.delete(id);
    return { result, data };
  }

  /** @internal Used by device types. Register an MMIO region under kvm.slots_lock (kvm_io_bus_register_dev). 0 or -errno. */
  async registerMmio(region: Omit<IoRegion, 'state'>, deferred = false): Promise<number> {
    const slots = this.rt.thread.mutex(this.shared.locks.slots);
    await slots.lockAsync();
    try {
      return this.rt.bus.register(region, deferred);
    } finally {
      slots.unlock();
    }
  }

  // ---- faults, worker death, destroy -------------------------------------

  /** Be told about faults (guest exceptions, actor handler errors, dead workers). Returns an unsubscribe. */
  onFault(listener: (f: VmFault) => void): () => void {
    this.faultListeners.add(listener);
    return () => this.faultListeners.delete(listener);
  }

  private fault(source: string, e: { message: string; stack?: string }): void {
    const f: VmFault = { source, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) };
    this.faults.push(f);
    for (const l of this.faultListeners) l(f);
  }

  /**
   * @internal
   * Device types recover what a dead thread held outside the lock arena (the
   * vGIC's spin words) here; called with the thread's tid after its mutexes.
   */
  onThreadDeath(hook: (tid: number) => void): void {
    this.deathHooks.push(hook);
  }

  /** A worker exited: recover its locks (EOWNERDEAD for the next owner) and mark its vCPU exited. */
  private workerDied(tid: number, label: string, vcpuId?: number): void {
    const recovered = this.rt.arena.recoverThread(tid);
    for (const hook of this.deathHooks) hook(tid);
    if (vcpuId !== undefined && this.rt.vcpus.state(vcpuId) !== VCPU_EXITED) {
      Atomics.store(this.rt.vcpus.i32, this.rt.vcpus.word(vcpuId, V_EXIT_REASON), EXIT_DIED);
      this.rt.vcpus.setState(vcpuId, VCPU_EXITED);
      Atomics.store(this.rt.vcpus.i32, this.rt.vcpus.word(vcpuId, V_PAUSE_ACK), -1);
      Atomics.notify(this.rt.vcpus.i32, this.rt.vcpus.word(vcpuId, V_PAUSE_ACK));
      const slot = this.vcpuSlots[vcpuId];
      if (slot !== undefined && slot.exited === undefined) slot.exited = { vcpuId, reason: EXIT_REASON_NAMES[EXIT_DIED] };
    }
    if (this.state !== 'destroyed') {
      const held = recovered.map((l) => this.rt.arena.lockInfo(l)).map((l) => `${l.className}#${l.instance}`);
      this.fault(label, { message: `${label} exited${held.length ? ` holding ${held.join(', ')} (recovered, EOWNERDEAD to the next owner)` : ''}` });
    }
  }

  /**
   * The worker threads of this VM, for fault injection: terminating one shows
   * the owner-death path (its locks recovered, -EOWNERDEAD to the next owner).
   */
  workers(): {
    /** vCPU i's worker at index i. */
    vcpus: Worker[];
    /** The actor hosts' workers, in creation order. */
    hosts: Worker[];
  } {
    return { vcpus: this.vcpuSlots.map((s) => s.worker), hosts: this.hosts.map((h) => h.worker) };
  }

  /**
   * Tear the VM down: every vCPU is asked to exit (unwinding its guest), every
   * actor host to stop; whatever does not finish within `timeoutMs` is
   * terminated. Resolves when no worker of the VM is left running.
   */
  destroy(timeoutMs = 5000): Promise<void> {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) return Promise.reject(new RangeError(`destroy: timeoutMs must be a number >= 0 (got ${String(timeoutMs)})`));
    // Back to the OS scheduler first: a VMM operation waiting for its turn holds `ops` (and a turn
    // holder that never yields would keep it forever); ended, it goes on uncontrolled and lets us in.
    this.rt.sched?.end('done');
    return this.ops.runExclusive(async () => {
      if (this.state === 'destroyed') return;
      this.state = 'destroyed';
      // Whatever the VMM still holds (lockAllVcpus without unlock) would keep vCPUs from ever seeing the exit request.
      for (const l of this.rt.arena.locksHeldBy(this.rt.tid)) this.rt.thread.mutex(l).unlock();
      const b = this.rt.vcpus;
      for (let i = 0; i < this.vcpuSlots.length; i++) b.request(i, REQ_EXIT, b.doorbell(i));
      // A worker that has exited (died, was terminated) will never answer: stop waiting for it once it is gone.
      const gone = (w: Worker) => new Promise<void>((resolve) => (w.threadId === -1 ? resolve() : w.once('exit', () => resolve())));
      const exits = this.vcpuSlots.map((s) => Promise.race([s.exit ?? Promise.resolve(), gone(s.worker)]));
      const stops = this.hosts.map((h) => Promise.race([new Promise<void>((resolve) => {
        h.stopped = resolve;
        h.ctl.postMessage({ type: 'stop' } satisfies HostControl);
        this.rt.dir.doorbell(h.host).requestControl();
      }), gone(h.worker)]));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...exits, ...stops]),
        new Promise((r) => (timer = setTimeout(r, timeoutMs))),
      ]);
      clearTimeout(timer);
      for (const s of this.vcpuSlots) s.remote[Comlink.releaseProxy]();
      await Promise.all([...this.vcpuSlots.map((s) => s.worker), ...this.hosts.map((h) => h.worker)].map((w) => w.terminate()));
      for (const h of this.hosts) h.ctl.close();
      this.rt.transport.close();
    });
  }
}
