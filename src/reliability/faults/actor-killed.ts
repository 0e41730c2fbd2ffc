/**
 * The ITS actor's host worker terminated in the middle of a command:
 *
 *  - actor-killed-mid-command: serving vCPU 0's GITS_CWRITER write, holding
 *    its.cmd_lock and parked on its.its_lock (the VMM's gate);
 *  - actor-killed-mid-save: serving a userspace SAVE_TABLES on the paused
 *    VM, holding kvm.lock and every vcpu.mutex, parked on config_lock.
 *
 * Its locks must be recovered, every requester (the vCPU, the VMM's
 * SAVE_TABLES, MSIs that need the ITS) answered -ENODEV, and the vCPUs
 * able to go on (re-entering KVM_RUN through recovered mutexes).
 */
import { FUTEX_TID_MASK } from '../../sync/arena.js';
import { OPN_CWRITER_WRITE, OPN_SAVE_TABLES } from '../../sync/operations.js';
import { waitUntil } from '../../sync/wait.js';
import { ENODEV, errnoName } from '../../uapi/errno.js';
import type { VmFault } from '../../kvm/vm.js';
import type { FaultDef } from './fault-def.js';
import type { FaultVm } from './fault-vm.js';
import { faultMatching, within, type Recorder } from './postconditions.js';

/** MSIs no translation cache holds (DeviceID 0x55 is never mapped): each needs the ITS actor. */
const UNCACHED_MSIS = 300;

async function killItsHost(f: FaultVm, rec: Recorder): Promise<VmFault | undefined> {
  const host = f.vm.rt.arena.threadName(f.itsHostTid); // 'ITS 0', or 'actor host' when every actor shares it
  const died = faultMatching(f, (x) => x.source === host && /exited/.test(x.message), f.o.guardMs);
  await f.itsHost().terminate();
  const fault = await died;
  rec.reportedAs = fault === undefined ? 'nothing' : `${fault.source}: ${fault.message}`;
  return fault;
}

/** Locks `indices` are no longer owned by the dead host (free, or taken since by a live thread). */
function recovered(f: FaultVm, rec: Recorder, indices: number[]): void {
  const a = f.vm.rt.arena;
  const still = indices.filter((l) => (a.lockInfo(l).word & FUTEX_TID_MASK) === f.itsHostTid);
  const names = indices.map((l) => `${a.lockInfo(l).className}#${a.lockInfo(l).instance}`);
  rec.check('its locks recovered', still.length === 0, `${names.join(', ')}: ${still.length === 0 ? 'none still owned by the dead host' : `${still.length} still owned`}`);
}

/**
 * Requests that need the dead ITS end with -ENODEV, however many are made
 * one after the other (a request slot or a ring place lost per dead request
 * would run out).
 */
async function laterRequestsEnodev(f: FaultVm, rec: Recorder): Promise<void> {
  const address = f.vm.gic.its[0]!.baseAddress! + 0x1_0040;
  const run = async (): Promise<(number | string)[]> => {
    const other: (number | string)[] = [];
    for (let i = 0; i < UNCACHED_MSIS; i++) {
      try {
        const r = await f.vm.signalMsi({ address, data: i % 32, devid: 0x55 });
        if (r !== -ENODEV) other.push(r);
      } catch (e) {
        other.push(String((e as Error)?.message ?? e));
      }
    }
    return other;
  };
  const other = await within(run(), f.o.guardMs);
  rec.check('requests to the dead ITS end with -ENODEV', other !== undefined && other.length === 0,
    other === undefined ? `${UNCACHED_MSIS} MSIs needing the ITS, one after the other: not all answered`
      : `${UNCACHED_MSIS} MSIs needing the ITS, one after the other: ${other.length === 0 ? 'all -ENODEV'
        : `${other.length} not -ENODEV, e.g. ${typeof other[0] === 'number' ? errnoName(other[0]) : other[0]}`}`);
}

export const actorKilledMidCommand: FaultDef = {
  name: 'actor-killed-mid-command',
  description: "terminate the ITS actor's worker while it serves vCPU 0's CWRITER write, holding its.cmd_lock, parked on its.its_lock",
  vm: { mode: 'none' },
  async inject(f, rec) {
    const { vm } = f;
    const a = vm.rt.arena;
    const vcpu0 = f.vcpuTids[0]!;
    const at = await f.catchAtGate(f.itsLock, (w) => w.proxyFor === vcpu0 && w.op === OPN_CWRITER_WRITE);
    const moment = at !== undefined && a.ownerOf(f.cmdLock) === f.itsHostTid && f.threadWords(vcpu0).waitActor === f.itsActor;
    rec.check('injected at the moment', moment, at === undefined ? 'no CWRITER write reached its.its_lock'
      : "ITS 0 serves vCPU 0's CWRITER write holding its.cmd_lock#0, parked on its.its_lock#0; vCPU 0 waits for the reply");
    const fault = await killItsHost(f, rec);
    if (at !== undefined) f.gate(f.itsLock).unlock();
    rec.check('the VM reports the fault', fault !== undefined && /holding its\.cmd_lock#0/.test(fault.message),
      `fault ${fault ? JSON.stringify(fault.message) : 'none'}`);
    recovered(f, rec, [f.cmdLock]);
    const answered = await waitUntil(() => f.threadWords(vcpu0).waitActor !== f.itsActor, f.o.guardMs);
    rec.check("vCPU 0's CWRITER write is answered", answered, answered ? 'vCPU 0 no longer waits for ITS 0' : 'vCPU 0 still waits for ITS 0');
    await laterRequestsEnodev(f, rec);
    return { gone: [], unpausable: [] };
  },
};

export const actorKilledMidSave: FaultDef = {
  name: 'actor-killed-mid-save',
  description: "pause, then terminate the ITS actor's worker inside SAVE_TABLES, holding kvm.lock and every vcpu.mutex, parked on config_lock; resume",
  vm: { mode: 'none' },
  async inject(f, rec) {
    const { vm } = f;
    const a = vm.rt.arena;
    const paused = await vm.pause();
    const at = paused === 0 ? await f.catchAtGate(vm.shared.locks.config, (w) => w.op === OPN_SAVE_TABLES) : undefined;
    const held = [vm.shared.locks.kvm, ...vm.shared.locks.vcpu];
    const moment = at !== undefined && held.every((l) => a.ownerOf(l) === f.itsHostTid);
    rec.check('injected at the moment', moment, paused !== 0 ? `pause ${errnoName(paused)}` : at === undefined ? 'no SAVE_TABLES reached config_lock'
      : 'ITS 0 serves SAVE_TABLES holding kvm.lock#0 and every vcpu.mutex, parked on config_lock#0');
    const fault = await killItsHost(f, rec);
    if (at !== undefined) f.gate(vm.shared.locks.config).unlock();
    rec.check('the VM reports the fault', fault !== undefined && /holding kvm\.lock#0, vcpu\.mutex#0/.test(fault.message),
      `fault ${fault ? JSON.stringify(fault.message) : 'none'}`);
    recovered(f, rec, held);
    const answered = await waitUntil(() => f.saves.outcomes.has('-ENODEV'), f.o.guardMs);
    rec.check('the SAVE_TABLES in flight is answered -ENODEV', answered, f.saves.summary());
    const entries = Array.from({ length: vm.nrVcpus }, (_, v) => vm.vcpuCounters(v).entries);
    const resumed = paused === 0 ? await vm.resume() : paused;
    // Each vCPU re-enters KVM_RUN through its recovered vcpu.mutex (-EOWNERDEAD: acquired).
    const back = resumed === 0 && await waitUntil(() => entries.every((e, v) => vm.vcpuCounters(v).entries > e), f.o.guardMs);
    rec.check('the vCPUs re-enter KVM_RUN', back, `resume ${errnoName(resumed)}; entries ${entries.join(', ')} -> ${entries.map((_, v) => vm.vcpuCounters(v).entries).join(', ')}`);
    await laterRequestsEnodev(f, rec);
    return { gone: [], unpausable: [] };
  },
};
