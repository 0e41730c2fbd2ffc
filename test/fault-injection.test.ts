/**
 * Fault injection (src/reliability/faults.ts): each fault of the catalogue,
 * run on a real VM under load and injected at a moment read from the VM's
 * published state, must leave the VM reporting it, every other thread
 * released, no lock held, destroy() working and no worker behind; run in
 * a child process (the CLI), the process must exit by itself. The scans the
 * postconditions rest on are shown to catch what they look for.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FAULTS, runFault, type FaultResult } from '../dist/src/reliability/faults.js';
import { heldLocks, heldSpinlocks, stuckWaits } from '../dist/src/reliability/faults/scan.js';
import { ActorDirectory } from '../dist/src/actors/directory.js';
import { LockArena, ThreadContext } from '../dist/src/sync/index.js';
import { T_STATE, T_WAIT_LOCK, THREAD_DEAD } from '../dist/src/sync/arena.js';
import { VgicState, D_LPI_LOCK } from '../dist/src/vgic/vgic-state.js';
import { spinLock, spinUnlock } from '../dist/src/vgic/spinlock.js';
import { EOWNERDEAD } from '../dist/src/uapi/errno.js';
import { cli } from './helpers/run-node.js';
import { HANG_MS, waitForWord, within } from './helpers/wait.js';

/** Checks every fault makes after its own (postconditions.ts). */
const COMMON = [
  'no thread waits on a dead one', 'no lock held by a dead thread', 'other vCPUs make progress', 'the MSI thread is answered',
  'SAVE_TABLES attempts are answered', 'destroy resolves', 'the MSI thread exits by itself', 'no SAVE_TABLES attempt is left waiting',
  'no lock word held after destroy', 'no worker left',
];

/** Every postcondition, each with its own message. */
function expectSurvived(r: FaultResult, reported: RegExp): void {
  const names = r.checks.map((c) => c.name);
  for (const n of [...COMMON, 'the VM reports the fault']) expect(names, `check '${n}' was made`).toContain(n);
  expect(names.some((n) => n.startsWith('injected at the moment')), 'the moment was checked').toBe(true);
  expect(names.some((n) => /^pause /.test(n)), 'a pause check was made').toBe(true);
  for (const c of r.checks) expect(c.ok, `${c.name}: ${c.detail}`).toBe(true);
  expect(r.reportedAs).toMatch(reported);
  expect(r.othersReleased).toBe(true);
  expect(r.locksHeldAfter).toEqual([]);
  expect(r.destroyed).toBe(true);
  expect(r.workersLeft).toBe(0);
  expect(r.ok).toBe(true);
}

const detail = (r: FaultResult, name: string) => r.checks.find((c) => c.name === name)?.detail ?? '';

describe('fault injection: the catalogue', () => {
  it('lists every fault with a one-line description', () => {
    expect(FAULTS.map((f) => f.name)).toEqual([
      'vcpu-killed-holding-mutex', 'actor-killed-mid-command', 'actor-killed-mid-save', 'guest-never-returns', 'mailbox-full', 'guest-throws',
    ]);
    for (const f of FAULTS) expect(f.description).toMatch(/^[^\n]{20,200}$/);
  });

  it('refuses an unknown fault and bad options, naming them', async () => {
    await expect(runFault('no-such-fault')).rejects.toThrow(/unknown fault 'no-such-fault'/);
    await expect(runFault('guest-throws', { vcpus: 1 })).rejects.toThrow(/opts\.vcpus/);
    await expect(runFault('guest-throws', { guardMs: 0 })).rejects.toThrow(/opts\.guardMs/);
  });
});

describe('fault injection: each fault is survived', () => {
  it('a vCPU killed in KVM_RUN holding vcpu.mutex, its CWRITER write inside the ITS (cmd_lock held for it, waiting on its_lock): reported with the mutex recovered, the others go on', async () => {
    const r = await runFault('vcpu-killed-holding-mutex');
    expectSurvived(r, /^vCPU 0: vCPU 0 exited holding vcpu\.mutex#0 \(recovered/);
    expect(detail(r, 'injected at the moment')).toMatch(/holding its\.cmd_lock#0, parked on its\.its_lock#0/);
    expect(detail(r, 'pause stops the other vCPUs')).toMatch(/pause 0; vCPU 0 exited \(died\), vCPU 1 paused, vCPU 2 paused/);
  });

  it('the ITS actor killed while serving a CWRITER write: cmd_lock recovered, the vCPU and every later request answered -ENODEV', async () => {
    const r = await runFault('actor-killed-mid-command');
    expectSurvived(r, /^ITS 0: ITS 0 exited holding its\.cmd_lock#0 \(recovered/);
    expect(detail(r, 'requests to the dead ITS end with -ENODEV')).toMatch(/all -ENODEV/);
  });

  it('the ITS actor killed inside SAVE_TABLES holding kvm.lock and every vcpu.mutex: all recovered, the SAVE answered -ENODEV, the vCPUs re-enter KVM_RUN', async () => {
    const r = await runFault('actor-killed-mid-save');
    expectSurvived(r, /^ITS 0: ITS 0 exited holding kvm\.lock#0, vcpu\.mutex#0, vcpu\.mutex#1, vcpu\.mutex#2 \(recovered/);
    expect(detail(r, 'the SAVE_TABLES in flight is answered -ENODEV')).toMatch(/-ENODEV x\d+/);
  });

  it('a guest that never calls back: pause returns -ETIMEDOUT naming its vCPU (no hang), the others run on, destroy still ends it', async () => {
    const r = await runFault('guest-never-returns');
    expectSurvived(r, /pause -ETIMEDOUT; VMM: pause: vCPU 2 did not leave KVM_RUN within 1000 ms \(vCPU 2 runs guest code that never calls the guest API\)$/);
    expect(detail(r, 'pause times out naming the vCPU, the others run on')).toMatch(/request withdrawn: true/);
  });

  it('a full mailbox: senders block while the actor is stalled and are all served after; filled again and the actor killed, all get -ENODEV', async () => {
    const r = await runFault('mailbox-full');
    expectSurvived(r, /^ITS 0: ITS 0 exited/);
    expect(detail(r, 'injected at the moment (stalled)')).toMatch(/ring full: 4\/4 slots taken, [1-9]\d* senders waiting for space, 0 of 16/);
    expect(detail(r, 'injected at the moment (dying)')).toMatch(/ring full: 4\/4 slots taken, [1-9]\d* senders waiting for space, 0 of 16/);
    expect(detail(r, 'stalled: every sender served once the actor runs')).toMatch(/0 x16/);
    expect(detail(r, 'dying: every sender answered -ENODEV')).toBe('-ENODEV x16');
  });

  it('a guest that throws in an interrupt handler holding a guest spinlock: its vCPU exits with the error, vcpu.mutex released, the guest lock left as the guest left it', async () => {
    const r = await runFault('guest-throws');
    expectSurvived(r, /^vCPU 2: guest fault injected \(in the handler of INTID \d+, holding the guest lock/);
    expect(r.notes.join()).toMatch(/guest lock word is 3/);
  });

  it('with the postMessage transport and one shared actor host, an actor killed mid-command is survived the same way', async () => {
    const r = await runFault('actor-killed-mid-command', { actorTransport: 'postmessage', actorPlacement: 'shared' });
    expectSurvived(r, /^actor host: actor host exited holding its\.cmd_lock#0/);
  });
});

describe('fault injection: the process exits by itself', () => {
  it('vgic-lab faults runs each fault in a child that exits by itself with code 0 after destroy (a never-returning guest and a killed vCPU)', async () => {
    const run = await cli(['faults', 'guest-never-returns', 'vcpu-killed-holding-mutex', '--json'], 2 * HANG_MS);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as { runs: { fault: string; survived: boolean; child: { processExited: boolean; exitCode: number; unhandled: string[]; result: FaultResult } }[]; summary: { runs: number; survived: number } };
    expect(doc.summary).toMatchObject({ runs: 2, survived: 2 });
    for (const x of doc.runs) {
      expect([x.fault, x.child.processExited, x.child.exitCode, x.child.unhandled]).toEqual([x.fault, true, 0, []]);
      expect(x.child.result.ok).toBe(true);
    }
  }, 3 * HANG_MS);

  it('vgic-lab faults: a usage error exits 2 naming the fault', async () => {
    const run = await cli(['faults', 'no-such-fault']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown fault 'no-such-fault'/);
  });
});

describe('fault injection: the scans can fail', () => {
  it('the lock scan names a lock a worker holds, then flags it once the worker died without recovery, and a thread waiting on it is stuck until it is recovered', async () => {
    const arena = LockArena.create({ locks: 8, threads: 8 });
    const lock = arena.allocLock('test.lock', 3);
    const dir = new ActorDirectory(ActorDirectory.create({ maxActors: 1, mailboxCapacity: 2 }));
    const w = new Worker(new URL('./fixtures/lock-worker.mjs', import.meta.url), {
      workerData: { arena: arena.buffer, lock, index: 0, name: 'holder', mode: 'lock', ctl: new SharedArrayBuffer(64), counter: new SharedArrayBuffer(4) },
    });
    const ready = await within(new Promise<{ tid: number }>((resolve) => w.once('message', resolve)), 'the worker');
    const answered = new Promise((resolve) => w.once('message', resolve));
    w.postMessage({ id: 1, cmd: 'lock' });
    await within(answered, 'the lock');
    expect(heldLocks(arena)).toEqual([{ lock: 'test.lock#3', index: lock, owner: ready.tid, ownerName: 'holder', ownerAlive: true }]);

    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage({ id: 2, cmd: 'exit' });
    await within(exited, 'the worker exit');
    Atomics.store(arena.i32, arena.threadRecord(ready.tid) + T_STATE, THREAD_DEAD); // what the VMM marks, here without recovering
    expect(heldLocks(arena).map((l) => [l.lock, l.ownerAlive])).toEqual([['test.lock#3', false]]);

    const main = ThreadContext.register(arena, 'vmm', 0, 'waiter');
    const waiting = main.mutex(lock).lockAsync(HANG_MS);
    await waitForWord(arena.i32, arena.threadRecord(main.tid) + T_WAIT_LOCK, (v) => v === lock + 1, 'the waiter to publish its wait');
    expect(stuckWaits(arena, dir)).toEqual([{ tid: main.tid, name: 'waiter', waitsFor: 'test.lock#3 held by holder, which is dead' }]);
    expect(arena.recoverThread(ready.tid)).toEqual([lock]);
    expect(await waiting).toBe(-EOWNERDEAD);
    expect(stuckWaits(arena, dir)).toEqual([]);
    expect(heldLocks(arena).map((l) => [l.ownerName, l.ownerAlive])).toEqual([['waiter', true]]);
  });

  it('the spin-word scan names a vGIC spinlock left held', () => {
    const st = new VgicState(VgicState.create({ nrVcpus: 2 }));
    expect(heldSpinlocks(st)).toEqual([]);
    spinLock(st.i32, D_LPI_LOCK, 7);
    expect(heldSpinlocks(st)).toEqual([{ lock: 'lpi_lock', owner: 7 }]);
    spinUnlock(st.i32, D_LPI_LOCK);
    expect(heldSpinlocks(st)).toEqual([]);
  });
});
