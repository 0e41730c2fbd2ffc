/**
 * Guest program of the fault catalogue: the stress engine's ITS traffic
 * (vCPU 0 writes INT + SYNC commands through GITS_CWRITER, the others
 * handle LPIs and read GITS_CREADR) on every vCPU but one, the victim. The
 * victim handles LPIs like the others until the VMM raises its trigger word
 * (and kicks it with an MSI); then it misbehaves the way args.mode says:
 *
 *  - 'burn':  never calls the guest API again (a guest stuck in a loop);
 *  - 'throw': takes a guest spinlock in RAM, acknowledges an interrupt and
 *             throws from inside its handler, leaving both behind;
 *  - 'none':  keeps handling LPIs (victims of a host-side fault).
 *
 * Trigger and acknowledgement are results words counted from the end (the
 * traffic guest's own words sit just below them), so the VMM injects at the
 * moment the guest says it is there, never after a sleep.
 */
import type { Guest, GuestMain } from '../../kvm/guest-api.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import { SETUP_DONE, waitForSetup } from '../../guest/handshake.js';
import { drainInterrupts } from '../../guest/irq-loop.js';
import type { GicCpuInterface } from '../../vgic/cpu-interface.js';
import { defaultItsBase } from '../../vgic/layout.js';
import { GITS_CREADR } from '../../uapi/gits.js';
import itsTraffic, { R_ERROR_FROM_END, R_ROUNDS_FROM_END, type ItsTrafficArgs } from '../../stress/guests/its-traffic.js';

export type VictimMode = 'none' | 'burn' | 'throw';

export interface FaultGuestArgs {
  traffic: ItsTrafficArgs;
  /** vcpu_id of the vCPU that misbehaves on its trigger (never 0: vCPU 0 sets the GIC up). */
  victim: number;
  mode: VictimMode;
  /** What a 'throw' victim throws. */
  message: string;
  /** GPA of the guest spinlock word a 'throw' victim takes before throwing. */
  guestLock: number;
}

/** Set by the VMM (then it kicks the victim with an MSI): misbehave now. */
export const R_TRIGGER_FROM_END = 2;
/** Set by the victim (notified) just before it misbehaves: 1 burning, 2 about to throw. */
export const R_VICTIM_FROM_END = 1;
export const VICTIM_BURNING = 1, VICTIM_THROWING = 2;

/** The victim's interrupt loop, as the traffic guest's secondaries run it, with the trigger check. */
function victim(guest: Guest, args: FaultGuestArgs): unknown {
  const { results } = guest;
  const end = results.length;
  const gic = (guest.ext as { gic: GicCpuInterface }).gic;
  const limit = end - R_ROUNDS_FROM_END;
  const st = waitForSetup(guest, SETUP_MAILBOX_GPA, SETUP_DONE);
  if (st < 0) {
    Atomics.store(results, end - R_ERROR_FROM_END, st);
    return { ok: false, errno: st };
  }
  const base = defaultItsBase(args.traffic.setup.its?.[0] ?? 0);
  for (;;) {
    drainInterrupts(guest, gic, limit, (intid) => {
      if (Atomics.load(results, end - R_TRIGGER_FROM_END) !== 0 && args.mode === 'throw') throwInHandler(guest, args, intid);
    });
    if (Atomics.load(results, end - R_TRIGGER_FROM_END) !== 0 && args.mode === 'burn') burn(results);
    guest.mmioRead64(base + GITS_CREADR);
    guest.wfi();
  }
}

/** A guest that never calls back into the runtime: pause cannot reach it, only termination can. */
function burn(results: Int32Array): never {
  Atomics.store(results, results.length - R_VICTIM_FROM_END, VICTIM_BURNING);
  Atomics.notify(results, results.length - R_VICTIM_FROM_END);
  let spins = 0;
  for (;;) spins = (spins + 1) | 0;
}

/** Inside the handler of `intid` (acknowledged, not EOIed), holding a guest spinlock: throw. */
function throwInHandler(guest: Guest, args: FaultGuestArgs, intid: number): never {
  const lock = guest.atomics32(args.guestLock, 1);
  if (lock !== undefined) while (Atomics.compareExchange(lock, 0, 0, guest.vcpuId + 1) !== 0) guest.relax();
  const { results } = guest;
  Atomics.store(results, results.length - R_VICTIM_FROM_END, VICTIM_THROWING);
  Atomics.notify(results, results.length - R_VICTIM_FROM_END);
  throw new Error(`${args.message} (in the handler of INTID ${intid}, holding the guest lock at 0x${args.guestLock.toString(16)})`);
}

const faultGuest: GuestMain<FaultGuestArgs> = (guest, args) =>
  guest.vcpuId === args.victim && args.mode !== 'none' ? victim(guest, args) : itsTraffic(guest, args.traffic);
export default faultGuest;
