/**
 * User guest programs (issue 8 item 3), on real VMs: a guest module written
 * against the public guest API only (`vgic-lab/guest`, resolved through the
 * package's exports) sets up an ITS with the drivers, handles LPIs, and
 * returns a result; args reach it through GuestSpec.args, results come back
 * through the results words (live) and vcpuExit().result (at the end). A
 * TypeScript guest is type-checked against the shipped declarations and
 * compiled with tsc in a consumer-like project, then run; a wrong one fails
 * to type-check.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createVm, defineGuest, waitForItsSetup, waitForResult, type GicVm } from '../dist/src/index.js';
import * as guestApi from '../dist/src/guest/public.js';
import { HANG_MS } from './helpers/wait.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const USER_GUEST = new URL('./fixtures/user-guest.mjs', import.meta.url);
const READY_WORD = 8; // the fixture's
const DOORBELL = (vm: GicVm) => vm.gic.its[0]!.baseAddress + 0x1_0040;

let vms: GicVm[] = [];
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy()));
  vms = [];
});

async function lpisHandled(vm: GicVm, vcpu: number, n: number): Promise<void> {
  expect(await waitForResult(vm, vcpu, 0, (v) => v >= n, HANG_MS), `vCPU ${vcpu} handled ${n} LPIs`).toBe(true);
}

describe('the vgic-lab/guest subpath', () => {
  it('resolves by package name to the built guest API, with the drivers and defineGuest', async () => {
    const viaName = await import('vgic-lab/guest');
    expect(viaName.ItsDriver).toBe(guestApi.ItsDriver);
    expect(Object.keys(viaName).sort()).toEqual(Object.keys(guestApi).sort());
    expect(['defineGuest', 'GicDriver', 'ItsDriver', 'GpaAllocator', 'runItsSetup', 'irqLoop', 'defaultItsBase'].every((k) => k in viaName)).toBe(true);
  });

  it('defineGuest returns the program itself; anything but a function is a TypeError', () => {
    const main = (): number => 1;
    expect(defineGuest(main)).toBe(main);
    expect(() => defineGuest(42 as never)).toThrow(/defineGuest\(main\): main must be a function/);
  });
});

describe('a user guest module (test/fixtures/user-guest.mjs)', () => {
  it('maps a device with the ITS driver, handles the LPIs on the vCPUs the events target, and returns what it handled', async () => {
    const events = [0, 1, 2, 3].map((e) => ({ eventId: e, intid: 8200 + e, vcpu: e % 2 }));
    const vm = await createVm({ vcpus: 2, guest: { module: USER_GUEST, args: { deviceId: 5, events, stopAfter: 4 } } });
    vms.push(vm);
    expect(await vm.start()).toBe(0);
    expect(await waitForResult(vm, 0, READY_WORD, (v) => v !== 0, HANG_MS)).toBe(true);
    expect(vm.results(0)[READY_WORD], JSON.stringify(vm.vcpuExit(0)?.result ?? vm.faults)).toBe(1);

    // Two rounds; the second starts once the first was handled, so no MSI finds its LPI still pending.
    for (let round = 1; round <= 2; round++) {
      for (const ev of events) expect(await vm.signalMsi({ address: DOORBELL(vm), data: ev.eventId, devid: 5 })).toBe(1);
      await lpisHandled(vm, 0, 2 * round);
      await lpisHandled(vm, 1, 2 * round);
    }
    const [x0, x1] = await Promise.all([vm.vcpuExited(0), vm.vcpuExited(1)]);
    expect(x0).toMatchObject({
      reason: 'done',
      result: { vcpu: 0, handled: { 8200: 2, 8202: 2 }, setup: { ok: true, devices: [5] } },
    });
    // MAPC x2, MAPD, MAPTI x4, SYNC x2.
    expect((x0.result as { setup: { commands: number } }).setup.commands).toBe(9);
    expect(x1).toMatchObject({ reason: 'done', result: { vcpu: 1, handled: { 8201: 2, 8203: 2 } } });
    expect(vm.faults).toEqual([]);
  });

  it("a driver failure comes back as the guest's result, not a fault: an ITS frame that is not there", async () => {
    // No ITS: GITS_TYPER reads as zero, the driver reports -ENODEV in its result.
    const vm = await createVm({ vcpus: 1, gic: { its: 0 }, guest: { module: USER_GUEST, args: { deviceId: 5, events: [], stopAfter: 1 } } });
    vms.push(vm);
    expect(await vm.start()).toBe(0);
    const x = await vm.vcpuExited(0);
    expect(x.reason).toBe('done');
    expect(x.result).toMatchObject({ vcpu: 0, setup: { ok: false }, error: expect.stringMatching(/^-E/) });
    expect(vm.results(0)[READY_WORD]).toBeLessThan(0);
    expect(vm.faults).toEqual([]);
  });
});

describe('a TypeScript guest', () => {
  it('type-checks against the shipped declarations, compiles with tsc and runs; a wrong one fails to type-check', async () => {
    // A consumer-like project: the package reached through node_modules/vgic-lab.
    const dir = await mkdtemp(join(tmpdir(), 'vgic-lab-ts-guest-'));
    try {
      await mkdir(join(dir, 'node_modules'));
      await symlink(REPO, join(dir, 'node_modules', 'vgic-lab'), 'dir');
      await cp(fileURLToPath(new URL('./fixtures/ts-guest/', import.meta.url)), join(dir, 'src'), { recursive: true });
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'my-guests', type: 'module', private: true }));
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, outDir: 'out', rootDir: 'src', types: [], skipLibCheck: true },
        include: ['src/*.ts'],
      }));
      const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
      const r = await promisify(execFile)(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
        () => ({ code: 0, out: '' }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));
      // Only wrong.ts fails, for both of its mistakes; guest.ts and vmm.ts (GuestArgs/GuestResult, with
      // @ts-expect-error lines that would fail if the types let anything through) are clean.
      expect(r.code).not.toBe(0);
      const errors = r.out.split('\n').filter((l) => /error TS\d+/.test(l));
      expect(errors.every((l) => l.startsWith('src/wrong.ts')), r.out).toBe(true);
      expect(r.out).toMatch(/Property 'count' does not exist/);
      expect(r.out).toMatch(/Type 'string' is not assignable to type 'number'/);

      // The compiled program runs like any guest module; runItsSetup publishes its progress in the setup mailbox.
      const devices = [{ deviceId: 3, events: [0, 1].map((e) => ({ eventId: e, intid: 8192 + e, icid: e })) }];
      const vm = await createVm({ vcpus: 2, guest: { module: pathToFileURL(join(dir, 'out', 'guest.js')), args: { devices, stopAfter: 1 } } });
      vms.push(vm);
      expect(await vm.start()).toBe(0);
      expect(await waitForItsSetup(vm)).toBe(0);
      for (const e of [0, 1]) expect(await vm.signalMsi({ address: DOORBELL(vm), data: e, devid: 3 })).toBe(1);
      const results = (await Promise.all([vm.vcpuExited(0), vm.vcpuExited(1)])).map((x) => x.result);
      // Setup commands: MAPC per collection (one per vCPU), MAPD, MAPTI per event, SYNC per collection target.
      expect(results).toEqual([{ vcpu: 0, lpis: 1, commands: 2 + 1 + 2 + 2 }, { vcpu: 1, lpis: 1 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
