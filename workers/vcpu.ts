/** vCPU worker entry: prepare the vCPU, then serve `run()` (KVM_RUN until exit) over comlink. */
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { prepareVcpu, type VcpuWorkerData } from '../src/kvm/vcpu-worker.js';

const runner = await prepareVcpu(workerData as VcpuWorkerData);
Comlink.expose({ run: () => runner.run() }, nodeEndpoint(parentPort!));
