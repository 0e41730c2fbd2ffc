/**
 * createVm() options in three layers (piscina's pattern): what the user
 * passes (VmOptions, every field documented with its default), the defaults,
 * and the resolved, validated form. Validation errors name the option.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MemslotSpec } from '../mem/guest-memory.js';
import type { LockStatLevel } from '../sync/arena.js';
import type { ValidatorOptions } from '../sync/validator.js';
import type { ScheduleConfig } from '../sync/schedule.js';
import type { ActorTransportKind } from '../actors/transport.js';

/** Which guest program every vCPU runs. */
export interface GuestSpec {
  /**
   * A built-in program ('idle', 'spin', 'mmio-loop', 'throw', 'lpi-handler',
   * 'its-setup'), or the file URL or path (absolute, or relative to the
   * current directory) of a module whose default export is a GuestMain.
   */
  module: string | URL;
  /** Passed to the guest program as its second argument (structured-cloned to each vCPU). Default undefined. */
  args?: unknown;
}

/** What a VM is made of and how it runs (the part of {@link CreateVmOptions} that is not the GIC). Every field is optional. */
export interface VmOptions {
  /** Number of vCPUs, 1..256 (one worker thread each). Default 1. */
  vcpus?: number;
  /**
   * Guest RAM: a size in bytes (one memslot at 0x4000_0000), or explicit memslots.
   * Default 64 MiB.
   */
  memory?: number | MemslotSpec[];
  /** Guest program run by every vCPU. Default: the built-in 'idle' (WFI forever). */
  guest?: GuestSpec | string;
  /** What lock_stat records: 'off', 'counts' or 'full' (wait and hold times). Default 'full'. */
  lockStat?: LockStatLevel;
  /** 'worker-per-actor' gives each actor its own thread; 'shared' runs all actors on one. Default 'worker-per-actor'. */
  actorPlacement?: 'worker-per-actor' | 'shared';
  /**
   * How every thread (vCPUs, injectors, the VMM, actor hosts) sends messages
   * to actors and gets their replies:
   *  - 'shared-memory': each actor's mailbox ring and the reply board in a
   *    SharedArrayBuffer (a CAS and a few stores per message). The default.
   *  - 'postmessage': a message channel per (actor, sender thread); the same
   *    15-word Int32Array is posted (structured clone) and the reply posted
   *    back, a blocked requester woken through a shared word. For comparison
   *    (`npm run bench transport`); not supported under options.schedule.
   * Locks, the validator, the deadlock detector, faults (-EFAULT) and dead
   * actors (-ENODEV) behave the same with both.
   */
  actorTransport?: ActorTransportKind;
  /** Slots per actor mailbox, a power of two in 2..2^20. Default 1024. */
  mailboxCapacity?: number;
  /** Int32 result words per vCPU (Guest.results), 1..2^20. Default 256. */
  resultWords?: number;
  /** How long pause() (and start()) wait for every vCPU before failing with -ETIMEDOUT, > 0. Default 10000 ms. */
  pauseTimeoutMs?: number;
  /** Maximum actors (devices) in the VM, 1..1024. Default 32. */
  maxActors?: number;
  /**
   * Threads the VM may register over its life: the VMM, vCPUs, actor hosts
   * and every injector thread ever attached (an exited thread keeps its tid,
   * as lock words and reports may still name it), vcpus + 2..16384. Default 256.
   */
  maxThreads?: number;
  /**
   * Run the lock-order validator on every thread of the VM (`true` for the
   * defaults: today's hierarchy, or the lock protocol's own when it declares
   * one (LockProtocol.hierarchy); vcpu.mutex nesting under kvm.lock). Costs an
   * observer call per lock operation. Default off.
   */
  validator?: boolean | ValidatorOptions;
  /**
   * Run the VM under a controlled schedule: one thread at a time, a seeded
   * strategy ('random' or 'pct') choosing at every scheduling point, virtual
   * time for timeouts. Same seed, same interleaving. Default: none (the OS schedules).
   */
  schedule?: ScheduleConfig;
  /**
   * Record a timeline of the run (KVM_RUN spans, lock waits and holds, actor
   * messages, MSIs) for vm.chromeTrace(): `true`, or the events kept per
   * thread (a ring: the newest are kept). Default off.
   */
  timeline?: boolean | {
    /** Events kept per thread, 16..2^20 (the newest win). Default 4096. */
    eventsPerThread?: number;
  };
}

export const VM_DEFAULTS = {
  vcpus: 1,
  memory: 64 * 1024 * 1024,
  ramBase: 0x4000_0000,
  guest: 'idle',
  lockStat: 'full' as LockStatLevel,
  actorPlacement: 'worker-per-actor' as const,
  actorTransport: 'shared-memory' as ActorTransportKind,
  mailboxCapacity: 1024,
  resultWords: 256,
  pauseTimeoutMs: 10_000,
  maxActors: 32,
  maxThreads: 256,
};

export interface ResolvedVmOptions {
  vcpus: number;
  memory: MemslotSpec[];
  guest: { module: string; args: unknown };
  lockStat: LockStatLevel;
  actorPlacement: 'worker-per-actor' | 'shared';
  actorTransport: ActorTransportKind;
  mailboxCapacity: number;
  resultWords: number;
  pauseTimeoutMs: number;
  maxActors: number;
  maxThreads: number;
  validator: ValidatorOptions | undefined;
  schedule: ScheduleConfig | undefined;
  /** Events kept per thread, when the timeline is on. */
  timeline: { eventsPerThread: number } | undefined;
}

const BUILTIN_GUESTS = new Set(['idle', 'spin', 'mmio-loop', 'throw', 'lpi-handler', 'its-setup']);

/** URL of a built-in guest program, or the module given; a file that does not exist is refused here, not in every vCPU. */
export function resolveGuestModule(module: string | URL): string {
  const href = guestModuleHref(module);
  if (href.startsWith('file:') && !existsSync(new URL(href))) throw new TypeError(`options.guest.module: no such file ${fileURLToPath(href)}`);
  return href;
}

function guestModuleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string') throw new TypeError('options.guest.module must be a string or a URL');
  if (BUILTIN_GUESTS.has(module)) return new URL(`../guest/programs/${module}.js`, import.meta.url).href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module)) return module;
  if (module.startsWith('/') || module.startsWith('.')) return pathToFileURL(resolve(module)).href;
  throw new TypeError(`options.guest.module: '${module}' is neither a built-in guest (${[...BUILTIN_GUESTS].join(', ')}) nor a path or URL`);
}

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`options.${name} must be an integer`);
  if (v < min || v > max) throw new RangeError(`options.${name} must be in ${min}..${max} (got ${v})`);
  return v;
}

export function resolveVmOptions(o: VmOptions = {}): ResolvedVmOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const vcpus = int('vcpus', o.vcpus ?? VM_DEFAULTS.vcpus, 1, 256);
  const memOpt = o.memory ?? VM_DEFAULTS.memory;
  const memory = typeof memOpt === 'number'
    ? [{ gpa: VM_DEFAULTS.ramBase, size: int('memory', memOpt, 4096, 2 ** 40) }]
    : memOpt;
  const g = o.guest ?? VM_DEFAULTS.guest;
  const guestSpec: GuestSpec = typeof g === 'string' || g instanceof URL ? { module: g } : g;
  if (guestSpec === null || typeof guestSpec !== 'object' || guestSpec.module === undefined) {
    throw new TypeError('options.guest must be a module name/URL or { module, args }');
  }
  try {
    structuredClone(guestSpec.args);
  } catch (e) {
    throw new TypeError(`options.guest.args must be structured-cloneable (it is copied to every vCPU): ${(e as Error).message}`);
  }
  const lockStat = o.lockStat ?? VM_DEFAULTS.lockStat;
  if (!['off', 'counts', 'full'].includes(lockStat)) throw new TypeError(`options.lockStat must be 'off', 'counts' or 'full'`);
  const actorPlacement = o.actorPlacement ?? VM_DEFAULTS.actorPlacement;
  if (!['worker-per-actor', 'shared'].includes(actorPlacement)) {
    throw new TypeError(`options.actorPlacement must be 'worker-per-actor' or 'shared'`);
  }
  const actorTransport = o.actorTransport ?? VM_DEFAULTS.actorTransport;
  if (actorTransport !== 'shared-memory' && actorTransport !== 'postmessage') {
    throw new TypeError(`options.actorTransport must be 'shared-memory' or 'postmessage'`);
  }
  if (actorTransport === 'postmessage' && o.schedule !== undefined) {
    throw new TypeError(`options.schedule: the controlled scheduler does not support options.actorTransport 'postmessage' (it cannot see a message channel); use 'shared-memory'`);
  }
  const mailboxCapacity = int('mailboxCapacity', o.mailboxCapacity ?? VM_DEFAULTS.mailboxCapacity, 2, 1 << 20);
  if ((mailboxCapacity & (mailboxCapacity - 1)) !== 0) throw new RangeError('options.mailboxCapacity must be a power of two');
  const pauseTimeoutMs = o.pauseTimeoutMs ?? VM_DEFAULTS.pauseTimeoutMs;
  if (typeof pauseTimeoutMs !== 'number' || !(pauseTimeoutMs > 0)) throw new RangeError('options.pauseTimeoutMs must be a positive number');
  return {
    vcpus,
    memory,
    guest: { module: resolveGuestModule(guestSpec.module), args: guestSpec.args },
    lockStat,
    actorPlacement,
    actorTransport,
    mailboxCapacity,
    resultWords: int('resultWords', o.resultWords ?? VM_DEFAULTS.resultWords, 1, 1 << 20),
    pauseTimeoutMs,
    maxActors: int('maxActors', o.maxActors ?? VM_DEFAULTS.maxActors, 1, 1024),
    // Room for the VMM, every vCPU and one actor host at least.
    maxThreads: int('maxThreads', o.maxThreads ?? VM_DEFAULTS.maxThreads, vcpus + 2, 16_384),
    validator: resolveValidatorOptions(o.validator),
    schedule: o.schedule === undefined ? undefined : resolveSchedule(o.schedule),
    timeline: o.timeline === undefined || o.timeline === false ? undefined
      : o.timeline === true ? { eventsPerThread: 4096 }
        : typeof o.timeline === 'object' && o.timeline !== null
          ? { eventsPerThread: int('timeline.eventsPerThread', o.timeline.eventsPerThread ?? 4096, 16, 1 << 20) }
          : (() => { throw new TypeError('options.timeline must be a boolean or { eventsPerThread }'); })(),
  };
}

function resolveValidatorOptions(v: VmOptions['validator']): ValidatorOptions | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return {};
  if (v === null || typeof v !== 'object') throw new TypeError('options.validator must be a boolean or ValidatorOptions');
  const names = (x: unknown): boolean => Array.isArray(x) && x.every((n) => typeof n === 'string' && n.length > 0);
  const h = v.hierarchy;
  if (h !== undefined && h !== 'upstream' && h !== '2017' && h !== 'none' && !names(h)) {
    throw new TypeError(`options.validator.hierarchy must be 'upstream', '2017', 'none' or an array of lock class names`);
  }
  if (v.nestable !== undefined && !(Array.isArray(v.nestable) && v.nestable.every((n) => (typeof n === 'string' && n.length > 0)
    || (n !== null && typeof n === 'object' && typeof n.class === 'string' && (n.under === undefined || typeof n.under === 'string'))))) {
    throw new TypeError('options.validator.nestable must be an array of class names or { class, under? }');
  }
  if (v.maxFindings !== undefined) int('validator.maxFindings', v.maxFindings, 1, 1 << 16);
  if (v.stopAtFirst !== undefined && typeof v.stopAtFirst !== 'boolean') throw new TypeError('options.validator.stopAtFirst must be a boolean');
  return v;
}

function resolveSchedule(s: ScheduleConfig): ScheduleConfig {
  if (s === null || typeof s !== 'object') throw new TypeError('options.schedule must be { strategy, seed }');
  if (s.strategy !== 'random' && s.strategy !== 'pct') throw new TypeError(`options.schedule.strategy must be 'random' or 'pct'`);
  int('schedule.seed', s.seed, 0, 0xffffffff);
  if (s.pctDepth !== undefined) int('schedule.pctDepth', s.pctDepth, 1, 9);
  if (s.stepBudget !== undefined) int('schedule.stepBudget', s.stepBudget, 1, 2 ** 31 - 1);
  if (s.pctHorizon !== undefined) int('schedule.pctHorizon', s.pctHorizon, 1, 2 ** 31 - 1);
  return { ...s };
}
