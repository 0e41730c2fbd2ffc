/**
 * The GIC CPU interface as a guest sees it on its vCPU thread (guest.ext.gic):
 * ICC_IAR1_EL1 (ack), ICC_EOIR1_EL1 (eoi). Also the vCPU's first-run hook:
 * kvm_vgic_map_resources, which under the 'first-run' registration policy is
 * what makes ITS frames decode.
 */
import type { VmRuntime } from '../kvm/shared.js';
import type { VcpuExtension } from '../kvm/vcpu-run.js';
import { VGIC_DEVICE_KEY, type VgicShared } from './layout.js';
import { mapResources } from './map-resources.js';
import { Vgic } from './vgic.js';
import { INTID_SPURIOUS, VgicState } from './vgic-state.js';

/** What a guest program reaches as `guest.ext.gic`. */
export interface GicCpuInterface {
  /** Acknowledge the highest-priority pending interrupt: its INTID, or 1023 (spurious) if none. */
  ack(): number;
  /** End of interrupt (priority drop). */
  eoi(intid: number): void;
  /** True when an interrupt is queued for this vCPU (what WFI waits for). */
  hasPending(): boolean;
  /** INTID the CPU interface returns when nothing is pending. */
  readonly spurious: number;
}

/** Loaded by every vCPU worker of a VM with a vGIC (VmShared.vcpuExtensions). */
export function attachVcpu(rt: VmRuntime, vcpuId: number): VcpuExtension {
  const shared = rt.shared.devices[VGIC_DEVICE_KEY] as VgicShared;
  const vgic = new Vgic(new VgicState(shared.state), rt.vcpus, rt.devMem, rt.tid);
  const api: GicCpuInterface = {
    ack: () => vgic.ack(vcpuId),
    eoi: (intid) => vgic.eoi(vcpuId, intid),
    hasPending: () => vgic.hasPending(vcpuId),
    spurious: INTID_SPURIOUS,
  };
  return {
    api,
    firstRun() {
      mapResources(rt);
    },
  };
}
