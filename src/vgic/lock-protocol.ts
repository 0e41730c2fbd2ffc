/**
 * Lock protocols as data: which locks each userspace-ioctl path of the vGIC
 * takes, in which order, and which are trylocks. The two built-in protocols
 * are today's (upstream, since v6.4) and the 2017 v7 save/restore patch's.
 * A protocol is executed by acquire(); anything it takes is released in
 * reverse order, also when a trylock fails (-EBUSY, nothing held).
 */
import type { VmRuntime } from '../kvm/shared.js';
import type { Mutex } from '../sync/mutex.js';
import { CONFIG_LOCK, ITS_CMD_LOCK, ITS_ITS_LOCK, KVM_LOCK, SLOTS_LOCK, VCPU_MUTEX } from '../sync/classes.js';
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
  /**
   * The declared lock order the validator checks on a VM running this
   * protocol (createVm with `validator: true`, every stress run): lock class
   * names (LOCK_CLASSES), outermost first; or 'derive': the one order that
   * this protocol's paths and the paths it does not govern (a vCPU's ITS
   * commands, its first run, lockAllVcpus) all follow, computed by
   * resolveLockProtocol, which throws naming two paths that disagree.
   * Default: today's hierarchy (LOCK_ORDER_UPSTREAM), the order a proposal is
   * reviewed against. The built-in protocols leave it unset.
   */
  hierarchy?: readonly string[] | 'derive';
}

/** The lock classes a hierarchy may name (src/sync/classes.ts), in today's order (kvm.slots_lock above config_lock). */
export const LOCK_CLASSES: readonly string[] = Object.freeze([KVM_LOCK, VCPU_MUTEX, SLOTS_LOCK, CONFIG_LOCK, ITS_CMD_LOCK, ITS_ITS_LOCK]);

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

/**
 * Resolve a protocol option: a built-in name or a user-defined protocol,
 * validated (TypeError naming the option and field), with a 'derive'
 * hierarchy computed. The result is plain data (it travels in snapshots).
 */
export function resolveLockProtocol(p: string | LockProtocol | undefined, option = 'options.gic.lockProtocol'): LockProtocol {
  if (p === undefined) return UPSTREAM;
  if (typeof p === 'string') {
    const found = LOCK_PROTOCOLS[p];
    if (found === undefined) throw new TypeError(`${option}: unknown lock protocol '${p}' (built-in: ${Object.keys(LOCK_PROTOCOLS).join(', ')})`);
    return found;
  }
  if (p === null || typeof p !== 'object') throw new TypeError(`${option} must be 'upstream', 'v7-2017' or a LockProtocol object`);
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
  if (p.name !== undefined && (typeof p.name !== 'string' || p.name === '')) throw new TypeError(`${option}.name must be a non-empty string`);
  const out: LockProtocol = {
    name: p.name ?? 'custom', itsCtrl: p.itsCtrl, itsRegs: p.itsRegs, savePending: p.savePending, restoreCallsMapResources: !!p.restoreCallsMapResources,
  };
  if (p.hierarchy === 'derive') out.hierarchy = deriveHierarchy(out, `${option}.hierarchy`);
  else if (p.hierarchy !== undefined) out.hierarchy = checkHierarchy(p.hierarchy, `${option}.hierarchy`);
  return out;
}

function checkHierarchy(h: unknown, option: string): string[] {
  if (!Array.isArray(h) || !h.every((c) => typeof c === 'string' && LOCK_CLASSES.includes(c))) {
    throw new TypeError(`${option} must be 'derive' or an array of lock classes (${LOCK_CLASSES.join(', ')}), outermost first`);
  }
  if (new Set(h).size !== h.length) throw new TypeError(`${option} names a lock class twice`);
  return [...h] as string[];
}

/** The class a path step takes (every vCPU's mutex is one class). */
const classOf = (ref: LockRef): string => (ref === 'vcpu.mutex[all]' ? VCPU_MUTEX : ref);

/** Paths no protocol governs, in the order they take their locks (a 'derive' hierarchy must fit them too). */
const UNGOVERNED: readonly { what: string; order: readonly string[] }[] = [
  { what: "a vCPU's ITS commands (CWRITER write, served by the ITS actor)", order: [VCPU_MUTEX, ITS_CMD_LOCK, ITS_ITS_LOCK] },
  { what: "a vCPU's first run (map_resources)", order: [VCPU_MUTEX, SLOTS_LOCK, CONFIG_LOCK] },
  { what: 'lockAllVcpus (the VMM)', order: [KVM_LOCK, VCPU_MUTEX] },
];

/**
 * The hierarchy a protocol implies: every path's lock order (trylocks
 * count: the validator checks them against the hierarchy too) merged into
 * one, ties broken by today's order. Throws TypeError naming two paths that
 * take two classes in opposite orders (no hierarchy fits both).
 */
export function deriveHierarchy(p: LockProtocol, option = 'hierarchy'): string[] {
  const steps = (path: readonly LockStep[]) => path.map((s) => classOf(s.lock));
  // RESTORE_TABLES then calls map_resources with the protocol's locks still held.
  const ctrl = steps(p.itsCtrl);
  if (p.restoreCallsMapResources) ctrl.push(...[SLOTS_LOCK, CONFIG_LOCK].filter((c) => !ctrl.includes(c)));
  const paths = [
    { what: `${p.name}'s itsCtrl (SAVE/RESTORE_TABLES, CTRL_RESET)`, order: ctrl },
    { what: `${p.name}'s itsRegs (GITS_* register access)`, order: steps(p.itsRegs) },
    { what: `${p.name}'s savePending (SAVE_PENDING_TABLES)`, order: steps(p.savePending) },
    ...UNGOVERNED,
  ];
  const before = new Map<string, string>(); // 'a b' (a taken before b) -> the path that does so
  for (const { what, order } of paths) {
    for (let i = 0; i < order.length; i++) {
      for (let j = i + 1; j < order.length; j++) {
        const [a, b] = [order[i]!, order[j]!];
        const other = before.get(`${b} ${a}`);
        if (other !== undefined) {
          throw new TypeError(`${option}: 'derive' finds no order: ${other} takes ${b} before ${a}, ${what} takes ${a} before ${b}`);
        }
        if (!before.has(`${a} ${b}`)) before.set(`${a} ${b}`, what);
      }
    }
  }
  // Kahn's topological sort, preferring today's order among the ready classes.
  const nodes = LOCK_CLASSES.filter((c) => paths.some((x) => x.order.includes(c)));
  const out: string[] = [];
  while (out.length < nodes.length) {
    const ready = nodes.find((c) => !out.includes(c) && nodes.every((d) => out.includes(d) || d === c || !before.has(`${d} ${c}`)));
    if (ready === undefined) {
      throw new TypeError(`${option}: 'derive' finds no order: the paths take ${nodes.filter((c) => !out.includes(c)).join(', ')} in a cycle`);
    }
    out.push(ready);
  }
  return out;
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
