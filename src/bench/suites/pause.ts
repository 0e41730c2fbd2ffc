/**
 * Pause-all latency (issue 2): `await vm.pause()` from the call to its
 * resolution, for 1, 4 and 8 vCPUs running a busy guest ('spin') and an idle
 * one ('idle', parked in WFI), against the cost of waking one parked thread
 * and hearing back from it (Atomics.notify -> Atomics.waitAsync), measured in
 * the same run and settled the same way before every sample. Between rounds
 * every VM stays paused, so the open sessions leave the CPUs alone.
 */
import { Vm } from '../../kvm/vm.js';
import { errnoName } from '../../uapi/errno.js';
import { controlBlock, C_READY } from '../agents/batch.js';
import { W_ACK, W_REQ } from '../agents/wake.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, sleep } from '../xthread.js';

/** Quiet time before each sample, so the target threads are parked (idle) or deep in guest code (spin). */
const SETTLE_MS = 2;
const VCPU_COUNTS = [1, 4, 8] as const;

function perRound(ctx: RunContext): number {
  return Math.max(1, Math.ceil(ctx.budget.latencySamples / ctx.budget.rounds));
}

function warmups(ctx: RunContext): number {
  return ctx.pick({ full: 10, quick: 5, smoke: 1 });
}

export const wakeRtt: Benchmark = {
  name: 'pause.wake-rtt',
  group: 'pause',
  title: 'wake one worker parked in Atomics.wait and await its answer (Atomics.notify -> Atomics.waitAsync)',
  unit: 'µs',
  async open(ctx) {
    const agents = new Agents();
    try {
      const { buffer, i32 } = controlBlock();
      const words = new SharedArrayBuffer(128);
      const w = new Int32Array(words);
      agents.spawn(agentModule('wake'), 'echo', { ctl: buffer, words });
      await agents.waitWord(i32, C_READY, (v) => v >= 1, 'the echo worker');
      let seq = 0;
      const once = async (): Promise<number> => {
        await sleep(SETTLE_MS);
        const i = ++seq;
        const t0 = performance.now();
        Atomics.store(w, W_REQ, i);
        Atomics.notify(w, W_REQ);
        await agents.waitWord(w, W_ACK, (v) => v === i, 'the echo');
        return (performance.now() - t0) * 1e3;
      };
      for (let i = 0; i < warmups(ctx); i++) await once();
      return {
        rep: 'one wake-up round trip',
        async sample() {
          const values: number[] = [];
          for (let i = 0; i < perRound(ctx); i++) values.push(await once());
          return values;
        },
        close: () => agents.close(),
      };
    } catch (e) {
      await agents.close();
      throw e;
    }
  },
};

/** pause.<guest>-<vcpus>; also used by the curves command for other vCPU counts. */
export function pauseBench(guest: 'spin' | 'idle', vcpus: number): Benchmark {
  return {
    name: `pause.${guest}-${vcpus}`,
    group: 'pause',
    title: `await vm.pause(), ${vcpus} vCPU${vcpus > 1 ? 's' : ''} running the '${guest}' guest${guest === 'idle' ? ' (in WFI)' : ''}`,
    unit: 'µs',
    baseline: wakeRtt.name,
    async open(ctx): Promise<Session> {
      const vm = await Vm.create({ vcpus, guest });
      try {
        check('vm.start()', await vm.start());
        check('vm.pause()', await vm.pause());
        /** resume, let every vCPU get back into guest code, then time a pause (the VM stays paused). */
        const once = async (): Promise<number> => {
          check('vm.resume()', await vm.resume());
          await settle(vm, vcpus);
          const t0 = performance.now();
          const r = await vm.pause();
          const t1 = performance.now();
          check('vm.pause()', r);
          return (t1 - t0) * 1e3;
        };
        for (let i = 0; i < warmups(ctx); i++) await once();
        return {
          rep: 'one pause() of all vCPUs, after resume() and a settle',
          async sample() {
            const values: number[] = [];
            for (let i = 0; i < perRound(ctx); i++) values.push(await once());
            if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
            return values;
          },
          close: () => vm.destroy(),
        };
      } catch (e) {
        await vm.destroy();
        throw e;
      }
    },
  };
}

function check(what: string, r: number): void {
  if (r !== 0) throw new Error(`${what}: ${errnoName(r)}`);
}

/** Wait until every vCPU is back in KVM_RUN, then SETTLE_MS more. */
async function settle(vm: Vm, vcpus: number): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    let running = 0;
    for (let i = 0; i < vcpus; i++) if (vm.vcpuState(i) === 'running') running++;
    if (running === vcpus) break;
    if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
    if (performance.now() - t0 > 30_000) throw new Error('vCPUs did not re-enter KVM_RUN within 30 s of resume()');
    await sleep(1);
  }
  await sleep(SETTLE_MS);
}

export const pauseBenchmarks: Benchmark[] = [
  wakeRtt,
  ...(['idle', 'spin'] as const).flatMap((g) => VCPU_COUNTS.map((n) => pauseBench(g, n))),
];
