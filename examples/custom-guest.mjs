/**
 * A custom guest program with arguments and results: examples/custom-guest/guest.mjs
 * brings the ITS up with the guest drivers and handles a quota of LPIs on
 * each vCPU. The VMM passes its arguments (GuestSpec.args), follows its
 * progress in the results words, signals MSIs, and collects what each vCPU's
 * program returned (vm.vcpuExited(id)).
 *
 *   npm run build && node examples/custom-guest.mjs
 */
import { createVm, errnoName, waitForResult } from 'vgic-lab';

const GUEST = new URL('./custom-guest/guest.mjs', import.meta.url);
const HANDLED = 0, READY = 1; // the guest's results words

// Device 5: events 0..5 -> LPIs 8200..8205, alternating between vCPU 0 and vCPU 1.
const events = [0, 1, 2, 3, 4, 5].map((e) => ({ eventId: e, intid: 8200 + e, vcpu: e % 2 }));
const rounds = 2;
const quota = rounds * (events.length / 2); // LPIs each vCPU handles before its program returns
const vm = await createVm({ vcpus: 2, guest: { module: GUEST, args: { deviceId: 5, events, quota } } });
try {
  await vm.start();
  await waitForResult(vm, 0, READY, (v) => v !== 0);
  if (vm.results(0)[READY] !== 1) throw new Error(`guest setup failed: ${errnoName(vm.results(0)[READY])}`);

  const doorbell = vm.gic.its[0].baseAddress + 0x1_0040;
  for (let round = 1; round <= rounds; round++) {
    for (const e of events) await vm.signalMsi({ address: doorbell, data: e.eventId, devid: 5 });
    for (const v of [0, 1]) await waitForResult(vm, v, HANDLED, (n) => n >= round * (events.length / 2));
  }
  // Each program returned once it reached its quota: its return value is the vCPU's exit result.
  for (const v of [0, 1]) {
    const exit = await vm.vcpuExited(v);
    console.log(`vCPU ${v}: ${exit.reason}, result ${JSON.stringify(exit.result)}`);
  }
} finally {
  await vm.destroy();
}
