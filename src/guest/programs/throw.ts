/** Built-in guest 'throw': fails at once (or after args.afterIterations relax() calls), to exercise fault handling. */
import type { GuestMain } from '../../kvm/guest-api.js';

const thrower: GuestMain<{ afterIterations?: number; message?: string } | undefined> = (guest, args) => {
  for (let i = 0; i < (args?.afterIterations ?? 0); i++) guest.relax();
  throw new Error(args?.message ?? 'guest fault');
};
export default thrower;
