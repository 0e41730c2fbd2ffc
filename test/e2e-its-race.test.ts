/**
 * MSIs from injector threads racing with guest command processing, with
 * exact per-LPI accounting, on a real VM (4 vCPUs, 2 ITSs).
 *
 * vCPU 0 drives ITS0 and vCPU 1 drives ITS1, concurrently: round after round
 * each MOVIs its two events to the next vCPU of a fixed cycle, toggles one
 * LPI's config byte with INV, and SYNCs, handling interrupts between
 * commands. Each event has a phase word in guest RAM the driving vCPU bumps
 * around each MOVI (2k: at target k; 2k+1: moving from target k to k+1).
 * Every vCPU checks each acknowledge of these LPIs against the phases it read
 * just before and just after the acknowledge: the LPI must have been
 * targeting that vCPU at some point of that window.
 *
 * Meanwhile one injector thread per LPI calls KVM_SIGNAL_MSI in a loop.
 * Afterwards, once nothing is pending and every vCPU has passed a barrier:
 * every MSI returned 1 (ITS enabled, LPIs enabled, mappings valid throughout);
 * per LPI, 1 <= delivered <= accepted (edges coalesce, none is lost);
 * the guest's per-vCPU counts sum to the model's delivery counter; nothing
 * stays pending; no acknowledge happened on a vCPU the LPI was not targeting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import { runInjectors } from '../dist/src/vgic/injectors.js';
import {
  acksPerVcpu, barrier, bootConsoleVm, doorbell, lpiState, R_PROGRESS, R_VIOLATIONS, SCRATCH_GPA, type ConsoleVm,
} from './helpers/e2e-console.js';
import { waitForWord, waitUntil } from './helpers/wait.js';

let booted: ConsoleVm | undefined;
afterEach(async () => {
  await booted?.vm.destroy();
  booted = undefined;
});

const PHASE_GPA = SCRATCH_GPA;
const STOP_GPA = SCRATCH_GPA + 0x100;
/** MSIs per injector thread. */
const ROUNDS = 20_000;

interface RaceLpi { its: number; eventId: number; intid: number; phase: number; targets: number[] }

const DEVID = 7;
const LPIS: RaceLpi[] = [
  { its: 0, eventId: 0, intid: 8400, phase: 0, targets: [0, 1, 2, 3] },
  { its: 0, eventId: 1, intid: 8401, phase: 1, targets: [2, 3, 0, 1] },
  { its: 1, eventId: 0, intid: 8402, phase: 2, targets: [1, 3, 0, 2] },
  { its: 1, eventId: 1, intid: 8403, phase: 3, targets: [3, 2, 1, 0] },
];

function quiet(vm: GicVm): boolean {
  return LPIS.every((l) => !lpiState(vm, l.intid).pending) && [0, 1, 2, 3].every((v) => !vm.gic.vgic.hasPending(v));
}

describe('e2e race: injector threads vs guest command processing', () => {
  it('every accepted MSI leaves its LPI pending or delivered, delivered <= accepted, nothing stays pending, never on a vCPU it was not targeting', async () => {
    booted = await bootConsoleVm({ vcpus: 4, gic: { its: 2 } });
    const { vm, con } = booted;
    const [c0, c1] = [con[0]!, con[1]!];
    const [init] = await c0.ok([{ op: 'gicInit' }, { op: 'lpi', list: LPIS.map((l) => [l.intid, true]) }, { op: 'itsInit', its: 0 }]);
    // vCPU 1 brings ITS1 up itself, sharing vCPU 0's LPI tables.
    await c1.ok([{ op: 'useTables', tables: init!.tables }, { op: 'itsInit', its: 1 }]);
    for (const [c, its] of [[c0, 0], [c1, 1]] as const) {
      await c.ok([{
        op: 'cmds', its,
        list: [
          ...[0, 1, 2, 3].map((v) => ['mapc', v, v]),
          ['mapd', DEVID, 2],
          ...LPIS.filter((l) => l.its === its).map((l) => ['mapti', DEVID, l.eventId, l.intid, l.targets[0]]),
        ],
      }]);
    }
    for (const l of LPIS) expect(lpiState(vm, l.intid)).toMatchObject({ exists: true, target: l.targets[0], enabled: true });
    const track = { op: 'track', phaseGpa: PHASE_GPA, lpis: LPIS.map((l) => ({ intid: l.intid, targets: l.targets })) };
    await Promise.all(con.map((c) => c.ok([track])));

    // The guest starts churning on both ITSs; injectors start once both have done a round.
    const churn = [c0, c1].map((c, its) => c.run([{
      op: 'churn', its, deviceId: DEVID, phaseGpa: PHASE_GPA, phases: LPIS.length, stopGpa: STOP_GPA, minRounds: 10, toggle: 1,
      events: LPIS.filter((l) => l.its === its).map((l) => ({ eventId: l.eventId, intid: l.intid, phase: l.phase, targets: l.targets })),
    }]));
    for (const v of [0, 1]) await waitForWord(vm.results(v), R_PROGRESS, (n) => n >= 1, `vCPU ${v} to start churning`);
    const delivered0 = LPIS.map((l) => lpiState(vm, l.intid).delivered);
    let finished = false;
    const injecting = runInjectors(vm.gic.injectorHandle(), LPIS.map((l) => ({
      msis: [{ address: doorbell(l.its), devid: DEVID, data: l.eventId }], rounds: ROUNDS,
    }))).finally(() => (finished = true));
    // Churn progress once the injectors' MSIs start landing, and when the injectors are done.
    await waitUntil(() => finished || LPIS.some((l, i) => lpiState(vm, l.intid).pending || lpiState(vm, l.intid).delivered > delivered0[i]!),
      'the first injected MSI');
    const progressAtStart = [0, 1].map((v) => Atomics.load(vm.results(v), R_PROGRESS));
    const inj = await injecting;
    const progressAtEnd = [0, 1].map((v) => Atomics.load(vm.results(v), R_PROGRESS));
    Atomics.store(vm.rt.mem.atomics32(STOP_GPA, 1)!, 0, 1);
    const out = await Promise.all(churn);
    for (const [its, r] of out.entries()) {
      expect(r[0], `churn on ITS${its}`).toMatchObject({ ret: 0 });
      expect(r[0]!.error).toBeUndefined();
      expect(r[0]!.rounds).toBeGreaterThanOrEqual(10);
    }

    await waitUntil(() => quiet(vm), 'every LPI to be handled');
    await barrier(con);
    expect(quiet(vm)).toBe(true);

    const violations = (await Promise.all(con.map((c) => c.ok([{ op: 'counters' }])))).flatMap((r) => r[0]!.violations);
    expect(violations).toEqual([]);
    for (let v = 0; v < 4; v++) expect(Atomics.load(vm.results(v), R_VIOLATIONS)).toBe(0);
    expect(vm.faults).toEqual([]);

    const report = LPIS.map((l, i) => {
      const s = lpiState(vm, l.intid);
      const per = acksPerVcpu(vm, l.intid);
      return { intid: l.intid, accepted: inj[i]!.delivered, blocked: inj[i]!.blocked, errors: inj[i]!.errors, delivered: s.delivered, acked: per.reduce((a, b) => a + b, 0), per, pending: s.pending, enabled: s.enabled };
    });
    for (const r of report) {
      expect(r, `LPI ${r.intid}`).toMatchObject({ accepted: ROUNDS, blocked: 0, errors: 0, pending: false, enabled: true });
      expect(r.acked, `LPI ${r.intid}: guest acknowledges = model deliveries`).toBe(r.delivered);
      expect(r.delivered, `LPI ${r.intid} delivered`).toBeGreaterThanOrEqual(1);
      expect(r.delivered, `LPI ${r.intid} delivered <= accepted`).toBeLessThanOrEqual(r.accepted);
    }
    // Both vCPUs completed churn rounds while the injectors ran (the race really happened).
    expect(progressAtEnd[0]!, 'ITS0 churn rounds during injection').toBeGreaterThan(progressAtStart[0]!);
    expect(progressAtEnd[1]!, 'ITS1 churn rounds during injection').toBeGreaterThan(progressAtStart[1]!);
  });
});
