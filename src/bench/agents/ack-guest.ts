/**
 * Guest program of the inject -> acknowledge latency benchmark (a guest
 * module, loaded by the vCPU workers): the boot vCPU runs the its-setup
 * driver (../../guest/its-setup.ts, without its interrupt loop), then handles
 * interrupts like a kernel's gic_handle_irq: WFI, then acknowledge until
 * spurious. Right after each LPI's acknowledge (guest.ext.gic.ack()) it
 * stamps performance.timeOrigin + performance.now() into args.rx (a
 * SharedArrayBuffer: Float64 RX_F64_STAMP), then bumps and notifies the
 * Int32 RX_SEQ word, then EOIs. Other vCPUs just wait in WFI.
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import type { ItsSetupArgs } from '../../guest/its-setup-args.js';
import { runItsSetup } from '../../guest/its-setup.js';
import { GIC_LPI_OFFSET } from '../../uapi/gic-fields.js';
import type { GicCpuInterface } from '../../vgic/cpu-interface.js';
import { RX_F64_STAMP, RX_SEQ } from './lpi.js';

export interface AckGuestArgs {
  setup: ItsSetupArgs;
  rx: SharedArrayBuffer;
}

const SPURIOUS_FIRST = 1020, SPURIOUS_LAST = 1023;

const ackGuest: GuestMain<AckGuestArgs, unknown> = (guest, args) => {
  if (guest.vcpuId === 0) {
    const s = runItsSetup(guest, { ...args.setup, handle: false });
    if (!s.ok) return s;
  }
  const gic = (guest.ext as { gic?: GicCpuInterface }).gic;
  if (gic === undefined) return { ok: false, error: 'no GIC CPU interface' };
  const rx = new Int32Array(args.rx), rxf = new Float64Array(args.rx);
  for (;;) {
    for (;;) {
      const intid = gic.ack();
      if (intid < 0 || (intid >= SPURIOUS_FIRST && intid <= SPURIOUS_LAST)) break;
      if (intid >= GIC_LPI_OFFSET) {
        rxf[RX_F64_STAMP] = performance.timeOrigin + performance.now();
        Atomics.add(rx, RX_SEQ, 1);
        Atomics.notify(rx, RX_SEQ);
      }
      gic.eoi(intid);
    }
    guest.wfi();
  }
};
export default ackGuest;
