/**
 * VMM side of the its-setup handshake: wait until the boot vCPU has brought
 * the GIC and ITSs up and `vcpus` redistributors have LPIs enabled (the
 * mailbox at SETUP_MAILBOX_GPA). Resolves to 0, the guest's -errno, or
 * -ETIMEDOUT.
 */
import type { Vm } from '../kvm/vm.js';
import { waitForWord } from '../sync/wait.js';
import { ETIMEDOUT } from '../uapi/errno.js';
import { SETUP_MAILBOX_GPA } from './alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, MAILBOX_WORDS, SETUP_DONE } from './handshake.js';

export async function waitForItsSetup(vm: Vm, vcpus = vm.nrVcpus, timeoutMs = 30_000): Promise<number> {
  const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, MAILBOX_WORDS)!;
  if (!(await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0, timeoutMs))) return -ETIMEDOUT;
  const state = Atomics.load(mailbox, MAILBOX_STATE);
  if (state !== SETUP_DONE) return state;
  return (await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= vcpus, timeoutMs)) ? 0 : -ETIMEDOUT;
}
