/**
 * Guest program of the soak and the conservation tests: command churn that
 * keeps every tracked LPI's translation (INTID) while MSIs storm at them.
 *
 *  - vCPU 0 brings every ITS up (runItsSetup, unless args.resume: a migrated
 *    or restored VM has its tables already), then loops: one seeded-random
 *    command per round, published through GITS_CWRITER and waited for on
 *    GITS_CREADR, then drains its own interrupts. Commands on tracked LPIs
 *    keep their INTID: MOVI to a random collection, INV, INVALL, SYNC, and
 *    moving a redistributor's collections the architected way: MAPC every
 *    collection of every ITS that targets vCPU a to vCPU b, then MOVALL a -> b.
 *    (A bare MOVALL leaves ITEs naming collections on vCPU a while their LPIs
 *    target b; KVM then saves the pending bit in b's table and restores it
 *    from a's, so a pending LPI is lost by migration: test/conservation.test.ts.)
 *    The churn devices (untracked LPIs) get MAPTI, INT, CLEAR and DISCARD,
 *    which create, raise and drop LPIs.
 *  - every other vCPU waits for the setup (unless resumed), then handles
 *    interrupts and WFIs.
 *
 * The guest keeps no queue state (its-queue.ts's itsCommandOnce reads CBASER
 * and CWRITER each time), so the queue survives a save/restore or a
 * migration under it; its only other state is the collection map.
 * Results: irq-loop.ts's layout, then the collection map (each
 * collection's vCPU + 1, 0 for its initial icid == vCPU; kept in results so
 * it survives migration; a restored guest re-maps every collection from it
 * first, since a save can land between writing the map and the move's
 * commands), then rounds and a failure's -errno counted from the end
 * (its-traffic.ts's R_* words).
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import { SETUP_DONE, waitForSetup } from '../../guest/handshake.js';
import { runItsSetup } from '../../guest/its-setup.js';
import type { ItsSetupArgs } from '../../guest/its-setup-args.js';
import type { GicCpuInterface } from '../../vgic/cpu-interface.js';
import { defaultItsBase } from '../../vgic/layout.js';
import type { ItsCommand } from '../../uapi/its-cmd.js';
import { EFAULT } from '../../uapi/errno.js';
import { seededRandom, pick } from '../../stress/random.js';
import { R_ERROR_FROM_END, R_ROUNDS_FROM_END } from '../../stress/guests/its-traffic.js';
import { drainInterrupts } from '../../guest/irq-loop.js';
import { itsCommandOnce } from '../../guest/its-queue.js';

export interface ChurnArgs {
  /** The GIC/ITS setup vCPU 0 runs (skipped with `resume`). */
  setup: ItsSetupArgs;
  /** Tracked events (position in setup.its, DeviceID, EventID): only INTID-keeping commands touch them. */
  tracked: { its: number; deviceId: number; eventId: number }[];
  /** Churn devices (mapped by the setup with `events` events): their events are remapped to intidBase + event, raised and dropped. */
  churn: { its: number; deviceId: number; events: number; intidBase: number }[];
  /** PRNG seed of the command choice. */
  seed: number;
  /** The ITSs are already set up (a restored or migrated VM): skip setup and the handshake. */
  resume?: boolean;
}

export { R_ERROR_FROM_END, R_ROUNDS_FROM_END };

/** Result words the churn guest needs: per-LPI counts up to `maxIntid`, the collection map, the R_* words. */
export function churnResultWords(maxIntid: number, nrIts: number, nrVcpus: number): number {
  return 1 + (maxIntid - 8192 + 1) + nrIts * nrVcpus + R_ROUNDS_FROM_END;
}

/** Index of collection `icid` of ITS `its` in the collection map. */
const collWord = (results: Int32Array, nrIts: number, nrVcpus: number, its: number, icid: number): number =>
  results.length - R_ROUNDS_FROM_END - nrIts * nrVcpus + its * nrVcpus + icid;

/** One round's commands: what keeps tracked INTIDs, or churn on the untracked ones. */
function nextCommands(random: () => number, a: ChurnArgs, nrVcpus: number, results: Int32Array): { its: number; cmd: ItsCommand }[] {
  const r = random();
  const t = a.tracked[pick(random, a.tracked.length)]!;
  const vcpu = () => pick(random, nrVcpus);
  if (r < 0.3) return [{ its: t.its, cmd: { cmd: 'MOVI', deviceId: t.deviceId, eventId: t.eventId, icid: vcpu() } }];
  const nrIts = a.setup.its?.length ?? 1;
  if (r < 0.33) {
    // One collection to another redistributor (MAPC retargets its LPIs): spreads what evacuations gather.
    const its = pick(random, nrIts), icid = vcpu(), to = vcpu();
    Atomics.store(results, collWord(results, nrIts, nrVcpus, its, icid), to + 1);
    return [{ its, cmd: { cmd: 'MAPC', icid, rdbase: to, valid: true } }, { its, cmd: { cmd: 'SYNC', rdbase: to } }];
  }
  if (r < 0.36) {
    // Evacuate a redistributor: every collection on it moved, then MOVALL.
    const from = vcpu(), to = vcpu();
    const cmds: { its: number; cmd: ItsCommand }[] = [];
    for (let its = 0; its < nrIts; its++) {
      for (let icid = 0; icid < nrVcpus; icid++) {
        const w = collWord(results, nrIts, nrVcpus, its, icid);
        if ((Atomics.load(results, w) || icid + 1) - 1 !== from) continue;
        cmds.push({ its, cmd: { cmd: 'MAPC', icid, rdbase: to, valid: true } });
        Atomics.store(results, w, to + 1);
      }
    }
    return [...cmds, { its: t.its, cmd: { cmd: 'MOVALL', rdbase1: from, rdbase2: to } }, { its: t.its, cmd: { cmd: 'SYNC', rdbase: to } }];
  }
  if (r < 0.45) return [{ its: t.its, cmd: { cmd: 'INV', deviceId: t.deviceId, eventId: t.eventId } }];
  if (r < 0.5) return [{ its: t.its, cmd: { cmd: 'INVALL', icid: vcpu() } }];
  if (r < 0.6 || a.churn.length === 0) return [{ its: t.its, cmd: { cmd: 'SYNC', rdbase: vcpu() } }];
  const c = a.churn[pick(random, a.churn.length)]!;
  const eventId = pick(random, c.events);
  const k = random();
  if (k < 0.3) return [{ its: c.its, cmd: { cmd: 'MAPTI', deviceId: c.deviceId, eventId, pintid: c.intidBase + eventId, icid: vcpu() } }];
  if (k < 0.7) return [{ its: c.its, cmd: { cmd: 'INT', deviceId: c.deviceId, eventId } }];
  if (k < 0.8) return [{ its: c.its, cmd: { cmd: 'CLEAR', deviceId: c.deviceId, eventId } }];
  return [{ its: c.its, cmd: { cmd: 'DISCARD', deviceId: c.deviceId, eventId } }];
}

const churnGuest: GuestMain<ChurnArgs> = (guest, args) => {
  const { results } = guest;
  const end = results.length;
  const R_ROUNDS = end - R_ROUNDS_FROM_END, R_ERROR = end - R_ERROR_FROM_END;
  const gic = (guest.ext as { gic: GicCpuInterface }).gic;
  const bases = (args.setup.its ?? [0]).map((n) => (n < 256 ? defaultItsBase(n) : n));
  // Per-LPI counts stop where the collection map starts.
  const lpiWords = collWord(results, bases.length, guest.nrVcpus, 0, 0);
  const fail = (e: number) => {
    Atomics.store(results, R_ERROR, e);
    Atomics.notify(results, R_ERROR);
    return { ok: false, errno: e };
  };
  if (guest.vcpuId === 0) {
    if (!args.resume) {
      const s = runItsSetup(guest, args.setup);
      if (!s.ok) return fail(s.error?.errno ?? -EFAULT);
    }
    const random = seededRandom(args.seed ^ Atomics.load(results, R_ROUNDS));
    const buf = new Uint8Array(32);
    if (args.resume) {
      // The map is written before a move's commands go out, so a save in the middle of a move carries a map
      // ahead of the ITS. Re-map every collection as the map says (MAPC is idempotent): from here on they agree,
      // and a later evacuation never degrades into a bare MOVALL.
      for (let its = 0; its < bases.length; its++) {
        for (let icid = 0; icid < guest.nrVcpus; icid++) {
          const target = (Atomics.load(results, collWord(results, bases.length, guest.nrVcpus, its, icid)) || icid + 1) - 1;
          const e = itsCommandOnce(guest, bases[its]!, { cmd: 'MAPC', icid, rdbase: target, valid: true }, buf);
          if (e !== 0) return fail(e);
        }
      }
    }
    for (;;) {
      for (const { its, cmd } of nextCommands(random, args, guest.nrVcpus, results)) {
        // Command errors (a DISCARD of an unmapped event, ...) are the ITS's business: KVM skips the command, CREADR moves on.
        const e = itsCommandOnce(guest, bases[its]!, cmd, buf);
        if (e !== 0) return fail(e);
      }
      Atomics.add(results, R_ROUNDS, 1);
      Atomics.notify(results, R_ROUNDS);
      drainInterrupts(guest, gic, lpiWords);
    }
  }
  if (!args.resume) {
    const st = waitForSetup(guest, SETUP_MAILBOX_GPA, SETUP_DONE);
    if (st < 0) return fail(st);
  }
  for (;;) {
    drainInterrupts(guest, gic, lpiWords);
    guest.wfi();
  }
};
export default churnGuest;
