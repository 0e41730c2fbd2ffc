/**
 * KVM_SIGNAL_MSI, from any thread of the VM: the main thread (async) or an
 * injector worker (blocking, like the device threads of vgic_lpi_stress).
 * Checks in the kernel's order, then the lock-free translation-cache probe
 * (the irqfd fast path) on the calling thread, then the slow path: a request
 * to the ITS actor, which translates under its_lock.
 *
 * Result: 1 delivered, 0 blocked by guest state, or -errno (spec 4.1-4.2).
 */
import { M_ARGS } from '../actors/protocol.js';
import { VmRuntime, type VmShared } from '../kvm/shared.js';
import { OPN_SIGNAL_MSI } from '../sync/operations.js';
import { EINVAL, ENODEV } from '../uapi/errno.js';
import { EV_SIGNAL_MSI } from '../trace/events.js';
import { KVM_MSI_VALID_DEVID } from '../uapi/kvm.js';
import { ItsCache } from './its-cache.js';
import { OP_ITS_MSI } from './its/its-ops.js';
import { IODEV_KIND_ITS, VGIC_DEVICE_KEY, type VgicShared } from './layout.js';
import { Vgic } from './vgic.js';
import { I_ACTOR, VgicState } from './vgic-state.js';

/** struct kvm_msi: the doorbell address, the EventID (data), the DeviceID and flags. */
export interface KvmMsi {
  /** Doorbell address (address_hi:address_lo), 0..2^64-1: any address inside an ITS frame selects that ITS. */
  address: number | bigint;
  /** EventID, a u32. */
  data: number;
  /** DeviceID, a u32; honoured only with KVM_MSI_VALID_DEVID in flags. Default 0. */
  devid?: number;
  /** A u32; must be KVM_MSI_VALID_DEVID (1) with an ITS, other bits give -EINVAL. Default 1. */
  flags?: number;
}

/** Opaque: what an injector thread needs to attach to a VM (from `vm.gic.injectorHandle()`; pass it in workerData). */
export interface InjectorHandle {
  /** @internal */
  shared: VmShared;
}

const U32_MAX = 0xffff_ffff;

// The name is built only on failure: signalMsi is a hot path.
function u32(name: string, field: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name}.${field} must be an integer`);
  if (v < 0 || v > U32_MAX) throw new RangeError(`${name}.${field} must be a u32, 0..${U32_MAX} (got ${v})`);
}

/**
 * The shape of a struct kvm_msi, checked on the caller's side: TypeError or
 * RangeError naming the field (`msi.data`, `plans[0].msis[3].devid`, ...).
 * Values the kernel would refuse (extra flags, a doorbell no ITS decodes) are
 * not errors here: signalMsi returns their errno.
 */
export function checkMsi(msi: KvmMsi, name = 'msi'): void {
  if (msi === null || typeof msi !== 'object') throw new TypeError(`${name} must be an object { address, data, devid?, flags? }`);
  const a = msi.address;
  if (typeof a === 'bigint') {
    if (a < 0n || a > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${name}.address must be in 0..2^64-1`);
  } else if (typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0) {
    throw new TypeError(`${name}.address must be a non-negative integer (number or bigint)`);
  }
  u32(name, 'data', msi.data);
  if (msi.devid !== undefined) u32(name, 'devid', msi.devid);
  if (msi.flags !== undefined) u32(name, 'flags', msi.flags);
}

type Prepared = { its: number; devid: number; eventid: number } | number;

/**
 * KVM_SIGNAL_MSI on an injector thread: a worker of your own that signals
 * MSIs in a loop, blocking, like the device threads of the kernel's
 * vgic_lpi_stress selftest. Get one with `MsiInjector.attach(handle)` inside
 * the worker. (On the main thread, use `vm.signalMsi`.)
 */
export class MsiInjector {
  private readonly st: VgicState;
  private readonly vgic: Vgic;
  private readonly cache: ItsCache;

  /** @internal Use MsiInjector.attach(). */
  constructor(
    /** @internal */
    readonly rt: VmRuntime,
  ) {
    const shared = rt.shared.devices[VGIC_DEVICE_KEY] as VgicShared;
    this.st = new VgicState(shared.state);
    this.vgic = new Vgic(this.st, rt.vcpus, rt.devMem, rt.tid);
    this.cache = new ItsCache(this.st, rt.tid);
  }

  /**
   * Attach the calling worker thread to the VM as injector `index` (named
   * `name` in reports). Call once per thread, from a worker, not the main thread.
   */
  static attach(handle: InjectorHandle, index = 0, name = `injector ${index}`): MsiInjector {
    if (handle === null || typeof handle !== 'object' || handle.shared === undefined) {
      throw new TypeError('MsiInjector.attach: handle must be what vm.gic.injectorHandle() returned');
    }
    if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError(`MsiInjector.attach: index must be an integer in 0..65535 (got ${index})`);
    return new MsiInjector(VmRuntime.register(handle.shared, 'injector', index, name));
  }

  /** Blocking KVM_SIGNAL_MSI: 1 delivered, 0 blocked by guest state, or -errno, as GicVm.signalMsi. */
  signalMsi(msi: KvmMsi): number {
    this.rt.sched?.point('signal-msi', msi?.data | 0);
    this.rt.timeline?.instant(EV_SIGNAL_MSI, msi?.devid ?? 0, msi?.data ?? 0);
    const prevOp = this.rt.thread.setOperation(OPN_SIGNAL_MSI);
    try {
      const p = this.prepare(msi);
      if (typeof p === 'number') return p;
      const { client } = this.rt;
      client.msg[M_ARGS] = p.devid | 0;
      client.msg[M_ARGS + 1] = p.eventid | 0;
      return client.request(this.itsActor(p.its), OP_ITS_MSI, M_ARGS + 2);
    } finally {
      this.rt.thread.setOperation(prevOp);
    }
  }

  /** @internal KVM_SIGNAL_MSI for the main thread (GicVm.signalMsi). */
  async signalMsiAsync(msi: KvmMsi): Promise<number> {
    await this.rt.sched?.pointAsync('signal-msi', msi?.data | 0);
    this.rt.timeline?.instant(EV_SIGNAL_MSI, msi?.devid ?? 0, msi?.data ?? 0);
    // Named for the synchronous part only: the main thread interleaves async calls on one operation word.
    const prevOp = this.rt.thread.setOperation(OPN_SIGNAL_MSI);
    let p: Prepared;
    try {
      p = this.prepare(msi);
    } finally {
      this.rt.thread.setOperation(prevOp);
    }
    if (typeof p === 'number') return p;
    const { result } = await this.rt.client.requestAsync(this.itsActor(p.its), OP_ITS_MSI, [p.devid | 0, p.eventid | 0]);
    return result;
  }

  /**
   * Everything before the slow path, in the kernel's order: extra flags
   * (-EINVAL), no ITS in the VM (-ENODEV), the cache probe (a hit latches
   * pending and returns 1, spec 4.2 step 1), then a missing VALID_DEVID flag
   * (-EINVAL) and a doorbell that hits no decoding ITS frame (-EINVAL).
   * Returns a number when done, or the ITS to ask.
   */
  private prepare(msi: KvmMsi): Prepared {
    checkMsi(msi);
    const flags = msi.flags ?? KVM_MSI_VALID_DEVID;
    if (flags & ~KVM_MSI_VALID_DEVID) return -EINVAL; // kvm_send_userspace_msi
    if (!this.st.hasIts()) return -ENODEV; // kvm_set_msi: no ITS
    const address = typeof msi.address === 'bigint' ? Number(msi.address) : msi.address;
    // The MMIO bus decides which ITS a doorbell hits; a frame that does not decode (not registered yet) is no ITS.
    const r = this.rt.bus.find(address, 1);
    const region = r < 0 ? undefined : this.rt.bus.entry(r);
    const its = region?.kind === IODEV_KIND_ITS ? region.region : -1;
    const devid = (msi.devid ?? 0) >>> 0, eventid = msi.data >>> 0;
    if (its >= 0 && this.fastPath(its, devid, eventid) === 1) return 1;
    if ((flags & KVM_MSI_VALID_DEVID) === 0) return -EINVAL; // vgic_msi_to_its
    if (its < 0) return -EINVAL;
    return { its, devid, eventid };
  }

  /** Cache hit: latch pending and queue, checking nothing else (spec 4.2 step 1). 1, or 0 on a miss. */
  private fastPath(its: number, devid: number, eventid: number): number {
    const intid = this.cache.lookup(its, devid, eventid);
    return intid >= 0 && this.vgic.setPending(intid, this.cache.lastGen) ? 1 : 0;
  }

  private itsActor(its: number): number {
    return Atomics.load(this.st.i32, this.st.its(its) + I_ACTOR);
  }
}
