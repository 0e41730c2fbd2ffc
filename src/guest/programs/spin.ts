/**
 * Built-in guest 'spin': a busy guest that never idles. Counts loop iterations
 * in results[0]; with args { iterations } it returns after that many.
 */
import type { GuestMain } from '../../kvm/guest-api.js';

const spin: GuestMain<{ iterations?: number } | undefined, number> = (guest, args) => {
  const n = args?.iterations ?? Infinity;
  let i = 0;
  for (; i < n; i++) {
    guest.relax();
    Atomics.add(guest.results, 0, 1);
  }
  return i;
};
export default spin;
