/** Built-in guest 'idle': WFI forever, counting wake-ups in results[0]. */
import type { GuestMain } from '../../kvm/guest-api.js';

const idle: GuestMain = (guest) => {
  for (;;) {
    guest.wfi();
    Atomics.add(guest.results, 0, 1);
  }
};
export default idle;
