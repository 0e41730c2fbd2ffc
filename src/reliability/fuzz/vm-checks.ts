/**
 * Checks every fuzz target makes on its VMs between cases: no worker
 * faulted or died, no lock is left held, and destroy finishes.
 */
import type { GicVm } from '../../create-vm.js';
import { formatFinding } from '../../sync/validator-report.js';
import { FuzzFailure } from './types.js';

/**
 * Faults (guest exceptions, actor handler errors, dead workers), vCPUs that
 * left KVM_RUN for good, and lock-order findings (VMs run with the validator).
 */
export function vmTrouble(vm: GicVm): string[] {
  const out = vm.faults.map((f) => `fault in ${f.source}: ${f.message}`);
  for (const f of vm.lockFindings()) out.push(`lock-order finding: ${formatFinding(f)}`);
  for (let i = 0; i < vm.nrVcpus; i++) {
    const x = vm.vcpuExit(i);
    if (x !== undefined) out.push(`vCPU ${i} exited (${x.reason}${x.error ? `: ${x.error.message}` : ''})`);
  }
  return out;
}

/** Every lock of the arena that has an owner, named. Call while nothing should hold one (VM paused, actors idle). */
export function heldLocks(vm: GicVm): string[] {
  const a = vm.rt.arena;
  const out: string[] = [];
  for (let i = 0; i < a.lockCount(); i++) {
    const owner = a.ownerOf(i);
    if (owner === 0) continue;
    const l = a.lockInfo(i);
    out.push(`${l.className}#${l.instance} held by ${a.threadName(owner)}`);
  }
  return out;
}

export function expectHealthy(vm: GicVm, when: string): void {
  const t = vmTrouble(vm);
  if (t.length > 0) throw new FuzzFailure(`${when}: ${t.join('; ')}`);
}

export function expectNoLocksHeld(vm: GicVm, when: string): void {
  const h = heldLocks(vm);
  if (h.length > 0) throw new FuzzFailure(`${when}: ${h.join('; ')}`);
}

/** `p`, or a FuzzFailure naming `what` when it does not settle within `ms` (a hang). */
export async function bounded<T>(p: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FuzzFailure(`hang: ${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Destroy `vm`; a destroy that hangs is a failure. */
export async function destroyVm(vm: GicVm, ms = 20_000): Promise<void> {
  await bounded(vm.destroy(), 'VM destroy', ms);
}
