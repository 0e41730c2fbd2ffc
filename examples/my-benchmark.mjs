/**
 * A benchmark of your own beside a baseline, measured the way `vgic-lab
 * bench` measures its figures: batches of calls timed on the main thread,
 * the figure and its baseline sampled in interleaved rounds (a shared
 * machine's speed drifts; both see the same drift), and the ratio between
 * them. Here: KVM_SIGNAL_MSI from the VMM (a translation-cache hit and a
 * delivery to a vCPU that handles it), against a bare `await` of a resolved
 * promise, the floor of any async call.
 *
 *   npm run build && node examples/my-benchmark.mjs [--budget full|quick|smoke] [--json]
 */
import { parseArgs } from 'node:util';
import { createVm, renderBenchReport, runBenchmarks, waitForItsSetup } from 'vgic-lab';

const { values } = parseArgs({ options: { budget: { type: 'string', default: 'quick' }, json: { type: 'boolean' } } });
const DOORBELL_OFFSET = 0x1_0040; // GITS_TRANSLATER

const report = await runBenchmarks([
  {
    name: 'my.signal-msi',
    title: 'await vm.signalMsi() on a mapped event (translation-cache hit, LPI handled by vCPU 0)',
    // Not measured: a VM whose guest maps device 7 event 0 -> LPI 8192 -> vCPU 0 and handles LPIs.
    setup: async () => {
      const vm = await createVm({
        vcpus: 1,
        guest: { module: 'its-setup', args: { devices: [{ deviceId: 7, events: [{ eventId: 0, intid: 8192, icid: 0 }] }], handle: true } },
      });
      await vm.start();
      if ((await waitForItsSetup(vm)) !== 0) throw new Error('guest ITS setup failed');
      return { vm, msi: { address: vm.gic.its[0].baseAddress + DOORBELL_OFFSET, data: 0, devid: 7 } };
    },
    fn: ({ vm, msi }) => vm.signalMsi(msi),
    teardown: ({ vm }) => vm.destroy(),
    baseline: 'my.await',
    ops: { full: 2000, quick: 500, smoke: 50 },
  },
  {
    name: 'my.await',
    title: 'await of a resolved promise',
    fn: () => Promise.resolve(),
    ops: { full: 20000, quick: 5000, smoke: 500 },
  },
], { budget: values.budget });

if (values.json) {
  const figures = report.figures.map((f) => ({ name: f.bench.name, median: f.summary?.median ?? null, unit: f.bench.unit, baseline: f.baseline, ratio: f.ratio, error: f.error }));
  console.log(JSON.stringify({ budget: report.budget, figures }, null, 2));
} else {
  console.log(renderBenchReport(report));
}
process.exitCode = report.figures.every((f) => f.error === null) ? 0 : 1;
