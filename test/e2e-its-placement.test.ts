/**
 * End to end with every actor (distributor and six ITSs) on one actor-host
 * worker (actorPlacement 'shared'): the VM comes up, the guest brings every
 * ITS up and maps an event on each, MSIs through each ITS are delivered once,
 * and the VM goes down with every host answering its stop request.
 *
 * Regression test for a lost wake-up in the actor host: it parked on its
 * doorbell after checking only its mailboxes, so a control request (spawn an
 * actor, stop) flagged between its last check and its park was never seen:
 * creating a VM hung on the second actor spawned on a shared host, and
 * destroy() fell back to terminating hosts after its timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  barrier, bootConsoleVm, expectDeliveredOn, msi, R_VIOLATIONS, waitAcks, type ConsoleVm,
} from './helpers/e2e-console.js';
import { within } from './helpers/wait.js';

let booted: ConsoleVm | undefined;
afterEach(async () => {
  await booted?.vm.destroy();
  booted = undefined;
});

const NR_ITS = 6;

describe("e2e with every actor on one host (actorPlacement 'shared')", () => {
  it('a VM with 4 vCPUs and 6 ITSs comes up, delivers through every ITS and goes down; five times', async () => {
    for (let round = 0; round < 5; round++) {
      booted = await within(bootConsoleVm({ vcpus: 4, actorPlacement: 'shared', gic: { its: NR_ITS } }),
        `VM ${round} to be created (every actor spawned on the shared host)`);
      const { vm, con } = booted;
      const its = [...Array(NR_ITS).keys()];
      await con[0]!.ok([
        { op: 'gicInit' },
        { op: 'lpi', list: its.map((n) => [8192 + n, true]) },
        ...its.flatMap((n) => [
          { op: 'itsInit', its: n },
          { op: 'cmds', its: n, list: [['mapc', 0, n % 4], ['mapd', 1, 1], ['mapti', 1, 0, 8192 + n, 0]] },
        ]),
      ]);
      for (const n of its) {
        expect(await msi(vm, n, 1, 0), `MSI through ITS${n}`).toBe(1);
        await waitAcks(vm, n % 4, 8192 + n, 1);
      }
      await barrier(con);
      for (const n of its) expectDeliveredOn(vm, 8192 + n, n % 4, 1);
      for (let v = 0; v < 4; v++) expect(Atomics.load(vm.results(v), R_VIOLATIONS)).toBe(0);
      expect(vm.faults).toEqual([]);
      booted = undefined;
      // destroy() waits up to its timeout for every host to answer "stop", then terminates what is left:
      // give it far longer than the guard, so a lost stop request shows as a hang here.
      await within(vm.destroy(600_000), `VM ${round}: every actor host to answer its stop request`);
    }
  });
});
