/**
 * VMM side of a guest's results area: wait until word `index` of vCPU
 * `vcpu`'s results (Guest.results in the guest, vm.results(vcpu) here)
 * satisfies a predicate. Guests that Atomics.notify the word after changing
 * it wake the wait at once; plain stores are seen at the next re-check.
 */
import type { Vm } from '../kvm/vm.js';
import { waitForWord } from '../sync/wait.js';

/**
 * Resolves true once `ok(results[index])` holds, false after `timeoutMs`
 * (default 30000). Throws RangeError for a vCPU or word that does not exist.
 */
export function waitForResult(vm: Vm, vcpu: number, index: number, ok: (value: number) => boolean, timeoutMs = 30_000): Promise<boolean> {
  const results = vm.results(vcpu);
  if (!Number.isInteger(index) || index < 0 || index >= results.length) {
    throw new RangeError(`index ${index} is not a results word of vCPU ${vcpu} (0..${results.length - 1}; options.resultWords)`);
  }
  if (typeof ok !== 'function') throw new TypeError('ok must be a function (value) => boolean');
  return waitForWord(results, index, ok, timeoutMs);
}
