/**
 * Memory per vCPU worker: the process's resident set size
 * (process.memoryUsage().rss, worker threads included) grown by creating and
 * starting a VM of N vCPUs (the idle guest, every vCPU back in KVM_RUN),
 * beside N bare worker threads parked in Atomics.wait (park-agent.ts). One
 * repetition: gc() if the process runs with --expose-gc, RSS, create and
 * start, gc(), RSS again (the difference is the sample, bytes), destroy.
 * Without --expose-gc the medians over repetitions absorb the garbage.
 */
import { createVm } from '../../create-vm.js';
import { errnoName } from '../../uapi/errno.js';
import type { Session } from '../types.js';
import { Agents, sleep } from '../xthread.js';

const PARK = new URL('./park-agent.js', import.meta.url);

/** The --expose-gc collector, if this process has it. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  return typeof gc === 'function' ? gc : undefined;
}

function rss(): number {
  exposedGc()?.();
  return process.memoryUsage().rss;
}

/** A session whose every sample builds the thing, measures the RSS it added, and tears it down. */
function rssSession(what: string, build: () => Promise<() => Promise<void>>): Promise<Session> {
  const once = async (): Promise<number> => {
    const before = rss();
    const teardown = await build();
    try {
      return rss() - before;
    } finally {
      await teardown();
    }
  };
  return (async () => {
    await once(); // warm-up: module loading and first-time allocations are not a VM's
    return {
      rep: `${what}: RSS after - RSS before (bytes)`,
      sample: async () => [await once()],
      close: async () => {},
    };
  })();
}

/** RSS added by a started VM of `vcpus` vCPUs (idle guest). */
export function openVmRss(vcpus: number): Promise<Session> {
  return rssSession(`create and start a ${vcpus}-vCPU VM (idle guest), every vCPU in KVM_RUN`, async () => {
    const vm = await createVm({ vcpus, guest: 'idle' });
    try {
      const r = await vm.start();
      if (r !== 0) throw new Error(`vm.start(): ${errnoName(r)}`);
      const t0 = performance.now();
      while (Array.from({ length: vcpus }, (_, i) => vm.vcpuState(i)).some((s) => s !== 'running')) {
        if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
        if (performance.now() - t0 > 60_000) throw new Error('vCPUs did not enter KVM_RUN within 60 s');
        await sleep(1);
      }
    } catch (e) {
      await vm.destroy();
      throw e;
    }
    return () => vm.destroy();
  });
}

/** RSS added by `n` bare worker threads parked in Atomics.wait. */
export function openWorkersRss(n: number): Promise<Session> {
  return rssSession(`start ${n} bare worker thread${n > 1 ? 's' : ''} parked in Atomics.wait`, async () => {
    const agents = new Agents();
    try {
      const ctl = new SharedArrayBuffer(8);
      for (let i = 0; i < n; i++) agents.spawn(PARK, 'park', { ctl });
      await agents.waitWord(new Int32Array(ctl), 0, (v) => v >= n, 'the parked workers');
    } catch (e) {
      await agents.close();
      throw e;
    }
    return () => agents.close();
  });
}
