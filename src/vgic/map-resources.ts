/**
 * kvm_vgic_map_resources as far as this model goes: once per VM (the bus's
 * ready flag), under slots_lock -> config_lock, make every deferred MMIO
 * region decode (the distributor; ITS frames under the 'first-run' policy).
 * Called at each vCPU's first KVM_RUN and, in the 2017 v7 patch, at the end
 * of RESTORE_TABLES. Returns how many regions started decoding.
 */
import type { VmRuntime } from '../kvm/shared.js';

export function mapResources(rt: VmRuntime): number {
  const slots = rt.thread.mutex(rt.shared.locks.slots);
  const config = rt.thread.mutex(rt.shared.locks.config);
  slots.lock();
  config.lock();
  try {
    return rt.bus.mapResources();
  } finally {
    config.unlock();
    slots.unlock();
  }
}
