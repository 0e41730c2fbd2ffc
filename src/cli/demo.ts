/**
 * `vgic-lab demo` (npm start): a 4-vCPU VM running a built-in guest; shows
 * lockAllVcpus (the lock step of SAVE/RESTORE_TABLES) failing with -EBUSY
 * while vCPUs are in KVM_RUN and succeeding once they are paused, then the
 * lock statistics.
 */
import { createVm } from '../create-vm.js';
import { errnoName } from '../uapi/errno.js';
import { ns, table } from './format.js';

export async function run(_argv: string[]): Promise<number> {
  const out = (s = '') => process.stdout.write(`${s}\n`);
  const vm = await createVm({ vcpus: 4, guest: 'spin' });
  try {
    out('vgic-lab demo: 4 vCPUs, each in its own worker thread, running the built-in "spin" guest');
    await vm.start();
    const busy = await vm.lockAllVcpus();
    out(`  lockAllVcpus() while vCPUs run   -> ${busy === 0 ? '0' : errnoName(busy)}   (a vCPU in KVM_RUN holds its vcpu.mutex)`);
    if (busy === 0) vm.unlockAllVcpus();
    const t0 = performance.now();
    await vm.pause();
    out(`  pause()                          -> all vCPUs left KVM_RUN in ${((performance.now() - t0) * 1000).toFixed(0)} µs`);
    const ok = await vm.lockAllVcpus();
    out(`  lockAllVcpus() while paused      -> ${ok === 0 ? '0' : errnoName(ok)}   (kvm.lock + every vcpu.mutex held: a save could run now)`);
    if (ok === 0) vm.unlockAllVcpus();
    await vm.resume();
    out(`  resume()                         -> guests continue; iterations so far: ${[0, 1, 2, 3].map((i) => vm.results(i)[0]).join(', ')}`);
    out();
    out('lock statistics (lock_stat):');
    out(table(
      ['class', 'instances', 'acquisitions', 'contentions', 'trylock fails', 'wait max', 'hold max'],
      vm.lockStats().map((c) => [c.className, c.instances, c.acquisitions, c.contentions, c.trylockFailures, ns(c.waitMaxNs), ns(c.holdMaxNs)]),
    ));
    return busy !== 0 && ok === 0 ? 0 : 1;
  } finally {
    await vm.destroy();
  }
}
