/**
 * The wake-up baseline: a worker parked in Atomics.wait on REQ; each change
 * wakes it, it publishes the value on ACK and notifies, then parks again.
 * The main thread times store+notify -> ACK seen (via Atomics.waitAsync, as
 * the VMM waits for vCPUs): the physical cost of waking one parked thread.
 */
import { PARK_SLICE_MS, ready } from './batch.js';

export const W_REQ = 0, W_ACK = 16;

export function echo(d: { ctl: SharedArrayBuffer; words: SharedArrayBuffer }): never {
  const w = new Int32Array(d.words);
  let seen = Atomics.load(w, W_REQ);
  ready(new Int32Array(d.ctl));
  for (;;) {
    Atomics.wait(w, W_REQ, seen, PARK_SLICE_MS);
    seen = Atomics.load(w, W_REQ);
    Atomics.store(w, W_ACK, seen);
    Atomics.notify(w, W_ACK);
  }
}
