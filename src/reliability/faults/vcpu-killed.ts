/**
 * vcpu-killed-holding-mutex: vCPU 0's worker is terminated inside KVM_RUN,
 * holding its vcpu.mutex, at the moment its GITS_CWRITER write is inside
 * the ITS command path: the ITS actor, serving the write on vCPU 0's
 * behalf, holds its.cmd_lock and waits for its.its_lock (held by the VMM as
 * the gate that makes the moment exact). The VMM must recover the mutex
 * (-EOWNERDEAD to the next owner) and the ITS finish the command for nobody.
 */
import { FUTEX_OWNER_DIED, FUTEX_TID_MASK } from '../../sync/arena.js';
import { OPN_CWRITER_WRITE } from '../../sync/operations.js';
import type { FaultDef } from './fault-def.js';
import { faultMatching } from './postconditions.js';

export const vcpuKilledHoldingMutex: FaultDef = {
  name: 'vcpu-killed-holding-mutex',
  description: "terminate vCPU 0's worker in KVM_RUN holding vcpu.mutex#0, while its CWRITER write waits on its.its_lock (the ITS holds its.cmd_lock for it)",
  vm: { mode: 'none' },
  async inject(f, rec) {
    const { vm } = f;
    const arena = vm.rt.arena;
    const tid = f.vcpuTids[0]!;
    const mutex = vm.shared.locks.vcpu[0]!;
    const at = await f.catchAtGate(f.itsLock, (w) => w.proxyFor === tid && w.op === OPN_CWRITER_WRITE);
    const vcpu = f.threadWords(tid);
    const moment = at !== undefined && arena.ownerOf(mutex) === tid && vcpu.waitActor === f.itsActor && arena.ownerOf(f.cmdLock) === f.itsHostTid;
    rec.check('injected at the moment', moment, at === undefined ? 'the CWRITER write never reached its.its_lock'
      : `vCPU 0 holds vcpu.mutex#0 (owner tid ${arena.ownerOf(mutex)}) and waits for ITS 0's reply; ITS 0 serves its CWRITER write holding its.cmd_lock#0, parked on its.its_lock#0`);
    const died = faultMatching(f, (x) => x.source === 'vCPU 0', f.o.guardMs);
    await vm.workers().vcpus[0]!.terminate();
    if (at !== undefined) f.gate(f.itsLock).unlock(); // the ITS finishes the dead vCPU's command
    const fault = await died;
    rec.reportedAs = fault === undefined ? 'nothing' : `${fault.source}: ${fault.message}`;
    rec.check('the VM reports the fault', fault !== undefined && /holding vcpu\.mutex#0/.test(fault.message) &&
      vm.vcpuExit(0)?.reason === 'died' && vm.vcpuState(0) === 'exited',
    `fault ${fault ? JSON.stringify(fault.message) : 'none'}; vCPU 0 ${vm.vcpuState(0)}, exit ${vm.vcpuExit(0)?.reason ?? 'none'}`);
    // Recovered: free (with OWNER_DIED until the next locker, e.g. a SAVE attempt's trylock, is told -EOWNERDEAD) or taken since.
    const word = arena.lockInfo(mutex).word;
    const owner = word & FUTEX_TID_MASK;
    rec.check('vcpu.mutex#0 recovered for the next owner', owner !== tid,
      `lock word 0x${(word >>> 0).toString(16)}: ${owner !== 0 ? `taken since by ${arena.threadName(owner)}`
        : (word & FUTEX_OWNER_DIED) !== 0 ? 'free, OWNER_DIED' : 'free (a later locker was told -EOWNERDEAD)'}`);
    return { gone: [0], unpausable: [] };
  },
};
