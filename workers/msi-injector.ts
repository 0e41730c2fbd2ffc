/** Injector worker entry: run the MSI plan it was given, then exit. */
import { parentPort, workerData } from 'node:worker_threads';
import { injectorMain, type InjectorWorkerData } from '../src/vgic/injectors.js';

await injectorMain(workerData as InjectorWorkerData, (m) => parentPort!.postMessage(m));
