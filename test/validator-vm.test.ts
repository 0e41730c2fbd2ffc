/**
 * The validator on a real VM (every thread observed, actor requests carrying
 * the requester's locks): the upstream protocol is clean; the v7-2017
 * protocol's SAVE_TABLES takes vcpu.mutex (by trylock) under its.its_lock,
 * which the declared hierarchy reports, while the trylock adds no edge, so no
 * inversion with the vCPUs' CWRITER path (vcpu.mutex -> cmd_lock -> its_lock).
 */
import { describe, expect, it } from 'vitest';
import { createVm, uapi, waitForItsSetup, Validator } from '../dist/src/index.js';

async function saveAfterGuestCommands(lockProtocol: 'upstream' | 'v7-2017') {
  const vm = await createVm({
    vcpus: 2, validator: true,
    gic: { its: 1, lockProtocol },
    guest: { module: 'its-setup', args: { devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 8192, icid: 1 }] }], handle: true } },
  });
  try {
    await vm.start();
    expect(await waitForItsSetup(vm)).toBe(0); // the guest's CWRITER writes: vcpu.mutex -> its.cmd_lock -> its.its_lock
    expect(await vm.pause()).toBe(0);
    expect(await vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(0);
    const edges = new Validator(vm.shared.validator!, vm.rt.arena).edges();
    return { findings: vm.lockFindings(), edges };
  } finally {
    await vm.destroy();
  }
}

describe('lock-order validator on a VM', () => {
  it('the upstream protocol with guest command traffic and SAVE_TABLES is clean', async () => {
    const { findings, edges } = await saveAfterGuestCommands('upstream');
    expect(findings).toEqual([]);
    // Not vacuous: the vCPU's CWRITER write took cmd_lock on the ITS actor, attributed to the vCPU.
    const e = edges.find((x) => x.from === 'vcpu.mutex' && x.to === 'its.cmd_lock');
    expect(e?.thread).toMatch(/^vCPU \d$/);
    expect(e?.actingThread).toBe('ITS 0');
    expect(edges.some((x) => x.from === 'kvm.lock' && x.to === 'config_lock')).toBe(true);
  });

  it('v7-2017: SAVE_TABLES reports its.its_lock before vcpu.mutex against the declared order, and no inversion', async () => {
    const { findings } = await saveAfterGuestCommands('v7-2017');
    expect(findings.some((f) => f.kind === 'inversion')).toBe(false);
    const h = findings.filter((f) => f.kind === 'hierarchy');
    expect(h.length).toBeGreaterThan(0);
    expect(h.every((f) => f.classes.join(' -> ') === 'its.its_lock -> vcpu.mutex')).toBe(true);
  });
});
