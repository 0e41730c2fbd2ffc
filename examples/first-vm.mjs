/**
 * A first VM with MSIs: 4 vCPUs and a vGICv3 with one ITS. vCPU 0 runs the
 * built-in guest ITS driver ('its-setup'): it maps device 7, events 0..3 to
 * LPIs 8192..8195, one per vCPU; every vCPU then handles LPIs. The VMM
 * signals each event three times (KVM_SIGNAL_MSI) and prints what every
 * vCPU handled.
 *
 *   npm run build && node examples/first-vm.mjs
 */
import { createVm, errnoName, waitForItsSetup, waitForResult } from 'vgic-lab';

// Event e -> LPI 8192 + e -> collection e, which the guest maps to vCPU e.
const events = [0, 1, 2, 3].map((e) => ({ eventId: e, intid: 8192 + e, icid: e }));
const vm = await createVm({
  vcpus: 4,
  gic: { its: 1 },
  guest: { module: 'its-setup', args: { devices: [{ deviceId: 7, events }], handle: true } },
});
try {
  await vm.start(); // every vCPU enters KVM_RUN (and holds its vcpu.mutex while it runs)
  const setup = await waitForItsSetup(vm); // 0 once the guest driver has mapped everything
  if (setup !== 0) throw new Error(`guest ITS setup failed: ${errnoName(setup)}`);

  const doorbell = vm.gic.its[0].baseAddress + 0x1_0040; // GITS_TRANSLATER
  let signalled = 0, delivered = 0;
  for (let round = 1; round <= 3; round++) {
    for (const e of events) {
      const r = await vm.signalMsi({ address: doorbell, data: e.eventId, devid: 7 }); // 1: delivered
      signalled++;
      if (r === 1) delivered++;
      else console.log(`event ${e.eventId}: ${errnoName(r)}`);
    }
    // The guest counts LPIs in its results words: [0] all LPIs of this vCPU, [1 + intid - 8192] per LPI.
    // Waiting for each round keeps an MSI from finding its LPI still pending (it would coalesce).
    for (let v = 0; v < vm.nrVcpus; v++) await waitForResult(vm, v, 0, (n) => n >= round);
  }
  console.log(`MSIs signalled: ${signalled}, delivered: ${delivered}`);
  for (let v = 0; v < vm.nrVcpus; v++) {
    const r = vm.results(v);
    console.log(`vCPU ${v}: handled ${r[0]} LPIs (LPI ${8192 + v}: ${r[1 + v]})`);
  }
} finally {
  await vm.destroy(); // no worker left running
}
