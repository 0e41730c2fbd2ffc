/**
 * Worker entry of the faults' MSI load: a device thread calling
 * KVM_SIGNAL_MSI over its list until told to stop, counting outcomes in
 * shared words (msi-load.ts owns the layout and the other side).
 */
import { workerData } from 'node:worker_threads';
import { MsiInjector } from '../../vgic/msi.js';
import { ENODEV } from '../../uapi/errno.js';
import { L_DELIVERED, L_ERRORS, L_ENODEV, L_LAST_ERROR, L_SENT, L_STOP, type MsiLoadData } from './msi-load.js';

const d = workerData as MsiLoadData;
const inj = MsiInjector.attach(d.handle, d.index, `fault load ${d.index}`);
const c = new Int32Array(d.ctl);
while (Atomics.load(c, L_STOP) === 0) {
  for (const msi of d.msis) {
    const r = inj.signalMsi(msi);
    if (r === 1) Atomics.add(c, L_DELIVERED, 1);
    else if (r < 0) {
      Atomics.add(c, L_ERRORS, 1);
      if (r === -ENODEV) Atomics.add(c, L_ENODEV, 1);
      Atomics.store(c, L_LAST_ERROR, r);
    }
    Atomics.add(c, L_SENT, 1);
    Atomics.notify(c, L_SENT);
  }
  // Paced, so the load shares two cores with the vCPUs; a stop request ends the pause at once.
  Atomics.wait(c, L_STOP, 0, d.paceMs);
}
