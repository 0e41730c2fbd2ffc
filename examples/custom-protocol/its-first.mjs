/**
 * A lock protocol to try: SAVE/RESTORE_TABLES and CTRL_RESET take the ITS's
 * its_lock before config_lock (say, to keep the ITS still while checking the
 * VM's configuration), while register access keeps today's config_lock
 * first and then takes its_lock too. Every path still trylocks the vCPUs.
 * It has two inversions: config_lock against its_lock (planted), and
 * its_lock against cmd_lock, since some registers (GITS_CTLR, CWRITER ...)
 * are accessed under cmd_lock, which a vCPU's command path takes before
 * its_lock. A protocol is data: which locks each path takes, in which
 * order, which are trylocks. Try it with examples/custom-protocol.mjs or
 *
 *   node dist/src/cli/main.js stress --protocol examples/custom-protocol/its-first.mjs
 */
const lock = (l) => ({ lock: l, mode: 'lock' });
const trylock = (l) => ({ lock: l, mode: 'trylock' });

/** @type {import('vgic-lab').LockProtocol} */
export default {
  name: 'its-first',
  itsCtrl: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('its.its_lock'), lock('config_lock')],
  itsRegs: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock'), lock('its.its_lock')],
  savePending: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock')],
  restoreCallsMapResources: false,
};
