/** Actor-host worker entry: attach to the VM and run the actors the VMM spawns here until told to stop. */
import { workerData, type MessagePort } from 'node:worker_threads';
import { ActorHost } from '../src/actors/host.js';
import { VmRuntime, type VmShared } from '../src/kvm/shared.js';

const { shared, tid, host, ctl } = workerData as { shared: VmShared; tid: number; host: number; ctl: MessagePort };
const rt = new VmRuntime(shared, tid);
rt.sched?.enter();
await new ActorHost(rt.dir, rt.arena, tid, host, ctl, rt, rt.timeline, rt.transport).run();
rt.sched?.leave();
ctl.close();
