/**
 * The vgic-v3 device as userspace holds it (KVM_DEV_TYPE_ARM_VGIC_V3), for
 * what this model covers: GRP_CTRL CTRL_INIT (the VM's vGIC is initialised
 * when created) and KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, which runs on the
 * distributor actor under the VM's lock protocol.
 */
import type { Vm } from '../kvm/vm.js';
import { ENXIO } from '../uapi/errno.js';
import { KVM_DEV_ARM_VGIC_CTRL_INIT, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES } from '../uapi/kvm.js';
import { OP_DIST_SAVE_PENDING } from './its/its-ops.js';
import { checkAttrArgs, type AttrGet } from './its-device.js';

/**
 * The vgic-v3 device as userspace holds it (`vm.gic.v3`), for what the model
 * covers: GRP_CTRL's CTRL_INIT and SAVE_PENDING_TABLES. Results are 0 or -errno.
 */
export class VgicV3Device {
  /** @internal Created with the VM. */
  constructor(private readonly vm: Vm, private readonly distActor: number) {}

  /** KVM_SET_DEVICE_ATTR: GRP_CTRL CTRL_INIT (0) or SAVE_PENDING_TABLES (0, -EBUSY while a vCPU runs, ...); else -ENXIO. */
  async setAttr(group: number, attr: number, value: bigint | number = 0n): Promise<number> {
    checkAttrArgs(group, attr, value);
    if (group !== KVM_DEV_ARM_VGIC_GRP_CTRL) return -ENXIO;
    if (attr === KVM_DEV_ARM_VGIC_CTRL_INIT) return 0;
    if (attr === KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) {
      return (await this.vm.rt.client.requestAsync(this.distActor, OP_DIST_SAVE_PENDING, [])).result;
    }
    return -ENXIO;
  }

  /** KVM_GET_DEVICE_ATTR: nothing this model covers can be read (-ENXIO). */
  async getAttr(group: number, attr: number): Promise<AttrGet> {
    checkAttrArgs(group, attr);
    return { ret: -ENXIO };
  }

  /** KVM_HAS_DEVICE_ATTR: 0 for CTRL_INIT and SAVE_PENDING_TABLES, else -ENXIO. */
  hasAttr(group: number, attr: number): number {
    checkAttrArgs(group, attr);
    return group === KVM_DEV_ARM_VGIC_GRP_CTRL && (attr === KVM_DEV_ARM_VGIC_CTRL_INIT || attr === KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) ? 0 : -ENXIO;
  }
}
