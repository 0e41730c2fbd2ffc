/**
 * The deadlock detector for a whole VM, as library users call it: the VM's
 * lock arena and actor directory are internal, so this is the public door to
 * deadlock.ts.
 */
import { Vm } from '../kvm/vm.js';
import { watchForDeadlock, type Deadlock } from './deadlock.js';

/** Options of {@link watchVmForDeadlock}. */
export interface WatchDeadlockOptions {
  /** Give up and resolve to `[]` after this long. Default 30000 ms. */
  timeoutMs?: number;
  /** Time between two samples of the wait-for graph. Default 10 ms. */
  sliceMs?: number;
}

/**
 * Watch every thread of `vm` (vCPUs, actor hosts, injectors, the VMM) until a
 * cycle of waits is seen in two samples in a row, i.e. a confirmed deadlock,
 * or `timeoutMs` passes. Resolves to the deadlocks found, or `[]`. Reads only
 * what blocked threads already publish; the VM is not slowed down.
 */
export function watchVmForDeadlock(vm: Vm, options: WatchDeadlockOptions = {}): Promise<Deadlock[]> {
  if (!(vm instanceof Vm)) return Promise.reject(new TypeError('watchVmForDeadlock: vm must be a Vm from createVm()'));
  if (options === null || typeof options !== 'object') return Promise.reject(new TypeError('options must be an object'));
  const timeoutMs = options.timeoutMs ?? 30_000, sliceMs = options.sliceMs ?? 10;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) return Promise.reject(new RangeError(`options.timeoutMs must be a number >= 0 (got ${timeoutMs})`));
  if (typeof sliceMs !== 'number' || !(sliceMs >= 1)) return Promise.reject(new RangeError(`options.sliceMs must be a number >= 1 (got ${sliceMs})`));
  return watchForDeadlock(vm.rt.arena, vm.rt.dir, timeoutMs, sliceMs);
}
