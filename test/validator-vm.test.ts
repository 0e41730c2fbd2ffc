/**
 * The validator on a real VM (every thread observed, actor requests carrying
 * the requester's locks): the upstream protocol is clean; the v7-2017
 * protocol's SAVE_TABLES takes vcpu.mutex (by trylock) under its.its_lock,
 * which the declared hierarchy reports, while the trylock adds no edge, so no
 * inversion with the vCPUs' CWRITER path (vcpu.mutex -> cmd_lock -> its_lock).
 * Every edge and finding names the operation the acting thread was in;
 * stopAtFirst keeps one finding and raises a flag a runner can wait on.
 */
import { describe, expect, it } from 'vitest';
import { createVm, formatFinding, uapi, waitForItsSetup, type ValidatorOptions } from '../dist/src/index.js';
import { Validator, validatorReport } from '../dist/src/sync/validator.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';
import { waitForWord } from './helpers/wait.js';

async function saveAfterGuestCommands(lockProtocol: 'upstream' | 'v7-2017', validator: true | ValidatorOptions = true) {
  const vm = await createVm({
    vcpus: 2, validator,
    gic: { its: 1, lockProtocol },
    guest: { module: 'its-setup', args: { devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 8192, icid: 1 }] }], handle: true } },
  });
  try {
    await vm.start();
    expect(await waitForItsSetup(vm)).toBe(0); // the guest's CWRITER writes: vcpu.mutex -> its.cmd_lock -> its.its_lock
    expect(await vm.pause()).toBe(0);
    expect(await vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(0);
    const v = new Validator(vm.shared.validator!, vm.rt.arena);
    return { findings: vm.lockFindings(), edges: v.edges(), v, report: validatorReport(v) };
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

  it('each edge names the operation that created it: commands in CWRITER write, the VMM\'s in SAVE_TABLES, map_resources in KVM_RUN', async () => {
    const { edges } = await saveAfterGuestCommands('upstream');
    const op = (from: string, to: string) => edges.find((x) => x.from === from && x.to === to)?.operation;
    expect(op('its.cmd_lock', 'its.its_lock')).toBe('CWRITER write');
    expect(op('kvm.lock', 'config_lock')).toBe('SAVE_TABLES');
    expect(op('kvm.slots_lock', 'config_lock')).toBe('KVM_RUN');
    expect(edges.every((x) => x.operation !== 'none')).toBe(true);
  });

  it('the vCPU -> cmd_lock edge of a guest CWRITER write says CWRITER write, taken by the ITS actor on the vCPU\'s behalf', async () => {
    const vm = await createVm({
      vcpus: 1, validator: true, gic: { its: 1 },
      guest: { module: new URL('./fixtures/guest-cwriter-once.mjs', import.meta.url), args: { its: defaultItsBase(0) } },
    });
    try {
      await vm.start();
      await waitForWord(vm.results(0), 0, (v) => v === 1, 'the guest\'s CWRITER write');
      const v = new Validator(vm.shared.validator!, vm.rt.arena);
      const e = v.edges().find((x) => x.from === 'vcpu.mutex' && x.to === 'its.cmd_lock');
      expect(e).toMatchObject({ thread: 'vCPU 0', actingThread: 'ITS 0', operation: 'CWRITER write', fromLock: 'vcpu.mutex#0', toLock: 'its.cmd_lock#0' });
    } finally {
      await vm.destroy();
    }
  });

  it('v7-2017: SAVE_TABLES reports its.its_lock before vcpu.mutex against the declared order, names SAVE_TABLES, and no inversion', async () => {
    const { findings } = await saveAfterGuestCommands('v7-2017');
    expect(findings.some((f) => f.kind === 'inversion')).toBe(false);
    const h = findings.filter((f) => f.kind === 'hierarchy');
    expect(h.length).toBeGreaterThan(0);
    expect(h.every((f) => f.classes.join(' -> ') === 'its.its_lock -> vcpu.mutex')).toBe(true);
    expect(h[0]).toMatchObject({ operation: 'SAVE_TABLES', thread: 'VMM', actingThread: 'ITS 0', how: 'trylock' });
    expect(formatFinding(h[0]!)).toContain('VMM (via ITS 0 serving its request) in SAVE_TABLES trylocked vcpu.mutex#');
  });

  it('stopAtFirst: several findings (the 2017 order against upstream locking), one recorded, the rest counted, the flag raised', async () => {
    const { findings, v, report } = await saveAfterGuestCommands('upstream', { hierarchy: '2017', stopAtFirst: true });
    expect(findings).toHaveLength(1);
    expect(v.stopped).toBe(true);
    expect(await v.waitStopped(0)).toBe(true);
    expect(v.overflow()).toBeGreaterThan(0); // vcpu.mutex before cmd_lock and before its_lock: two pairs at least
    expect(report).toMatchObject({ stopped: true, overflow: v.overflow(), hierarchy: { name: '2017' } });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
