/**
 * KVM_SIGNAL_MSI checks in the kernel's order (spec 4.1-4.2): unknown flag
 * bits -EINVAL, then the translation-cache probe (a hit delivers, checking
 * nothing else), then a missing KVM_MSI_VALID_DEVID -EINVAL, then a doorbell
 * outside every decoding ITS frame -EINVAL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVm, type GicVm } from '../dist/src/index.js';
import { SETUP_MAILBOX_GPA } from '../dist/src/guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE } from '../dist/src/guest/handshake.js';
import { waitForWord } from '../dist/src/sync/wait.js';
import { EINVAL } from '../dist/src/uapi/errno.js';
import { defaultItsBase } from '../dist/src/vgic/layout.js';

let vm: GicVm;
const doorbell = defaultItsBase(0) + 0x1_0040;

beforeAll(async () => {
  const events = [0, 1].map((e) => ({ eventId: e, intid: 8192 + e, icid: 0 }));
  vm = await createVm({ vcpus: 1, gic: { its: 1 }, guest: { module: 'its-setup', args: { devices: [{ deviceId: 5, events }], handle: true } } });
  await vm.start();
  const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, 4)!;
  expect(await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0)).toBe(true);
  expect(Atomics.load(mailbox, MAILBOX_STATE)).toBe(SETUP_DONE);
  expect(await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= 1)).toBe(true);
});
afterAll(() => vm?.destroy());

describe('KVM_SIGNAL_MSI check order', () => {
  it('unknown flag bits are -EINVAL before anything else', async () => {
    expect(await vm.signalMsi({ address: doorbell, data: 0, devid: 5, flags: 2 })).toBe(-EINVAL);
  });

  it('9.5: without KVM_MSI_VALID_DEVID an uncached translation is -EINVAL', async () => {
    expect(await vm.signalMsi({ address: doorbell, data: 1, devid: 5, flags: 0 })).toBe(-EINVAL);
  });

  it('4.2 step 1: a cache hit delivers before the VALID_DEVID check, as the kernel does', async () => {
    expect(await vm.signalMsi({ address: doorbell, data: 0, devid: 5 })).toBe(1); // slow path fills the cache
    expect(await vm.signalMsi({ address: doorbell, data: 0, devid: 5, flags: 0 })).toBe(1);
  });

  it('9.5: a doorbell outside every ITS frame is -EINVAL', async () => {
    expect(await vm.signalMsi({ address: doorbell + 0x2_0000, data: 0, devid: 5 })).toBe(-EINVAL);
  });
});
