/**
 * VMM side of the its-setup handshake: wait until the boot vCPU has brought
 * the GIC and ITSs up and `vcpus` redistributors have LPIs enabled (the
 * mailbox at SETUP_MAILBOX_GPA). Resolves to 0, the guest's -errno, or
 * -ETIMEDOUT.
 */
import { Vm } from '../kvm/vm.js';
import { waitForWord } from '../sync/wait.js';
import { ETIMEDOUT } from '../uapi/errno.js';
import { SETUP_MAILBOX_GPA } from './alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, MAILBOX_WORDS, SETUP_DONE } from './handshake.js';

/**
 * Wait for the built-in 'its-setup' guest (or a guest using its handshake) to
 * have brought the GIC and ITSs up, with LPIs enabled on `vcpus`
 * redistributors: 0, the guest's -errno, or -ETIMEDOUT after `timeoutMs`.
 */
export async function waitForItsSetup(vm: Vm, vcpus = vm.nrVcpus, timeoutMs = 30_000): Promise<number> {
  if (!(vm instanceof Vm)) throw new TypeError('waitForItsSetup: vm must be a Vm from createVm()');
  if (!Number.isInteger(vcpus) || vcpus < 0 || vcpus > vm.nrVcpus) throw new RangeError(`waitForItsSetup: vcpus must be an integer in 0..${vm.nrVcpus} (got ${vcpus})`);
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new RangeError(`waitForItsSetup: timeoutMs must be a number >= 0 (got ${timeoutMs})`);
  const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, MAILBOX_WORDS)!;
  if (!(await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0, timeoutMs))) return -ETIMEDOUT;
  const state = Atomics.load(mailbox, MAILBOX_STATE);
  if (state !== SETUP_DONE) return state;
  return (await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= vcpus, timeoutMs)) ? 0 : -ETIMEDOUT;
}
