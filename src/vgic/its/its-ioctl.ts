/**
 * The ITS's userspace-ioctl paths, run on the ITS actor on the VMM's behalf:
 * GRP_CTRL (SAVE_TABLES, RESTORE_TABLES, CTRL_RESET) and GRP_ITS_REGS, each
 * under the VM's lock protocol (src/vgic/lock-protocol.ts). Today's order:
 * kvm.lock -> trylock every vcpu.mutex (-EBUSY, no side effect, if a vCPU is
 * in KVM_RUN) -> config_lock -> its_lock; the operation itself runs with
 * them held (vgic_its_ctrl, vgic_its_attr_regs_access).
 */
import type { VmRuntime } from '../../kvm/shared.js';
import { ENXIO } from '../../uapi/errno.js';
import { KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES } from '../../uapi/kvm.js';
import { acquire, type LockProtocol, type PathLocks } from '../lock-protocol.js';
import { mapResources } from '../map-resources.js';

/** What the ioctl paths need from an Its (called with the protocol's locks held). */
export interface ItsIoctlTarget {
  saveTables(): number;
  restoreTables(): number;
  reset(): void;
  uaccessRead(offset: number): { ret: number; value?: bigint };
  uaccessWrite(offset: number, value: bigint): number;
}

export class ItsIoctl {
  constructor(
    private readonly rt: VmRuntime,
    private readonly its: ItsIoctlTarget,
    private readonly locks: PathLocks,
    private readonly protocol: LockProtocol,
    private readonly blockingVcpuLocks: boolean,
  ) {}

  /** vgic_its_ctrl(). Unknown attributes get -ENXIO only after the locks (so -EBUSY wins), as today. */
  ctrl(attr: number): number {
    const release = acquire(this.protocol.itsCtrl, this.locks, this.blockingVcpuLocks);
    if (typeof release === 'number') return release;
    let ret: number;
    try {
      switch (attr) {
        case KVM_DEV_ARM_ITS_SAVE_TABLES: ret = this.its.saveTables(); break;
        case KVM_DEV_ARM_ITS_RESTORE_TABLES: ret = this.its.restoreTables(); break;
        case KVM_DEV_ARM_ITS_CTRL_RESET: this.its.reset(); ret = 0; break;
        default: ret = -ENXIO;
      }
    } finally {
      release();
    }
    // The seed patch: "MSI injections can happen before the first VCPU run so let's complete the GIC init here."
    if (ret === 0 && attr === KVM_DEV_ARM_ITS_RESTORE_TABLES && this.protocol.restoreCallsMapResources) mapResources(this.rt);
    return ret;
  }

  /** vgic_its_attr_regs_access(): locks, then base check (-ENXIO), then the register. */
  regs(write: boolean, offset: number, value: bigint, baseSet: boolean): { ret: number; value?: bigint } {
    const release = acquire(this.protocol.itsRegs, this.locks, this.blockingVcpuLocks);
    if (typeof release === 'number') return { ret: release };
    try {
      if (!baseSet) return { ret: -ENXIO };
      return write ? { ret: this.its.uaccessWrite(offset, value) } : this.its.uaccessRead(offset);
    } finally {
      release();
    }
  }
}
