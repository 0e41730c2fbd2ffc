/**
 * Guest program of the save/lock-protocol scenarios: one image on every vCPU.
 *
 *  - vCPU 0 brings the GIC and every ITS up (runItsSetup), then loops
 *    forever over the ITSs: INT(device, event) + SYNC, each published with a
 *    GITS_CWRITER write and waited for on GITS_CREADR (the kernel runs that
 *    write under vcpu.mutex -> its.cmd_lock -> its.its_lock), then drains
 *    its own interrupts. The INTs target the other vCPUs in turn.
 *  - every other vCPU waits for the setup, then handles interrupts and,
 *    between WFIs, reads GITS_CREADR of an ITS (read traffic to the ITS actor).
 *
 * Only vCPU 0 writes commands, so the queue needs no guest-side lock (a guest
 * spinlock would hide a wait from the deadlock detector: spinning is not
 * waiting in the lock arena). Commands are written straight into the queue
 * the ITS registers describe: the guest keeps no queue state, so a restore of
 * the registers and tables under it is invisible to it.
 *
 * Results (Int32 words): irq-loop.ts's layout ([0] LPIs handled, [1 + intid - 8192]
 * per LPI), plus, from the end of the area, rounds (R_ROUNDS, notified), reads
 * (R_READS) and a failure's -errno (R_ERROR).
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import { SETUP_DONE, waitForSetup } from '../../guest/handshake.js';
import { drainInterrupts } from '../../guest/irq-loop.js';
import { itsCommandOnce } from '../../guest/its-queue.js';
import { runItsSetup } from '../../guest/its-setup.js';
import type { ItsSetupArgs } from '../../guest/its-setup-args.js';
import type { GicCpuInterface } from '../../vgic/cpu-interface.js';
import { defaultItsBase } from '../../vgic/layout.js';
import { GITS_CREADR } from '../../uapi/gits.js';
import { EFAULT } from '../../uapi/errno.js';

export interface ItsTrafficArgs {
  setup: ItsSetupArgs;
  /** Per ITS (index in setup.its): the device whose event v targets vCPU v. */
  devices: { deviceId: number }[];
}

/** Result words, counted from the end of the results area. */
export const R_ROUNDS_FROM_END = 8, R_READS_FROM_END = 7, R_ERROR_FROM_END = 6;

function set(results: Int32Array, i: number, v: number): void {
  Atomics.store(results, i, v);
  Atomics.notify(results, i);
}

const itsTraffic: GuestMain<ItsTrafficArgs> = (guest, args) => {
  const { results } = guest;
  const end = results.length;
  const R_ROUNDS = end - R_ROUNDS_FROM_END, R_READS = end - R_READS_FROM_END, R_ERROR = end - R_ERROR_FROM_END;
  const gic = (guest.ext as { gic: GicCpuInterface }).gic;
  const bases = (args.setup.its ?? [0]).map((n) => (n < 256 ? defaultItsBase(n) : n));
  const fail = (e: number) => {
    set(results, R_ERROR, e);
    return { ok: false, errno: e };
  };
  if (guest.vcpuId === 0) {
    const s = runItsSetup(guest, args.setup);
    if (!s.ok) return fail(s.error?.errno ?? -EFAULT);
    const buf = new Uint8Array(32);
    for (let round = 0; ; round++) {
      const n = round % bases.length;
      // Event v maps to collection v, i.e. vCPU v: wake the other vCPUs in turn.
      const target = guest.nrVcpus > 1 ? 1 + (round % (guest.nrVcpus - 1)) : 0;
      let e = itsCommandOnce(guest, bases[n]!, { cmd: 'INT', deviceId: args.devices[n]!.deviceId, eventId: target }, buf);
      if (e === 0) e = itsCommandOnce(guest, bases[n]!, { cmd: 'SYNC', rdbase: target }, buf);
      if (e !== 0) return fail(e);
      Atomics.add(results, R_ROUNDS, 1);
      Atomics.notify(results, R_ROUNDS);
      drainInterrupts(guest, gic, R_ROUNDS);
    }
  }
  const st = waitForSetup(guest, SETUP_MAILBOX_GPA, SETUP_DONE);
  if (st < 0) return fail(st);
  for (let i = 0; ; i++) {
    drainInterrupts(guest, gic, R_ROUNDS);
    guest.mmioRead64(bases[i % bases.length]! + GITS_CREADR);
    Atomics.add(results, R_READS, 1);
    guest.wfi();
  }
};
export default itsTraffic;
