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
import type { AttrGet } from './its-device.js';

export class VgicV3Device {
  constructor(private readonly vm: Vm, private readonly distActor: number) {}

  async setAttr(group: number, attr: number, _value: bigint | number = 0n): Promise<number> {
    if (group !== KVM_DEV_ARM_VGIC_GRP_CTRL) return -ENXIO;
    if (attr === KVM_DEV_ARM_VGIC_CTRL_INIT) return 0;
    if (attr === KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) {
      return (await this.vm.rt.client.requestAsync(this.distActor, OP_DIST_SAVE_PENDING, [])).result;
    }
    return -ENXIO;
  }

  async getAttr(_group: number, _attr: number): Promise<AttrGet> {
    return { ret: -ENXIO };
  }

  hasAttr(group: number, attr: number): number {
    return group === KVM_DEV_ARM_VGIC_GRP_CTRL && (attr === KVM_DEV_ARM_VGIC_CTRL_INIT || attr === KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) ? 0 : -ENXIO;
  }
}
