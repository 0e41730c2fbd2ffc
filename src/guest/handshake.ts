/**
 * The setup mailbox: a few Int32 words in guest RAM (default: the first words
 * of RAM, SETUP_MAILBOX_GPA) through which the boot vCPU running its-setup
 * tells the other vCPUs how far it got, so that a vCPU sets its own
 * GICR_CTLR.EnableLPIs only after its PROPBASER/PENDBASER were programmed.
 * Waiters poll like a guest spinning on a flag (WFE with a 1 ms timeout, then
 * guest.relax() so pause/exit requests are honoured); setters notify.
 *
 * Word layout (Int32, little endian, at the mailbox GPA):
 *   [0] state: SETUP_PENDING 0, SETUP_REDISTS_READY 1, SETUP_DONE 2, or -errno if setup failed
 *   [1] ITS commands issued by setup   [2] events (LPIs) mapped
 *   [3] redistributors whose EnableLPIs was set through this handshake (setup + secondaries)
 */
import type { Guest } from '../kvm/guest-api.js';
import { EFAULT, ETIMEDOUT } from '../uapi/errno.js';

export const SETUP_PENDING = 0;
/** Every redistributor's PROPBASER/PENDBASER is programmed: vCPUs may enable their LPIs. */
export const SETUP_REDISTS_READY = 1;
/** ITSs enabled, collections/devices/events mapped, distributor enabled. */
export const SETUP_DONE = 2;

export const MAILBOX_STATE = 0;
export const MAILBOX_COMMANDS = 1;
export const MAILBOX_EVENTS = 2;
export const MAILBOX_LPIS_ENABLED = 3;
export const MAILBOX_WORDS = 4;

/** Store `value` in mailbox word `word` and wake waiters: 0 or -EFAULT. */
export function mailboxStore(guest: Guest, gpa: number, word: number, value: number): number {
  const w = guest.atomics32(gpa, MAILBOX_WORDS);
  if (w === undefined) return -EFAULT;
  Atomics.store(w, word, value);
  Atomics.notify(w, word);
  return 0;
}

/** Add `delta` to mailbox word `word` and wake waiters: 0 or -EFAULT. */
export function mailboxAdd(guest: Guest, gpa: number, word: number, delta: number): number {
  const w = guest.atomics32(gpa, MAILBOX_WORDS);
  if (w === undefined) return -EFAULT;
  Atomics.add(w, word, delta);
  Atomics.notify(w, word);
  return 0;
}

/** Current value of mailbox word `word`, or -EFAULT. */
export function mailboxLoad(guest: Guest, gpa: number, word: number): number {
  const w = guest.atomics32(gpa, MAILBOX_WORDS);
  return w === undefined ? -EFAULT : Atomics.load(w, word);
}

/**
 * Wait until the setup state is >= `atLeast`: returns the state, the
 * setup's failure (a negative errno), -ETIMEDOUT after `timeoutMs` (time
 * spent paused counts), or -EFAULT if the mailbox is not guest RAM.
 */
export function waitForSetup(guest: Guest, gpa: number, atLeast: number, timeoutMs = 30_000): number {
  const w = guest.atomics32(gpa, MAILBOX_WORDS);
  if (w === undefined) return -EFAULT;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = Atomics.load(w, MAILBOX_STATE);
    if (s < 0 || s >= atLeast) return s;
    if (performance.now() >= deadline) return -ETIMEDOUT;
    guest.wfe(w, MAILBOX_STATE, s, 1);
  }
}
