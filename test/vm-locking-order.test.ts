/**
 * Lock orders against running guests (spec 7.3-7.5, 9.30, 9.31), on real VMs:
 * the ITS actor takes the lock protocol's mutexes in the lock arena while a
 * vCPU worker, holding its vcpu.mutex for all of KVM_RUN, keeps writing
 * GITS_CWRITER (INT + SYNC in a loop, each waiting for the ITS's reply), and
 * injector threads call KVM_SIGNAL_MSI. The 2017 order (kvm.lock -> its_lock
 * -> vcpu mutexes) is safe only because the vCPU locks are trylocks; with
 * blocking vCPU locks it deadlocks, which the test observes in the wait-for
 * records of the lock arena (T_WAIT_LOCK, T_WAIT_ACTOR) and then tears down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runInjectors, type GicVm } from '../dist/src/index.js';
import * as u from '../dist/src/uapi/index.js';
import { REPLY_NO_ACTOR } from '../dist/src/actors/protocol.js';
import { bootVm, doorbell, lockClass, R_ROUNDS, threadTid, waitHandled, waitsFor } from './helpers/vm-boot.js';
import { waitForWord, waitUntil, within } from './helpers/wait.js';

const GRP_CTRL = u.KVM_DEV_ARM_VGIC_GRP_CTRL, SAVE = u.KVM_DEV_ARM_ITS_SAVE_TABLES;

let vms: GicVm[] = [];
const track = (vm: GicVm) => vms.push(vm);
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy(1000)));
  vms = [];
});

/** Device 7: events 0..3 -> LPIs 8192..8195 on collection e % vcpus. */
const dev7 = (vcpus: number) => ({ deviceId: 7, events: [0, 1, 2, 3].map((e) => ({ eventId: e, intid: 8192 + e, icid: e % vcpus })) });
const rounds = (vm: GicVm) => Atomics.load(vm.results(0), R_ROUNDS);
/** Wait until vCPU 0's command loop has completed at least `n` rounds (INT + SYNC, each a CWRITER write). */
const waitRounds = (vm: GicVm, n: number) => waitForWord(vm.results(0), R_ROUNDS, (r) => r >= n, `vCPU 0's command loop to reach round ${n}`);

describe('9.30 the 2017 order (kvm.lock -> its_lock -> vcpu mutexes)', () => {
  it('9.30 with vCPU trylocks, SAVE while the vCPU keeps writing CWRITER returns -EBUSY and never deadlocks', async () => {
    const vm = await bootVm({
      vcpus: 1, devices: [dev7(1)], roles: { 0: ['setup', 'cmd-loop'] },
      args: { loop: { its: 0, deviceId: 7, eventId: 0, vcpu: 0 } }, gic: { lockProtocol: 'v7-2017' },
    }, track);
    expect(vm.gic.shared.lockProtocol.name).toBe('v7-2017');
    const its = vm.gic.its[0]!;
    await waitRounds(vm, 2);
    const fails0 = lockClass(vm, 'vcpu.mutex').trylockFailures;
    const kvm0 = lockClass(vm, 'kvm.lock').acquisitions;
    const ATTEMPTS = 20;
    for (let i = 0; i < ATTEMPTS; i++) {
      // Each attempt lands while the loop is live: after a fresh round, before the next.
      await waitRounds(vm, rounds(vm) + 1);
      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(-u.EBUSY);
      expect(vm.vcpuState(0)).toBe('running');
    }
    expect(lockClass(vm, 'kvm.lock').acquisitions - kvm0).toBe(ATTEMPTS);
    expect(lockClass(vm, 'vcpu.mutex').trylockFailures - fails0).toBeGreaterThanOrEqual(ATTEMPTS);
    // No deadlock: the guest's CWRITER writes are still being served.
    await waitRounds(vm, rounds(vm) + 3);
    expect(vm.vcpuExit(0)).toBeUndefined();
    // And once the vCPU has left KVM_RUN the same call succeeds.
    expect(await vm.pause()).toBe(0);
    expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(0);
    expect(vm.faults).toEqual([]);
  });

  it('9.30 with blocking vCPU locks the same setup deadlocks (ABBA through the ITS reply): both wait-for edges observed, then destroyed', async () => {
    const vm = await bootVm({
      vcpus: 1, devices: [dev7(1)], roles: { 0: ['setup', 'cmd-loop'] },
      args: { loop: { its: 0, deviceId: 7, eventId: 0, vcpu: 0 } }, gic: { lockProtocol: 'v7-2017', blockingVcpuLocks: true },
    }, track);
    await waitRounds(vm, 2);
    const arena = vm.rt.arena;
    const itsTid = threadTid(vm, (t) => t.kind === 'actor' && t.name === 'ITS 0');
    const vcpuTid = threadTid(vm, (t) => t.kind === 'vcpu' && t.index === 0);
    const vcpuMutex = vm.shared.locks.vcpu[0]!;
    const itsActor = vm.gic.its[0]!.actor;

    let answered: number | undefined;
    const save = vm.gic.its[0]!.setAttr(GRP_CTRL, SAVE).then((r) => (answered = r));
    // A: the ITS actor (serving SAVE) waits for vCPU 0's mutex, which vCPU 0 owns;
    // B: vCPU 0 (in a CWRITER write) waits for the ITS actor's reply.
    await waitUntil(() => waitsFor(vm, itsTid).lock === vcpuMutex && arena.ownerOf(vcpuMutex) === vcpuTid
      && waitsFor(vm, vcpuTid).actor === itsActor, 'the wait-for cycle ITS actor -> vcpu.mutex[0] -> vCPU 0 -> ITS actor');
    // Edge A holds kvm.lock and its_lock, in the 2017 order, while it waits.
    const held = arena.locksHeldBy(itsTid).map((l) => arena.lockInfo(l).className);
    expect(held).toEqual(expect.arrayContaining(['kvm.lock', 'its.its_lock']));
    expect(arena.locksHeldBy(vcpuTid).map((l) => arena.lockInfo(l).className)).toEqual(['vcpu.mutex']);
    // A cycle is permanent: re-read both edges after the vCPU's round counter is known to be frozen.
    const frozen = rounds(vm);
    expect(waitsFor(vm, itsTid).lock).toBe(vcpuMutex);
    expect(waitsFor(vm, vcpuTid).actor).toBe(itsActor);
    expect(rounds(vm)).toBe(frozen);
    expect(answered).toBeUndefined();

    // destroy() terminates what does not stop within its grace period, and the pending request ends:
    // with -ENODEV if the ITS actor's host went first, or with 0 if the vCPU worker went first (its
    // vcpu.mutex is then recovered, robust-futex style, and handed to the waiting actor, which saves).
    await within(vm.destroy(300), 'destroy of the deadlocked VM');
    expect([0, REPLY_NO_ACTOR]).toContain(await within(save, 'the SAVE request to end with its actor'));
    const { vcpus, hosts } = vm.workers();
    for (const w of [...vcpus, ...hosts]) expect(w.threadId, 'every worker of the VM is gone').toBe(-1);
    expect(vm.vmState).toBe('destroyed');
  });
});

describe('9.31 the upstream order (kvm.lock -> vcpu mutexes (trylock) -> config_lock -> its_lock)', () => {
  it('9.31 SAVE attempts, vCPU CWRITER traffic and MSI injection from injector threads run concurrently without deadlock; after pause SAVE succeeds', async () => {
    // vCPU 0 loops INT(7, 1) + SYNC (LPI 8193 -> vCPU 1) and drains its own LPIs between rounds; vCPU 1
    // handles LPIs; two injector threads signal events 0, 2, 3 (LPIs 8192, 8194 -> vCPU 0, 8195 -> vCPU 1)
    // while the VMM keeps trying SAVE_TABLES.
    const vm = await bootVm({
      vcpus: 2, devices: [dev7(2)], roles: { 0: ['setup', 'cmd-loop'], 1: ['handle'] },
      args: { loop: { its: 0, deviceId: 7, eventId: 1, vcpu: 1 } },
    }, track);
    expect(vm.gic.shared.lockProtocol.name).toBe('upstream');
    const its = vm.gic.its[0]!;
    await waitRounds(vm, 2);
    await waitHandled(vm, 1, 8193, 1);
    const ROUNDS = 400;
    const msis = [0, 2, 3].map((e) => ({ address: doorbell(0), data: e, devid: 7 }));
    const its0 = lockClass(vm, 'its.its_lock').acquisitions;
    let injecting = true;
    // A third thread sends an event with no ITE: never cached, so every one goes to the ITS actor (its_lock).
    const miss = { address: doorbell(0), data: 3, devid: 8 };
    const injectors = runInjectors(vm.gic.injectorHandle(), [{ msis, rounds: ROUNDS }, { msis, rounds: ROUNDS }, { msis: [miss], rounds: ROUNDS }])
      .finally(() => (injecting = false));
    let attempts = 0;
    const r0 = rounds(vm);
    while (injecting || attempts < 10) {
      await waitRounds(vm, rounds(vm) + 1);
      expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(-u.EBUSY);
      attempts++;
    }
    const inj = await within(injectors, 'the injector threads');
    for (const r of inj.slice(0, 2)) expect(r).toMatchObject({ delivered: ROUNDS * 3, blocked: 0, errors: 0 });
    expect(inj[2]).toMatchObject({ delivered: 0, blocked: ROUNDS, errors: 0 });
    expect(rounds(vm) - r0).toBeGreaterThanOrEqual(attempts);
    // The upstream order fails on the vCPU trylock before it ever reaches its_lock; commands and MSI misses took it.
    expect(lockClass(vm, 'its.its_lock').acquisitions - its0).toBeGreaterThanOrEqual(2 * attempts + ROUNDS);
    // Everyone still makes progress: fresh MSIs to both vCPUs are handled.
    const seen = (v: number, intid: number) => Atomics.load(vm.results(v), 1 + intid - 8192);
    const b0 = seen(0, 8194), b1 = seen(1, 8195);
    expect(await vm.signalMsi(msis[1]!)).toBe(1);
    expect(await vm.signalMsi(msis[2]!)).toBe(1);
    await waitHandled(vm, 0, 8194, b0 + 1);
    await waitHandled(vm, 1, 8195, b1 + 1);
    await waitRounds(vm, rounds(vm) + 2);

    expect(await vm.pause()).toBe(0);
    expect(await its.setAttr(GRP_CTRL, SAVE)).toBe(0);
    expect(await vm.gic.v3.setAttr(GRP_CTRL, u.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)).toBe(0);
    expect(vm.faults).toEqual([]);
  });
});
