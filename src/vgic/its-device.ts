/**
 * An ITS device as userspace holds it (KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_ITS)):
 * the device-attribute calls, run on the VMM thread. GRP_ADDR records the base
 * and, per the VM's registration policy, makes the frame decode now
 * ('base-address', KVM >= v4.12) or leaves it for map_resources ('first-run').
 * GRP_CTRL (SAVE/RESTORE/RESET) and GRP_ITS_REGS run on the ITS actor under
 * the VM's lock protocol. Results are 0 or -errno; a get returns { ret, value }.
 */
import type { Vm } from '../kvm/vm.js';
import { asyncOperation, itsAttrOperation } from '../sync/operations.js';
import { E2BIG, EBUSY, EEXIST, EINVAL, ENODEV, ENXIO } from '../uapi/errno.js';
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_PHYS_SHIFT, KVM_VGIC_ITS_ADDR_TYPE,
  KVM_VGIC_V3_ITS_SIZE, SZ_64K, VGIC_ADDR_UNDEF,
} from '../uapi/kvm.js';
import { gitsRegionAt, itsUaccessOffsetAligned } from '../uapi/gits.js';
import { OP_ITS_CTRL, OP_ITS_SNAPSHOT, OP_ITS_UACCESS } from './its/its-ops.js';
import type { ItsSnapshot } from './its/its.js';
import { IODEV_KIND_ITS, type IodevRegistration } from './layout.js';
import { I_BASE_HI, I_BASE_LO, type VgicState } from './vgic-state.js';

/** What KVM_GET_DEVICE_ATTR returns: the ioctl's result and, on success, the value it copied out. */
export interface AttrGet {
  /** 0 or -errno. */
  ret: number;
  /** The attribute's value (a u64), when `ret` is 0. */
  value?: bigint;
}

/**
 * Device attributes take what struct kvm_device_attr carries: integers (group
 * a u32, attr a u64, value a u64 here given directly). A number that is not an
 * integer (or a string) is a TypeError naming the argument; an integer the
 * kernel would refuse gets the kernel's errno.
 */
export function checkAttrArgs(group: unknown, attr: unknown, value?: unknown): void {
  if (typeof group !== 'number' || !Number.isInteger(group)) throw new TypeError(`group must be an integer (got ${String(group)})`);
  if (typeof attr !== 'number' || !Number.isInteger(attr)) throw new TypeError(`attr must be an integer (got ${String(attr)})`);
  if (value !== undefined && typeof value !== 'bigint' && !(typeof value === 'number' && Number.isInteger(value))) {
    throw new TypeError(`value must be an integer (number or bigint; got ${String(value)})`);
  }
}

/**
 * An ITS device as userspace holds it (KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_ITS)):
 * KVM_SET/GET/HAS_DEVICE_ATTR. Results are 0 or -errno, as the kernel's.
 */
export class ItsDevice {
  private base: bigint = VGIC_ADDR_UNDEF;

  /** @internal Created by the VM (Gic.createIts). */
  constructor(
    private readonly vm: Vm,
    private readonly st: VgicState,
    /** This ITS's number in the VM (its translation cache and record slot). */
    readonly index: number,
    /** @internal The actor that owns this ITS's state. */
    readonly actor: number,
    private readonly registration: IodevRegistration,
  ) {}

  /** The base address, or undefined while unset. */
  get baseAddress(): number | undefined {
    return this.base === VGIC_ADDR_UNDEF ? undefined : Number(this.base);
  }

  /**
   * KVM_SET_DEVICE_ATTR: GRP_ADDR (the base), GRP_CTRL (SAVE_TABLES,
   * RESTORE_TABLES, CTRL_RESET), GRP_ITS_REGS (a register at offset `attr`).
   * Resolves to 0 or -errno (-ENXIO for an unknown group, -EBUSY while a vCPU runs, ...).
   */
  setAttr(group: number, attr: number, value: bigint | number = 0n): Promise<number> {
    try {
      checkAttrArgs(group, attr, value);
    } catch (e) {
      return Promise.reject(e);
    }
    return asyncOperation(this.vm.rt.thread, itsAttrOperation(group, attr), () => this.set(group, attr, value));
  }

  private async set(group: number, attr: number, value: bigint | number): Promise<number> {
    switch (group) {
      case KVM_DEV_ARM_VGIC_GRP_ADDR:
        return this.setBase(attr, BigInt(value));
      case KVM_DEV_ARM_VGIC_GRP_CTRL:
        // CTRL_INIT: a no-op since v4.12 (no locks, no effect, even while vCPUs run).
        if (attr === KVM_DEV_ARM_VGIC_CTRL_INIT) return 0;
        return (await this.request(OP_ITS_CTRL, [attr])).result;
      case KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
        return (await this.regs(true, attr, BigInt.asUintN(64, BigInt(value)))).ret;
      default:
        return -ENXIO;
    }
  }

  /** GRP_ITS_REGS: alignment first (-EINVAL before any lock), then the actor under the lock protocol. */
  private async regs(write: boolean, offset: number, value: bigint): Promise<AttrGet> {
    if (!Number.isInteger(offset) || offset < 0 || !itsUaccessOffsetAligned(offset)) return { ret: -EINVAL };
    const { result, values } = await this.request(OP_ITS_UACCESS, [
      write ? 1 : 0, offset, Number(value & 0xffffffffn) | 0, Number(value >> 32n) | 0, this.base === VGIC_ADDR_UNDEF ? 0 : 1,
    ]);
    if (result !== 0 || write) return { ret: result };
    return { ret: 0, value: (BigInt(values[1]! >>> 0) << 32n) | BigInt(values[0]! >>> 0) };
  }

  private request(op: number, args: number[]): Promise<{ result: number; values: Int32Array }> {
    return this.vm.rt.client.requestAsync(this.actor, op, args);
  }

  /** KVM_GET_DEVICE_ATTR: GRP_ADDR (the base) or GRP_ITS_REGS (a register at offset `attr`). */
  getAttr(group: number, attr: number): Promise<AttrGet> {
    try {
      checkAttrArgs(group, attr);
    } catch (e) {
      return Promise.reject(e);
    }
    return asyncOperation(this.vm.rt.thread, itsAttrOperation(group, attr), () => this.get(group, attr));
  }

  private async get(group: number, attr: number): Promise<AttrGet> {
    if (group === KVM_DEV_ARM_VGIC_GRP_ADDR) {
      return attr === KVM_VGIC_ITS_ADDR_TYPE ? { ret: 0, value: this.base } : { ret: -ENODEV };
    }
    if (group === KVM_DEV_ARM_VGIC_GRP_ITS_REGS) return this.regs(false, attr, 0n);
    return { ret: -ENXIO }; // GRP_CTRL has no get
  }

  /** A copy of this ITS's registers and translation state (inspection; not a KVM ioctl). */
  async snapshot(): Promise<ItsSnapshot> {
    const { result, data } = await this.vm.query<ItsSnapshot>(this.actor, OP_ITS_SNAPSHOT);
    if (result < 0 || data === undefined) throw new Error(`ITS ${this.index} snapshot failed (${result})`);
    return data;
  }

  /** KVM_HAS_DEVICE_ATTR: 0 if the attribute exists, else -ENXIO (-EINVAL for a misaligned register offset). */
  hasAttr(group: number, attr: number): number {
    checkAttrArgs(group, attr);
    if (group === KVM_DEV_ARM_VGIC_GRP_ADDR) return attr === KVM_VGIC_ITS_ADDR_TYPE ? 0 : -ENXIO;
    if (group === KVM_DEV_ARM_VGIC_GRP_CTRL) return [KVM_DEV_ARM_VGIC_CTRL_INIT, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_CTRL_RESET].includes(attr) ? 0 : -ENXIO;
    if (group === KVM_DEV_ARM_VGIC_GRP_ITS_REGS) {
      if (!Number.isInteger(attr) || attr < 0 || !itsUaccessOffsetAligned(attr)) return -EINVAL;
      return gitsRegionAt(attr) === undefined ? -ENXIO : 0;
    }
    return -ENXIO;
  }

  /** vgic_its_set_attr(GRP_ADDR) + vgic_check_iorange. */
  private async setBase(attr: number, addr: bigint): Promise<number> {
    if (attr !== KVM_VGIC_ITS_ADDR_TYPE) return -ENODEV;
    if (this.base !== VGIC_ADDR_UNDEF) return -EEXIST;
    const size = BigInt(KVM_VGIC_V3_ITS_SIZE);
    if (addr < 0n || addr % BigInt(SZ_64K) !== 0n || addr + size > 0xffff_ffff_ffff_ffffn) return -EINVAL;
    if (addr + size > 1n << BigInt(KVM_PHYS_SHIFT)) return -E2BIG;
    const slots = this.vm.rt.thread.mutex(this.vm.shared.locks.slots);
    await slots.lockAsync();
    try {
      if (this.base !== VGIC_ADDR_UNDEF) return -EBUSY;
      const ret = this.vm.rt.bus.register({
        base: Number(addr), size: KVM_VGIC_V3_ITS_SIZE, actor: this.actor, region: this.index, kind: IODEV_KIND_ITS,
      }, this.registration === 'first-run');
      if (ret !== 0) return ret;
      this.base = addr;
      const r = this.st.its(this.index);
      Atomics.store(this.st.i32, r + I_BASE_LO, Number(addr & 0xffffffffn) | 0);
      Atomics.store(this.st.i32, r + I_BASE_HI, Number(addr >> 32n) | 0);
      return 0;
    } finally {
      slots.unlock();
    }
  }
}
