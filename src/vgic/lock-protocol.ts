/**
 * Lock protocols as data: which locks each userspace-ioctl path of the vGIC
 * takes, in which order, and which are trylocks. The two built-in protocols
 * are today's (upstream, since v6.4) and the 2017 v7 save/restore patch's.
 * A protocol is executed by acquire(); anything it takes is released in
 * reverse order, also when a trylock fails (-EBUSY, nothing held).
 */
import type { VmRuntime } from '../kvm/shared.js';
import type { Mutex } from '../sync/mutex.js';
import { EBUSY } from '../uapi/errno.js';

/** A lock a path names: VM-wide ones, every vCPU's mutex (in vcpu_id order), or this ITS's. */
export type LockRef = 'kvm.lock' | 'vcpu.mutex[all]' | 'config_lock' | 'its.cmd_lock' | 'its.its_lock';

/** One lock a path takes, and how. */
export interface LockStep {
  /** Which lock. */
  lock: LockRef;
  /** 'trylock' fails the whole path with -EBUSY instead of waiting. */
  mode: 'lock' | 'trylock';
}

/**
 * Which locks each userspace-ioctl path of the vGIC takes, in order, and
 * which are trylocks (`createVm({ gic: { lockProtocol } })`). Each path's
 * steps run in order and are released in reverse.
 */
export interface LockProtocol {
  /** Shown in reports and snapshots. */
  name: string;
  /** SAVE_TABLES, RESTORE_TABLES and CTRL_RESET on an ITS (vgic_its_ctrl). */
  itsCtrl: readonly LockStep[];
  /** Userspace access to GITS_* registers (GRP_ITS_REGS). */
  itsRegs: readonly LockStep[];
  /** SAVE_PENDING_TABLES on the vgic-v3 device. */
  savePending: readonly LockStep[];
  /** RESTORE_TABLES ends by calling kvm_vgic_map_resources (the seed patch; dropped before v4.12 merged). */
  restoreCallsMapResources: boolean;
}

const lock = (l: LockRef): LockStep => ({ lock: l, mode: 'lock' });
const trylock = (l: LockRef): LockStep => ({ lock: l, mode: 'trylock' });

/** Today: kvm->lock -> trylock every vcpu->mutex -> config_lock -> its_lock (49e5d16b6fc0, v6.4). */
export const UPSTREAM: LockProtocol = Object.freeze({
  name: 'upstream',
  itsCtrl: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock'), lock('its.its_lock')],
  itsRegs: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock')],
  savePending: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock')],
  restoreCallsMapResources: false,
});

/** The 2017 v7 patch (and v4.12 .. v6.3): kvm->lock -> its_lock -> trylock every vcpu->mutex. */
export const V7_2017: LockProtocol = Object.freeze({
  name: 'v7-2017',
  itsCtrl: [lock('kvm.lock'), lock('its.its_lock'), trylock('vcpu.mutex[all]')],
  itsRegs: [lock('kvm.lock'), trylock('vcpu.mutex[all]')],
  savePending: [lock('kvm.lock'), trylock('vcpu.mutex[all]')],
  restoreCallsMapResources: true,
});

/** The built-in protocols by name ('upstream', 'v7-2017'). */
export const LOCK_PROTOCOLS: Readonly<Record<string, LockProtocol>> = Object.freeze({ upstream: UPSTREAM, 'v7-2017': V7_2017 });

/** Resolve a protocol option: a built-in name or a user-defined protocol. Throws TypeError naming the option. */
export function resolveLockProtocol(p: string | LockProtocol | undefined, option = 'options.gic.lockProtocol'): LockProtocol {
  if (p === undefined) return UPSTREAM;
  if (typeof p === 'string') {
    const found = LOCK_PROTOCOLS[p];
    if (found === undefined) throw new TypeError(`${option}: unknown lock protocol '${p}' (built-in: ${Object.keys(LOCK_PROTOCOLS).join(', ')})`);
    return found;
  }
  const refs: LockRef[] = ['kvm.lock', 'vcpu.mutex[all]', 'config_lock', 'its.cmd_lock', 'its.its_lock'];
  for (const path of ['itsCtrl', 'itsRegs', 'savePending'] as const) {
    const steps = p?.[path];
    // SAVE_PENDING_TABLES belongs to the vgic-v3 device: it has no ITS locks to take.
    const allowed = path === 'savePending' ? refs.filter((r) => !r.startsWith('its.')) : refs;
    if (!Array.isArray(steps) || !steps.every((s) => allowed.includes(s?.lock) && (s.mode === 'lock' || s.mode === 'trylock'))) {
      throw new TypeError(`${option}.${path} must be an array of { lock: ${allowed.join(' | ')}, mode: 'lock' | 'trylock' }`);
    }
    if (new Set(steps.map((s) => s.lock)).size !== steps.length) throw new TypeError(`${option}.${path} names a lock twice`);
  }
  return { name: String(p.name ?? 'custom'), itsCtrl: p.itsCtrl, itsRegs: p.itsRegs, savePending: p.savePending, restoreCallsMapResources: !!p.restoreCallsMapResources };
}

/** The mutexes a path can name, as the executing thread's handles. */
export interface PathLocks {
  kvm: Mutex;
  config: Mutex;
  vcpus: readonly Mutex[];
  cmd?: Mutex;
  its?: Mutex;
}

export function pathLocks(rt: VmRuntime, its?: { cmdLock: number; itsLock: number }): PathLocks {
  const t = rt.thread, l = rt.shared.locks;
  return {
    kvm: t.mutex(l.kvm),
    config: t.mutex(l.config),
    vcpus: l.vcpu.map((i) => t.mutex(i)),
    ...(its ? { cmd: t.mutex(its.cmdLock), its: t.mutex(its.itsLock) } : {}),
  };
}

/**
 * Take the locks of `steps` in order. `blockingVcpuLocks` turns the vCPU
 * trylocks into blocking locks: the negative-test switch that reproduces the
 * ABBA deadlock of spec 7.5. Returns the release function, or -EBUSY with
 * nothing held.
 */
export function acquire(steps: readonly LockStep[], locks: PathLocks, blockingVcpuLocks = false): (() => void) | number {
  // Resolve every step before taking anything: a bad protocol must not fail halfway with locks held.
  const plan = steps.map((step) => ({
    targets: step.lock === 'vcpu.mutex[all]' ? locks.vcpus : [resolve(step.lock, locks)],
    mode: step.lock === 'vcpu.mutex[all]' && blockingVcpuLocks ? 'lock' : step.mode,
  }));
  const held: Mutex[] = [];
  const release = () => {
    for (let i = held.length - 1; i >= 0; i--) held[i]!.unlock();
  };
  try {
    for (const { targets, mode } of plan) {
      for (const m of targets) {
        if (mode === 'lock') m.lock(); // -EOWNERDEAD still means acquired
        else if (m.tryLock() === -EBUSY) {
          release();
          return -EBUSY;
        }
        held.push(m);
      }
    }
  } catch (e) {
    release(); // e.g. a protocol that takes the same lock twice (recursive locking)
    throw e;
  }
  return release;
}

function resolve(ref: LockRef, l: PathLocks): Mutex {
  const m = ref === 'kvm.lock' ? l.kvm : ref === 'config_lock' ? l.config : ref === 'its.cmd_lock' ? l.cmd : l.its;
  if (m === undefined) throw new TypeError(`lock protocol names ${ref}, which this path does not have`);
  return m;
}
