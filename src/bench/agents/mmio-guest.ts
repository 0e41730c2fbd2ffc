/**
 * Guest program of the transport suite's MMIO figures (a guest module, loaded
 * by the vCPU worker): serves repetitions like the lpi injector agent. On GO
 * it makes `reads` trapped 32-bit MMIO reads of args.gpa (a scratch-device
 * register the VMM filled with args.expect: each read is a synchronous
 * request to the device's actor and its reply), counts reads that did not
 * return args.expect, stamps its first and last read (performance.timeOrigin
 * + performance.now()) at f64 L_F64 and L_F64 + 1, and reports. Between
 * repetitions it waits for GO in slices, calling guest.relax() so pause and
 * destroy are honoured.
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import { PARK_SLICE_MS } from './batch.js';
import { done, L_F64, L_GO, readyUp, stamp } from './lpi.js';

export interface MmioGuestArgs {
  /** Control block (lpiControl(2)). */
  ctl: SharedArrayBuffer;
  gpa: number;
  reads: number;
  expect: number;
}

const mmioGuest: GuestMain<MmioGuestArgs, never> = (guest, args) => {
  const ctl = new Int32Array(args.ctl), f64 = new Float64Array(args.ctl);
  const { gpa, reads } = args;
  const expect = args.expect >>> 0;
  readyUp(ctl);
  let rep = 0;
  for (;;) {
    while (Atomics.load(ctl, L_GO) === rep) {
      Atomics.wait(ctl, L_GO, rep, PARK_SLICE_MS);
      guest.relax();
    }
    rep = Atomics.load(ctl, L_GO);
    let failed = 0;
    const t0 = stamp();
    for (let i = 0; i < reads; i++) if (guest.mmioRead32(gpa) !== expect) failed++;
    const t1 = stamp();
    f64[L_F64] = t0;
    f64[L_F64 + 1] = t1;
    done(ctl, failed);
  }
};
export default mmioGuest;
