/**
 * The guest program of examples/custom-guest.mjs: it runs on every vCPU's
 * thread. vCPU 0 brings the GIC and ITS 0 up with the guest drivers (what a
 * guest kernel does at boot): LPI tables, redistributors, the ITS's tables
 * and command queue, then MAPC per vCPU, MAPD and MAPTI per event. Every vCPU
 * then handles LPIs through its CPU interface until it has handled
 * `args.quota` of them.
 *
 * args:    { deviceId, events: [{ eventId, intid, vcpu }], quota }   (GuestSpec.args)
 * results: [0] LPIs this vCPU handled so far (live, notified); [1] on vCPU 0: 1 once mapped, or -errno
 * returns: { vcpu, handled: { [intid]: count }, commands? }          (vm.vcpuExit(id).result)
 */
import { DEFAULT_GIC_REGION, defaultItsBase, defineGuest, GicDriver, GpaAllocator, ItsDriver } from 'vgic-lab/guest';

export const HANDLED = 0, READY = 1;

/** The boot vCPU's bring-up. Driver calls return 0 or -errno and keep the first error in driver.error. */
function bringUp(guest, { deviceId, events }) {
  const alloc = GpaAllocator.of(DEFAULT_GIC_REGION); // guest RAM set aside for the GIC's tables
  const gic = new GicDriver(guest);
  if (gic.allocLpiTables(alloc, 16, guest.nrVcpus) < 0) return gic.error;
  for (const e of events) if (gic.setLpiConfig(e.intid, 0xa0, true) < 0) return gic.error;
  const processorNumbers = [];
  for (let v = 0; v < guest.nrVcpus; v++) {
    const p = gic.processorNumber(v);
    if (p < 0 || gic.programRedist(v) < 0 || gic.enableLpis(v) < 0) return gic.error;
    processorNumbers.push(p);
  }
  const its = new ItsDriver(guest, { base: defaultItsBase(0), alloc, processorNumbers });
  if (its.init() < 0 || its.enable() < 0) return its.error;
  for (let v = 0; v < guest.nrVcpus; v++) if (its.mapc(v, v) < 0) return its.error; // collection v -> vCPU v
  if (its.mapd(deviceId, 4) < 0) return its.error; // an ITT for 2^4 events
  for (const e of events) if (its.mapti(deviceId, e.eventId, e.intid, e.vcpu) < 0) return its.error;
  for (let v = 0; v < guest.nrVcpus; v++) if (its.sync(v) < 0) return its.error;
  if (its.wait() < 0 || gic.enableDist() < 0) return its.error ?? gic.error;
  return its.commands;
}

export default defineGuest((guest, args) => {
  let commands;
  if (guest.vcpuId === 0) {
    const r = bringUp(guest, args);
    Atomics.store(guest.results, READY, typeof r === 'number' ? 1 : r.errno);
    Atomics.notify(guest.results, READY); // wakes the VMM's waitForResult at once
    if (typeof r !== 'number') return { vcpu: 0, handled: {}, error: `${r.where}: ${r.name} ${r.detail}` };
    commands = r;
  }
  const cpu = guest.ext.gic; // the GIC CPU interface: ack (ICC_IAR1_EL1), eoi (ICC_EOIR1_EL1)
  const handled = {};
  let n = 0;
  while (n < args.quota) {
    // Acknowledge until nothing is pending (INTIDs 1020..1023 are special; 1023: none).
    for (let intid = cpu.ack(); intid < 1020 || intid > 1023; intid = cpu.ack()) {
      handled[intid] = (handled[intid] ?? 0) + 1;
      n++;
      Atomics.add(guest.results, HANDLED, 1);
      Atomics.notify(guest.results, HANDLED);
      cpu.eoi(intid);
    }
    if (n < args.quota) guest.wfi(); // sleeps until an interrupt is pending; pause and destroy get in here too
  }
  return { vcpu: guest.vcpuId, handled, ...(commands !== undefined ? { commands } : {}) };
});
