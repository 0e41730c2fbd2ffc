/**
 * The actor transports compared on the same pipelines (issue 6): every figure
 * runs twice, on a VM created with actorTransport 'shared-memory' (the
 * mailboxes) and with 'postmessage' (a channel per actor and sender thread,
 * the reply posted back, a blocked requester woken through a shared word).
 * Each postmessage figure has its shared-memory twin as baseline; the
 * shared-memory figure carries the target "at least 10x postMessage".
 *
 *  - lpi-miss: lpi-stress 1 vCPU / 1 device / 1 event (suites/lpi.ts's
 *    session: an injector thread calling signalMsi, the guest handling the
 *    LPIs) with a 2-slot translation cache that two other events filled
 *    first, so every MSI is a synchronous request from the injector thread
 *    to the ITS actor (checked per repetition). ns per LPI.
 *  - mmio: a vCPU guest doing N trapped 32-bit MMIO reads of a scratch
 *    device register (each a request from the vCPU thread to the device's
 *    actor and its reply), every value checked. ns per read, timed by the
 *    guest from its first read to its last.
 */
import type { ActorTransportKind } from '../../actors/transport.js';
import { createVm } from '../../create-vm.js';
import { OP_MMIO_WRITE } from '../../actors/protocol.js';
import { SCRATCH_DEVICE } from '../../devices/scratch.js';
import { L_DONE, L_F64, L_FAILED, L_GO, L_READY, lpiControl } from '../agents/lpi.js';
import type { MmioGuestArgs } from '../agents/mmio-guest.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule } from '../xthread.js';
import { openStress, type StressFigure } from './lpi.js';

const TRANSPORTS: readonly ActorTransportKind[] = ['shared-memory', 'postmessage'];
const TARGET = { maxRatio: 1 / 10, source: 'issue 6: the shared-memory transport at least 10x postMessage' };

/** Outside guest RAM (64 MiB at 0x4000_0000). */
const SCRATCH_BASE = 0x0800_0000;
const EXPECT = 0x5a5a_1234;

/** A pair of figures: `${base}-shared-memory` (target against the other) and `${base}-postmessage` (baseline: the first). */
function pair(base: string, unit: string, title: (t: ActorTransportKind) => string,
  open: (ctx: RunContext, t: ActorTransportKind) => Promise<Session>): Benchmark[] {
  const name = (t: ActorTransportKind) => `transport.${base}-${t}`;
  return TRANSPORTS.map((t) => ({
    name: name(t),
    group: 'transport',
    title: title(t),
    unit,
    ...(t === 'postmessage'
      ? { baseline: name('shared-memory') }
      : { targets: [{ ...TARGET, against: name('postmessage') }] }),
    open: (ctx: RunContext) => open(ctx, t),
  }));
}

const lpiMiss = pair('lpi-miss', 'ns/LPI',
  (t) => `lpi-stress 1/1/1 with gic.cacheCapacity 2 filled by two other events: every MSI a request from the injector thread to the ITS actor, actorTransport '${t}'`,
  (ctx, t) => {
    const f: StressFigure = {
      name: `transport.lpi-miss-${t}`,
      shape: { vcpus: 1, devices: 1, events: 1, cacheCapacity: 2, cacheFillers: 2, actorTransport: t },
      lpis: { full: 60_000, quick: 30_000, smoke: 300 },
      title: '',
      baseline: '',
    };
    return openStress(ctx, f);
  });

/** A VM whose vCPU reads a scratch register `reads` times per repetition. */
async function openMmio(ctx: RunContext, t: ActorTransportKind): Promise<Session> {
  const reads = ctx.pick({ full: 40_000, quick: 20_000, smoke: 200 });
  const { buffer, i32, f64 } = lpiControl(2);
  const args: MmioGuestArgs = { ctl: buffer, gpa: SCRATCH_BASE, reads, expect: EXPECT };
  const vm = await createVm({ vcpus: 1, gic: false, actorTransport: t, guest: { module: agentModule('mmio-guest'), args } });
  const waiter = new Agents(); // no agents: its waitWord (timeouts) only
  const check = () => {
    if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
  };
  try {
    const actor = await vm.spawnActor(SCRATCH_DEVICE, { registers: 1 }, 'scratch');
    if ((await vm.registerMmio({ base: SCRATCH_BASE, size: 8, actor, region: 0, kind: 0 })) !== 0) throw new Error('registerMmio failed');
    const w = await vm.rt.client.requestAsync(actor, OP_MMIO_WRITE, [0, 0, 4, EXPECT, 0]);
    if (w.result !== 0) throw new Error(`scratch register write: ${w.result}`);
    if ((await vm.start()) !== 0) throw new Error('vm.start() failed');
    await waiter.waitWord(i32, L_READY, (v) => v >= 1, 'the MMIO guest');
    let rep = 0;
    const burst = async (): Promise<number> => {
      rep++;
      const failedBefore = Atomics.load(i32, L_FAILED);
      Atomics.store(i32, L_GO, rep);
      Atomics.notify(i32, L_GO);
      await waiter.waitWord(i32, L_DONE, (v) => v >= rep || vm.faults.length > 0, `MMIO burst ${rep}`);
      check();
      const failed = Atomics.load(i32, L_FAILED) - failedBefore;
      if (failed !== 0) throw new Error(`mmio: ${failed} of ${reads} reads did not return the register's value`);
      return ((f64[L_F64 + 1]! - f64[L_F64]!) * 1e6) / reads;
    };
    const warm = ctx.pick({ full: 2, quick: 1, smoke: 1 });
    for (let i = 0; i < warm; i++) {
      ctx.progress(`warm-up ${i + 1}/${warm}`);
      await burst();
    }
    return {
      rep: `${reads.toLocaleString('en-US')} trapped MMIO reads by the vCPU (values checked), guest's wall time / count`,
      sample: async () => [await burst()],
      close: () => vm.destroy(),
    };
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}

const mmio = pair('mmio', 'ns/read',
  (t) => `MMIO round trip: a vCPU guest's trapped 32-bit read of a scratch-device register (a request to the device's actor and its reply), actorTransport '${t}'`,
  openMmio);

export const transportBenchmarks: Benchmark[] = [...lpiMiss, ...mmio];
