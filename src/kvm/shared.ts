/**
 * Everything a thread of a VM needs to attach to it: the shared buffers (sent
 * once, in workerData) and, per thread, the views and handles built on them.
 * Knows nothing of the GIC: device types put their own shared state under
 * `devices` and their per-vCPU code under `vcpuExtensions`.
 */
import { ActorClient } from '../actors/client.js';
import { ActorDirectory } from '../actors/directory.js';
import { PostMessageTransport, type PostMessageShared } from '../actors/transport-postmessage.js';
import { SharedMemoryTransport } from '../actors/transport-shared-memory.js';
import type { Transport } from '../actors/transport.js';
import { GuestMemory, type Memslot } from '../mem/guest-memory.js';
import { LockArena, type ThreadKind } from '../sync/arena.js';
import { ThreadContext } from '../sync/thread.js';
import { Validator } from '../sync/validator.js';
import { composeObservers } from '../sync/observers.js';
import { TimelineWriter, timelineSlots } from '../trace/timeline.js';
import { timelineLockObserver } from '../trace/lock-observer.js';
import { KEY_ACTOR_HOST, KEY_INJECTOR, KEY_OTHER, KEY_VCPU, KEY_VMM, Schedule, threadKey } from '../sync/schedule.js';
import { IoBus } from './io-bus.js';
import { VcpuBlock } from './vcpu-block.js';

/** Lock indices of the VM-wide kernel locks. */
export interface VmLocks {
  kvm: number;
  slots: number;
  config: number;
  /** vcpu.mutex of each vCPU, by vcpu_id. */
  vcpu: number[];
}

/** A module loaded by every vCPU worker: adds per-vCPU device code (e.g. the GIC CPU interface). */
export interface VcpuExtensionSpec {
  /** Property name under which the guest API exposes it (e.g. 'gic'). */
  name: string;
  /** Module URL; it exports `attachVcpu(rt, vcpuId)`. */
  module: string;
}

export interface VmShared {
  arena: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  memslots: Memslot[];
  vcpus: SharedArrayBuffer;
  bus: SharedArrayBuffer;
  nrVcpus: number;
  locks: VmLocks;
  /** Device-type state shared by all threads, keyed by device type. */
  devices: Record<string, unknown>;
  vcpuExtensions: VcpuExtensionSpec[];
  /** The lock-order validator's shared state, when the VM runs it. */
  validator?: SharedArrayBuffer;
  /** The controlled scheduler's shared state, when the VM runs under one. */
  schedule?: SharedArrayBuffer;
  /** The timeline recorder (one ring per thread, slot = tid - 1), when the VM records one. */
  timeline?: SharedArrayBuffer;
  /** The postMessage transport's channel names and words (options.actorTransport 'postmessage'); absent: shared-memory mailboxes. */
  transport?: PostMessageShared;
}

const KEY_OF_KIND: Record<string, number> = { vmm: KEY_VMM, vcpu: KEY_VCPU, actor: KEY_ACTOR_HOST, injector: KEY_INJECTOR };

/**
 * Every SharedArrayBuffer of a VM, in an order every thread computes alike:
 * a controlled-schedule wait names its word by (buffer number, index).
 */
export function vmBuffers(shared: VmShared): SharedArrayBuffer[] {
  const out: SharedArrayBuffer[] = [];
  const seen = new Set<SharedArrayBuffer>();
  const walk = (v: unknown, depth: number): void => {
    if (v instanceof SharedArrayBuffer) {
      if (!seen.has(v)) { seen.add(v); out.push(v); }
    } else if (ArrayBuffer.isView(v)) {
      walk(v.buffer, depth);
    } else if (depth > 0 && v !== null && typeof v === 'object') {
      for (const k of Object.keys(v).sort()) walk((v as Record<string, unknown>)[k], depth - 1);
    }
  };
  walk([shared.arena, shared.directory, shared.vcpus, shared.bus], 1);
  walk(shared.memslots, 3);
  walk(shared.devices, 4);
  if (shared.validator !== undefined) walk(shared.validator, 0);
  if (shared.timeline !== undefined) walk(shared.timeline, 0);
  return out;
}

/** One thread's view of a VM. */
export class VmRuntime {
  readonly arena: LockArena;
  readonly dir: ActorDirectory;
  /** Guest RAM as the guest sees it (no dirty logging). */
  readonly mem: GuestMemory;
  /** Guest RAM as device code writes it (dirty-logged, like KVM's table writes). */
  readonly devMem: GuestMemory;
  readonly bus: IoBus;
  readonly vcpus: VcpuBlock;
  readonly thread: ThreadContext;
  readonly client: ActorClient;
  /** How this thread reaches actors and, on an actor host, receives their messages (options.actorTransport). */
  readonly transport: Transport;
  /** This thread's timeline ring (null unless the VM records a timeline). */
  readonly timeline: TimelineWriter | null = null;

  constructor(readonly shared: VmShared, tid: number) {
    this.arena = new LockArena(shared.arena);
    this.dir = new ActorDirectory(shared.directory);
    this.mem = new GuestMemory(shared.memslots);
    this.devMem = this.mem.withDirtyLog();
    this.bus = new IoBus(shared.bus);
    this.vcpus = new VcpuBlock(shared.vcpus);
    this.thread = new ThreadContext(this.arena, tid);
    if (shared.validator !== undefined) new Validator(shared.validator, this.arena).observe(this.thread);
    if (shared.timeline !== undefined && tid - 1 < timelineSlots(shared.timeline)) {
      this.timeline = new TimelineWriter(shared.timeline, tid - 1);
      this.thread.observer = composeObservers(this.thread.observer, timelineLockObserver(this.timeline));
    }
    this.attachSchedule();
    this.transport = shared.transport === undefined
      ? new SharedMemoryTransport(this.dir, this.arena, tid)
      : new PostMessageTransport(shared.transport, this.dir, this.arena, tid);
    this.client = new ActorClient(this.dir, this.arena, tid, this.transport);
  }

  /** Register a new thread in the VM's arena and attach to it. */
  static register(shared: VmShared, kind: ThreadKind, index: number, name: string): VmRuntime {
    const arena = new LockArena(shared.arena);
    return new VmRuntime(shared, arena.registerThread(kind, index, name));
  }

  /**
   * (Re)build this thread's handle on the VM's controlled schedule. Waits name
   * words by buffer number (vmBuffers), so every thread must number the
   * buffers of the same VmShared; the VMM calls this again once device types
   * have added theirs.
   */
  attachSchedule(): Schedule | null {
    const shared = this.shared;
    if (shared.schedule === undefined) return null;
    const t = this.arena.threadInfo(this.tid);
    this.thread.sched = new Schedule(shared.schedule, vmBuffers(shared), threadKey(KEY_OF_KIND[t.kind] ?? KEY_OTHER, t.index));
    return this.thread.sched;
  }

  /** The controlled schedule this thread takes part in, if the VM runs under one. */
  get sched(): Schedule | null {
    return this.thread.sched;
  }

  get tid(): number {
    return this.thread.tid;
  }
}
