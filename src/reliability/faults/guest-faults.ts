/**
 * Faults of the guest itself, on the last vCPU (the others keep the command
 * and LPI traffic going):
 *
 *  - guest-never-returns: it stops calling the guest API (a loop that
 *    never yields): pause() must fail with -ETIMEDOUT naming it, withdraw
 *    its request (the others run on), and destroy() must still end it.
 *  - guest-throws: it throws from an interrupt handler, holding a guest
 *    spinlock in RAM: its vCPU exits with reason 'fault' and the error,
 *    vcpu.mutex is released; the guest's lock word stays as the guest left
 *    it (guest state is not the host's to repair).
 */
import { ETIMEDOUT, errnoName } from '../../uapi/errno.js';
import type { FaultDef } from './fault-def.js';
import { VICTIM_BURNING, VICTIM_THROWING, R_VICTIM_FROM_END } from './guest.js';
import { faultMatching } from './postconditions.js';

const THROW_MESSAGE = 'guest fault injected';

export const guestNeverReturns: FaultDef = {
  name: 'guest-never-returns',
  description: 'the last vCPU stops calling the guest API (a loop that never yields); pause() must time out naming it, destroy() must still end it',
  vm: { mode: 'burn', victim: 'last', pauseTimeoutMs: 1000 },
  async inject(f, rec) {
    const { vm } = f;
    const v = f.o.victim;
    const r = vm.results(v);
    const burning = (await f.trigger()) && Atomics.load(r, r.length - R_VICTIM_FROM_END) === VICTIM_BURNING;
    rec.check('injected at the moment', burning, burning ? `vCPU ${v} is in its loop, holding vcpu.mutex#${v}` : `vCPU ${v} never reached its loop`);
    const paused = await vm.pause();
    const fault = vm.faults.find((x) => x.source === 'VMM' && /^pause:/.test(x.message));
    rec.reportedAs = fault === undefined ? `pause ${errnoName(paused)}, no fault` : `pause ${errnoName(paused)}; ${fault.source}: ${fault.message}`;
    rec.check('the VM reports the fault', paused === -ETIMEDOUT && fault !== undefined && new RegExp(`vCPU ${v}\\b`).test(fault.message),
      `pause ${errnoName(paused)}; fault ${fault ? JSON.stringify(fault.message) : 'none'}`);
    return { gone: [], unpausable: [v] };
  },
};

export const guestThrows: FaultDef = {
  name: 'guest-throws',
  description: 'the last vCPU throws from an interrupt handler while holding a guest spinlock; its vCPU exits with the error, vcpu.mutex released',
  vm: { mode: 'throw', victim: 'last', message: THROW_MESSAGE },
  async inject(f, rec) {
    const { vm } = f;
    const v = f.o.victim;
    const reported = faultMatching(f, (x) => x.source === `vCPU ${v}`, f.o.guardMs);
    const r = vm.results(v);
    const throwing = (await f.trigger()) && Atomics.load(r, r.length - R_VICTIM_FROM_END) === VICTIM_THROWING;
    rec.check('injected at the moment', throwing, throwing ? `vCPU ${v} is in an interrupt handler, holding the guest lock` : `vCPU ${v} never reached its handler`);
    const fault = await reported;
    rec.reportedAs = fault === undefined ? 'nothing' : `${fault.source}: ${fault.message}`;
    const exit = vm.vcpuExit(v);
    rec.check('the VM reports the fault', fault !== undefined && fault.message.startsWith(THROW_MESSAGE) && exit?.reason === 'fault' &&
      exit.error?.message === fault.message && vm.vcpuState(v) === 'exited',
    `fault ${fault ? JSON.stringify(fault.message) : 'none'}; vCPU ${v} ${vm.vcpuState(v)}, exit ${exit?.reason ?? 'none'}`);
    const mutex = vm.shared.locks.vcpu[v]!;
    const word = vm.rt.arena.lockInfo(mutex).word;
    rec.check(`vcpu.mutex#${v} released on the way out`, vm.rt.arena.ownerOf(mutex) !== f.vcpuTids[v],
      `lock word 0x${(word >>> 0).toString(16)}`);
    const lock = vm.rt.mem.atomics32(f.guestLock, 1);
    rec.note(`the guest lock word is ${lock === undefined ? '?' : Atomics.load(lock, 0)} (vCPU ${v} + 1 took it): guest state, left as the guest left it`);
    return { gone: [v], unpausable: [] };
  },
};
