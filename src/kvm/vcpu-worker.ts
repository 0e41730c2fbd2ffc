/**
 * What a vCPU worker does before KVM_RUN: attach to the VM, import the guest
 * program and the per-vCPU device extensions (imports are async, so they
 * happen here, never inside KVM_RUN), and hand back a runner.
 */
import type { GuestMain } from './guest-api.js';
import { VmRuntime, type VmShared } from './shared.js';
import { VcpuRunner, type VcpuExtension } from './vcpu-run.js';

export interface VcpuWorkerData {
  shared: VmShared;
  tid: number;
  vcpuId: number;
  guest: { module: string; args: unknown };
}

export async function prepareVcpu(data: VcpuWorkerData): Promise<VcpuRunner> {
  const rt = new VmRuntime(data.shared, data.tid);
  const mod = (await import(data.guest.module)) as { default?: GuestMain };
  if (typeof mod.default !== 'function') {
    throw new TypeError(`guest module ${data.guest.module} has no default export function`);
  }
  const runner = new VcpuRunner(rt, data.vcpuId, mod.default, data.guest.args);
  for (const spec of data.shared.vcpuExtensions) {
    const ext = (await import(spec.module)) as { attachVcpu(rt: VmRuntime, vcpuId: number): VcpuExtension };
    runner.addExtension(spec.name, ext.attachVcpu(rt, data.vcpuId));
  }
  return runner;
}
