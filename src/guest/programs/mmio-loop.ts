/**
 * Built-in guest 'mmio-loop': writes then reads back 32-bit values at
 * args.gpa (a device register) args.iterations times, counting mismatches in
 * results[1] and round trips in results[0].
 */
import type { GuestMain } from '../../kvm/guest-api.js';

const mmioLoop: GuestMain<{ gpa: number; iterations?: number }, number> = (guest, args) => {
  const n = args.iterations ?? Infinity;
  let i = 0;
  for (; i < n; i++) {
    const v = (guest.vcpuId << 24) | (i & 0xffffff);
    guest.mmioWrite32(args.gpa, v);
    if (guest.mmioRead32(args.gpa) !== v >>> 0) Atomics.add(guest.results, 1, 1);
    Atomics.add(guest.results, 0, 1);
  }
  return i;
};
export default mmioLoop;
