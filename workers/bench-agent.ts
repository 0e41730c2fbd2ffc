/**
 * Bench agent entry: a worker that runs one exported function of a bench
 * agent module (src/bench/agents/*) with the data it was given. Producers,
 * consumers and echo threads of cross-thread benchmarks all start here.
 */
import { workerData } from 'node:worker_threads';
import type { AgentData } from '../src/bench/xthread.js';

const { module, entry, data } = workerData as AgentData;
const mod = (await import(module)) as Record<string, (data: unknown) => unknown>;
const fn = mod[entry];
if (typeof fn !== 'function') throw new TypeError(`bench agent: ${module} has no export ${entry}`);
await fn(data);
