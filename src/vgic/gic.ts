/**
 * The vGICv3 of a VM, on the VMM thread: creates the shared vGIC state and
 * the distributor actor before the vCPUs start, creates ITS devices (an actor
 * each), and implements KVM_SIGNAL_MSI for the main thread. What it registers
 * on the MMIO bus: every redistributor at once (v4.12+), the distributor at
 * map_resources (first vCPU run), ITS frames per the registration policy.
 */
import type { Vm } from '../kvm/vm.js';
import type { VcpuExtensionSpec } from '../kvm/shared.js';
import { ITS_CMD_LOCK, ITS_ITS_LOCK } from '../sync/classes.js';
import { INITIAL_PROPBASER_VALUE } from '../uapi/gic-fields.js';
import { KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE } from '../uapi/kvm.js';
import { REGION_GICD } from './dist-actor.js';
import { ItsDevice } from './its-device.js';
import { VgicV3Device } from './vgic-v3-device.js';
import {
  defaultItsBase, GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE, IODEV_KIND_DIST, IODEV_KIND_REDIST, VGIC_DEVICE_KEY,
  type IodevRegistration, type VgicShared,
} from './layout.js';
import { MsiInjector, type InjectorHandle, type KvmMsi } from './msi.js';
import { D_NR_ITS, I_ACTOR, I_LIVE, MAX_ITS, VgicState } from './vgic-state.js';
import { Vgic } from './vgic.js';
import { resolveLockProtocol, type LockProtocol } from './lock-protocol.js';

const DIST_ACTOR = new URL('./dist-actor.js', import.meta.url).href;
const ITS_ACTOR = new URL('./its/its-actor.js', import.meta.url).href;
const CPU_INTERFACE = new URL('./cpu-interface.js', import.meta.url).href;

/** The interrupt controller's options (`createVm({ gic })`). Every field is optional. */
export interface GicOptions {
  /** ITS devices created with the VM, 0..16. Default 1. */
  its?: number;
  /** Set each ITS's base (GRP_ADDR) at defaultItsBase(n) when creating it. Default true. */
  setItsBases?: boolean;
  /** 'base-address' (default; KVM since v4.12) or 'first-run' (before: frames decode only after map_resources). */
  iodevRegistration?: IodevRegistration;
  /** Translation-cache slots per ITS, a power of two in 2..2^20. Default 4096. */
  cacheCapacity?: number;
  /** MOVALL moves every LPI of the VM (the [ITS-new] snapshot's quirk). Default false (architected). */
  movallAllLpis?: boolean;
  /**
   * The locks SAVE/RESTORE/RESET, userspace register access and SAVE_PENDING_TABLES
   * take: 'upstream' (default, today), 'v7-2017' (the seed patch), or your own LockProtocol.
   */
  lockProtocol?: 'upstream' | 'v7-2017' | LockProtocol;
  /** Negative tests only: make the protocol's vCPU trylocks blocking (reproduces spec 7.5's deadlock). Default false. */
  blockingVcpuLocks?: boolean;
}

/** GicOptions with every default filled in, validated. */
export interface ResolvedGicOptions {
  its: number;
  setItsBases: boolean;
  iodevRegistration: IodevRegistration;
  cacheCapacity: number;
  movallAllLpis: boolean;
  lockProtocol: LockProtocol;
  blockingVcpuLocks: boolean;
}

/** Validate `options.gic` (TypeError/RangeError naming the option) before any thread starts. */
export function resolveGicOptions(o: GicOptions): ResolvedGicOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options.gic must be an object or false');
  const bool = (name: keyof GicOptions, dflt: boolean): boolean => {
    const v = o[name] ?? dflt;
    if (typeof v !== 'boolean') throw new TypeError(`options.gic.${name} must be a boolean`);
    return v;
  };
  const its = o.its ?? 1;
  if (typeof its !== 'number' || !Number.isInteger(its)) throw new TypeError('options.gic.its must be an integer');
  if (its < 0 || its > MAX_ITS) throw new RangeError(`options.gic.its must be in 0..${MAX_ITS} (got ${its})`);
  const iodevRegistration = o.iodevRegistration ?? 'base-address';
  if (iodevRegistration !== 'base-address' && iodevRegistration !== 'first-run') {
    throw new TypeError(`options.gic.iodevRegistration must be 'base-address' or 'first-run'`);
  }
  const cacheCapacity = o.cacheCapacity ?? 4096;
  if (typeof cacheCapacity !== 'number' || !Number.isInteger(cacheCapacity)) throw new TypeError('options.gic.cacheCapacity must be an integer');
  if (cacheCapacity < 2 || cacheCapacity > 1 << 20 || (cacheCapacity & (cacheCapacity - 1)) !== 0) {
    throw new RangeError(`options.gic.cacheCapacity must be a power of two in 2..${1 << 20} (got ${cacheCapacity})`);
  }
  return {
    its, iodevRegistration, cacheCapacity,
    setItsBases: bool('setItsBases', true),
    movallAllLpis: bool('movallAllLpis', false),
    lockProtocol: resolveLockProtocol(o.lockProtocol),
    blockingVcpuLocks: bool('blockingVcpuLocks', false),
  };
}

/** What Vm.create needs before the vCPU workers start. */
export function gicSetup(nrVcpus: number, o: ResolvedGicOptions): { devices: Record<string, unknown>; extensions: VcpuExtensionSpec[] } {
  const shared: VgicShared = {
    state: VgicState.create({ nrVcpus, cacheCapacity: o.cacheCapacity }),
    iodevRegistration: o.iodevRegistration,
    distActor: -1,
    movallAllLpis: o.movallAllLpis,
    lockProtocol: o.lockProtocol,
    blockingVcpuLocks: o.blockingVcpuLocks,
  };
  return { devices: { [VGIC_DEVICE_KEY]: shared }, extensions: [{ name: 'gic', module: CPU_INTERFACE }] };
}

/**
 * A VM's vGICv3 as its VMM holds it (`vm.gic`): the ITS devices and the
 * vgic-v3 device (device attributes), KVM_SIGNAL_MSI from the main thread,
 * and handles for injector threads.
 */
export class Gic {
  /** The ITS devices, by index (KVM_CREATE_DEVICE order). */
  readonly its: ItsDevice[] = [];
  /** The vgic-v3 device (SAVE_PENDING_TABLES). */
  v3!: VgicV3Device;
  /** @internal */
  readonly st: VgicState;
  /** @internal The VMM thread's view of LPI state (inspection: pending, targets, deliveries). */
  readonly vgic: Vgic;
  private readonly msi: MsiInjector;

  private constructor(
    /** @internal */
    readonly vm: Vm,
    /** @internal */
    readonly shared: VgicShared,
  ) {
    this.st = new VgicState(shared.state);
    this.vgic = new Vgic(this.st, vm.rt.vcpus, vm.rt.devMem, vm.rt.tid);
    this.msi = new MsiInjector(vm.rt);
  }

  /** @internal Start the distributor actor, register the GIC frames, create the requested ITSs. */
  static async attach(vm: Vm, o: ResolvedGicOptions): Promise<Gic> {
    const shared = vm.shared.devices[VGIC_DEVICE_KEY] as VgicShared;
    const gic = new Gic(vm, shared);
    vm.onThreadDeath((tid) => gic.vgic.recoverSpinlocks(tid, Atomics.load(gic.st.i32, D_NR_ITS)));
    shared.distActor = await vm.spawnActor(DIST_ACTOR, {}, 'distributor');
    gic.v3 = new VgicV3Device(vm, shared.distActor);
    // The distributor decodes once map_resources runs (first vCPU run); redistributors at once.
    await vm.registerMmio({ base: GICD_BASE, size: GICD_SIZE, actor: shared.distActor, region: REGION_GICD, kind: IODEV_KIND_DIST }, true);
    for (let n = 0; n < vm.nrVcpus; n++) {
      await vm.registerMmio({ base: GICR_BASE + n * GICR_STRIDE, size: GICR_STRIDE, actor: shared.distActor, region: 1 + n, kind: IODEV_KIND_REDIST });
    }
    for (let n = 0; n < o.its; n++) {
      const its = await gic.createIts();
      if (o.setItsBases) {
        const r = await its.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, BigInt(defaultItsBase(n)));
        if (r !== 0) throw new Error(`setting ITS ${n} base failed: ${r}`);
      }
    }
    return gic;
  }

  /**
   * KVM_CREATE_DEVICE(ITS): a new ITS actor with its cmd_lock and its_lock,
   * under config_lock. Side effect, as in KVM: the VM-wide PROPBASER is reset
   * to 0x580 (spec 9.34) and MSIs now require a DeviceID.
   */
  async createIts(): Promise<ItsDevice> {
    const vm = this.vm;
    const index = this.its.length;
    if (index >= MAX_ITS) throw new RangeError(`at most ${MAX_ITS} ITSs per VM`);
    const config = vm.rt.thread.mutex(vm.shared.locks.config);
    await config.lockAsync();
    try {
      const cmdLock = vm.rt.arena.allocLock(ITS_CMD_LOCK, index);
      const itsLock = vm.rt.arena.allocLock(ITS_ITS_LOCK, index);
      const actor = await vm.spawnActor(ITS_ACTOR, { index, cmdLock, itsLock }, `ITS ${index}`);
      const r = this.st.its(index);
      Atomics.store(this.st.i32, r + I_ACTOR, actor);
      Atomics.store(this.st.i32, r + I_LIVE, 1);
      this.st.setPropbaser(INITIAL_PROPBASER_VALUE);
      Atomics.add(this.st.i32, D_NR_ITS, 1);
      const dev = new ItsDevice(vm, this.st, index, actor, this.shared.iodevRegistration);
      this.its.push(dev);
      return dev;
    } finally {
      config.unlock();
    }
  }

  /** KVM_SIGNAL_MSI from the main thread: 1 delivered, 0 blocked by the guest, -errno. */
  signalMsi(msi: KvmMsi): Promise<number> {
    return this.msi.signalMsiAsync(msi);
  }

  /**
   * A handle for injector threads: pass it to {@link runInjectors}, or to
   * your own worker in workerData, where `MsiInjector.attach(handle)` gives a
   * blocking signalMsi on that thread.
   */
  injectorHandle(): InjectorHandle {
    return { shared: this.vm.shared };
  }
}

