/**
 * Façade validation of the public API (src/index.ts): a malformed option or
 * argument is a TypeError or RangeError whose message names it, thrown (or
 * rejected) before anything runs; well-formed calls the kernel would refuse
 * keep returning the kernel's errno. Everything here is imported from the
 * package root, as a user would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareTranslation, createVm, createVmForSnapshot, decodeSnapshot, defaultItsBase, encodeSnapshot, errno, findScenario,
  migrate, MsiInjector, readSnapshotFile, restoreItsRegisters, restoreVm, runCampaign, runInjectors, runLpiStress, runScenario,
  runSuite, saveVm, translationView, uapi, waitForItsSetup, watchVmForDeadlock, writeSnapshotFile,
  type Benchmark, type CreateVmOptions, type GicVm, type KvmMsi, type VmSnapshot,
} from '../dist/src/index.js';

type ErrorClass = typeof TypeError | typeof RangeError;
/** [what is wrong, the options, the error class, what the message must name] */
type Case<T> = [string, T, ErrorClass, RegExp];

const bad = <T>(v: unknown): T => v as T;

describe('createVm: every malformed option is refused with an error naming it', () => {
  const cases: Case<CreateVmOptions>[] = [
    ['options not an object', bad('x'), TypeError, /^options must be an object/],
    ['vcpus not an integer', { vcpus: 1.5 }, TypeError, /options\.vcpus/],
    ['vcpus out of range', { vcpus: 0 }, RangeError, /options\.vcpus must be in 1\.\.256/],
    ['vcpus too many', { vcpus: 257, gic: false }, RangeError, /options\.vcpus/],
    ['memory size too small', { memory: 1024 }, RangeError, /options\.memory/],
    ['memory size not a page multiple', { memory: 4096 + 1 }, RangeError, /options\.memory\[0\]\.size/],
    ['memslots overlap', { memory: [{ gpa: 0, size: 8192 }, { gpa: 4096, size: 4096 }] }, RangeError, /options\.memory\[1\] overlaps/],
    ['memslot gpa misaligned', { memory: [{ gpa: 1, size: 4096 }] }, RangeError, /options\.memory\[0\]\.gpa/],
    ['guest module neither built-in nor a path', { guest: 'no-such-guest' }, TypeError, /options\.guest\.module/],
    ['guest module file missing', { guest: './no/such/guest.mjs' }, TypeError, /options\.guest\.module: no such file/],
    ['guest spec without module', { guest: bad({ args: 1 }) }, TypeError, /options\.guest must be/],
    ['guest args not cloneable', { guest: { module: 'idle', args: { f: () => 1 } } }, TypeError, /options\.guest\.args/],
    ['lockStat unknown', { lockStat: bad('some') }, TypeError, /options\.lockStat/],
    ['actorPlacement unknown', { actorPlacement: bad('anywhere') }, TypeError, /options\.actorPlacement/],
    ['actorTransport unknown', { actorTransport: bad('sockets') }, TypeError, /options\.actorTransport/],
    ['mailboxCapacity not a power of two', { mailboxCapacity: 1000 }, RangeError, /options\.mailboxCapacity/],
    ['resultWords zero', { resultWords: 0 }, RangeError, /options\.resultWords/],
    ['pauseTimeoutMs negative', { pauseTimeoutMs: -1 }, RangeError, /options\.pauseTimeoutMs/],
    ['maxActors too many', { maxActors: 5000 }, RangeError, /options\.maxActors/],
    ['validator a string', { validator: bad('on') }, TypeError, /options\.validator must be/],
    ['validator hierarchy unknown', { validator: { hierarchy: bad('2023') } }, TypeError, /options\.validator\.hierarchy/],
    ['validator nestable malformed', { validator: { nestable: bad([{ under: 'kvm.lock' }]) } }, TypeError, /options\.validator\.nestable/],
    ['validator maxFindings zero', { validator: { maxFindings: 0 } }, RangeError, /options\.validator\.maxFindings/],
    ['validator stopAtFirst not boolean', { validator: { stopAtFirst: bad(1) } }, TypeError, /options\.validator\.stopAtFirst/],
    ['schedule strategy unknown', { schedule: bad({ strategy: 'fifo', seed: 1 }) }, TypeError, /options\.schedule\.strategy/],
    ['schedule seed missing', { schedule: bad({ strategy: 'random' }) }, TypeError, /options\.schedule\.seed/],
    ['schedule pctDepth out of range', { schedule: { strategy: 'pct', seed: 1, pctDepth: 10 } }, RangeError, /options\.schedule\.pctDepth/],
    ['schedule with the postmessage transport', { schedule: { strategy: 'random', seed: 1 }, actorTransport: 'postmessage' }, TypeError,
      /options\.schedule.*postmessage/],
    ['timeline a string', { timeline: bad('yes') }, TypeError, /options\.timeline/],
    ['timeline ring too small', { timeline: { eventsPerThread: 2 } }, RangeError, /options\.timeline\.eventsPerThread/],
    ['gic a number', { gic: bad(1) }, TypeError, /options\.gic must be/],
    ['gic.its out of range', { gic: { its: 17 } }, RangeError, /options\.gic\.its must be in 0\.\.16/],
    ['gic.its not an integer', { gic: { its: 1.5 } }, TypeError, /options\.gic\.its/],
    ['gic.setItsBases not boolean', { gic: { setItsBases: bad('no') } }, TypeError, /options\.gic\.setItsBases/],
    ['gic.iodevRegistration unknown', { gic: { iodevRegistration: bad('lazy') } }, TypeError, /options\.gic\.iodevRegistration/],
    ['gic.cacheCapacity not a power of two', { gic: { cacheCapacity: 100 } }, RangeError, /options\.gic\.cacheCapacity/],
    ['gic.movallAllLpis not boolean', { gic: { movallAllLpis: bad(1) } }, TypeError, /options\.gic\.movallAllLpis/],
    ['gic.blockingVcpuLocks not boolean', { gic: { blockingVcpuLocks: bad('y') } }, TypeError, /options\.gic\.blockingVcpuLocks/],
    ['gic.lockProtocol unknown name', { gic: { lockProtocol: bad('v8') } }, TypeError, /options\.gic\.lockProtocol/],
    ['gic.lockProtocol path malformed', { gic: { lockProtocol: bad({ name: 'x', itsCtrl: [{ lock: 'big.lock', mode: 'lock' }], itsRegs: [], savePending: [] }) } },
      TypeError, /options\.gic\.lockProtocol\.itsCtrl/],
  ];
  for (const [what, options, cls, message] of cases) {
    it(`${what}: ${cls.name} ${message.source}`, async () => {
      const p = createVm(options);
      await expect(p).rejects.toThrow(cls);
      await expect(p).rejects.toThrow(message);
    });
  }
});

describe('on a running VM: argument errors throw, kernel refusals return errnos, and the VM is unharmed', () => {
  let vm: GicVm;
  const doorbell = defaultItsBase(0) + uapi.GITS_TRANSLATER;
  const devid = 3;
  const msi = (data: number): KvmMsi => ({ address: doorbell, data, devid });

  beforeAll(async () => {
    const events = [0, 1].map((e) => ({ eventId: e, intid: 8192 + e, icid: 0 }));
    vm = await createVm({ vcpus: 1, guest: { module: 'its-setup', args: { devices: [{ deviceId: devid, events }], handle: true } } });
    expect(await vm.start()).toBe(0);
    expect(await waitForItsSetup(vm)).toBe(0);
  });
  afterAll(() => vm?.destroy());

  it('signalMsi: a malformed msi names the field; out-of-u32 values are RangeErrors', async () => {
    const cases: Case<KvmMsi>[] = [
      ['msi null', bad(null), TypeError, /^msi must be an object/],
      ['data missing', bad({ address: doorbell }), TypeError, /msi\.data must be an integer/],
      ['data fractional', { ...msi(0), data: 0.5 }, TypeError, /msi\.data/],
      ['data negative', { ...msi(0), data: -1 }, RangeError, /msi\.data must be a u32/],
      ['devid beyond u32', { ...msi(0), devid: 2 ** 32 }, RangeError, /msi\.devid must be a u32/],
      ['flags a string', { ...msi(0), flags: bad('1') }, TypeError, /msi\.flags/],
      ['address a string', { ...msi(0), address: bad('0x0c010040') }, TypeError, /msi\.address/],
      ['address beyond u64', { ...msi(0), address: 2n ** 64n }, RangeError, /msi\.address/],
      ['address negative', { ...msi(0), address: -4 }, TypeError, /msi\.address/],
    ];
    for (const [what, m, cls, message] of cases) {
      await expect(vm.signalMsi(m), what).rejects.toThrow(cls);
      await expect(vm.signalMsi(m), what).rejects.toThrow(message);
    }
  });

  it('signalMsi: well-formed MSIs the kernel refuses return its errno (spec 4.1), and a good one is delivered', async () => {
    expect(await vm.signalMsi({ ...msi(0), flags: 2 })).toBe(-errno.EINVAL); // unknown flag bits
    expect(await vm.signalMsi({ ...msi(1), flags: 0 })).toBe(-errno.EINVAL); // no VALID_DEVID, uncached
    expect(await vm.signalMsi({ ...msi(0), address: 0x1000 })).toBe(-errno.EINVAL); // no ITS frame there
    expect(await vm.signalMsi(msi(0))).toBe(1);
  });

  it('device attributes: non-integer arguments name the argument; unknown groups and attributes are kernel errnos', async () => {
    const its = vm.gic.its[0]!;
    await expect(its.setAttr(bad('4'), 1)).rejects.toThrow(/^group must be an integer/);
    await expect(its.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, 1.5)).rejects.toThrow(/^attr must be an integer/);
    await expect(its.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ADDR, uapi.KVM_VGIC_ITS_ADDR_TYPE, bad('0x1000'))).rejects.toThrow(/^value must be an integer/);
    await expect(its.getAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, bad(null))).rejects.toThrow(TypeError);
    expect(() => its.hasAttr(bad(undefined), 0)).toThrow(/^group must be an integer/);
    await expect(vm.gic.v3.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, bad('3'))).rejects.toThrow(/^attr must be an integer/);

    expect(await its.setAttr(99, 0)).toBe(-errno.ENXIO);
    expect(await its.getAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toEqual({ ret: -errno.ENXIO });
    expect(await its.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ADDR, 99, 0x1000_0000)).toBe(-errno.ENODEV);
    expect(await its.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ADDR, uapi.KVM_VGIC_ITS_ADDR_TYPE, 0x1000_0000)).toBe(-errno.EEXIST); // set once
    expect(its.hasAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, uapi.GITS_CBASER + 4)).toBe(-errno.EINVAL); // misaligned
    expect(await its.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES)).toBe(-errno.EBUSY); // vCPUs run
    expect(await vm.gic.v3.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_ADDR, 0)).toBe(-errno.ENXIO);
  });

  it('VM control: bad vCPU ids and timeouts are RangeErrors; calls illegal in the state are -EINVAL', async () => {
    expect(() => vm.vcpuState(1)).toThrow(/vcpu id 1 does not exist \(0\.\.0\)/);
    expect(() => vm.results(-1)).toThrow(RangeError);
    await expect(vm.destroy(bad('soon'))).rejects.toThrow(/destroy: timeoutMs/);
    await expect(waitForItsSetup(vm, 2)).rejects.toThrow(/vcpus must be an integer in 0\.\.1/);
    await expect(waitForItsSetup(bad({}))).rejects.toThrow(/vm must be a Vm/);
    await expect(watchVmForDeadlock(bad(null))).rejects.toThrow(/vm must be a Vm/);
    await expect(watchVmForDeadlock(vm, { timeoutMs: -1 })).rejects.toThrow(/options\.timeoutMs/);
    expect(await vm.start()).toBe(-errno.EINVAL); // already running
    expect(await vm.resume()).toBe(-errno.EINVAL); // not paused
  });

  it('injectors: plans are checked, naming the MSI, before any injector thread starts', async () => {
    const h = vm.gic.injectorHandle();
    await expect(runInjectors(bad({}), [])).rejects.toThrow(/handle must be what vm\.gic\.injectorHandle\(\) returned/);
    await expect(runInjectors(h, bad({}))).rejects.toThrow(/plans must be an array/);
    await expect(runInjectors(h, [{ msis: [msi(0), { ...msi(1), devid: -2 }] }])).rejects.toThrow(/plans\[0\]\.msis\[1\]\.devid must be a u32/);
    await expect(runInjectors(h, [{ msis: [], rounds: 0.5 }])).rejects.toThrow(/plans\[0\]\.rounds must be an integer/);
    expect(() => MsiInjector.attach(bad({}))).toThrow(/MsiInjector\.attach: handle/);
  });

  it('migration and equivalence: arguments that are not VMs or snapshots are named', async () => {
    await expect(saveVm(bad({}))).rejects.toThrow(/^vm must be a VM with a vGIC/);
    await expect(migrate(vm, bad({ start: 'yes' }))).rejects.toThrow(/options\.start must be a boolean/);
    await expect(restoreVm(bad({ header: {} }))).rejects.toThrow(/snapshot\.header is not a vgic-lab VM snapshot header/);
    await expect(createVmForSnapshot(bad(null))).rejects.toThrow(/^snapshot must be a VmSnapshot/);
    await expect(translationView(bad({ its: [] }))).rejects.toThrow(/gic must be a VM's vm\.gic/);
    expect(() => decodeSnapshot(bad('VGLSNAP'))).toThrow(/bytes must be a Uint8Array/);
    expect(() => decodeSnapshot(new Uint8Array(32))).toThrow(/bad magic/);
  });

  it('migration: a snapshot of this VM round-trips through a file; a corrupted one is refused naming the part', async () => {
    expect(await vm.pause()).toBe(0);
    const snap = await saveVm(vm); // paused: SAVE_TABLES now succeeds
    const dir = mkdtempSync(join(tmpdir(), 'vgic-api-'));
    try {
      const file = join(dir, 'vm.snap');
      const bytes = encodeSnapshot(snap);
      await writeSnapshotFile(file, snap);
      const back = await readSnapshotFile(file);
      expect(back.header).toEqual(JSON.parse(JSON.stringify(snap.header)));
      expect(back.ram.map((r) => r.length)).toEqual(snap.ram.map((r) => r.length));
      const short: VmSnapshot = { ...snap, ram: [snap.ram[0]!.subarray(1)] };
      expect(() => encodeSnapshot(short)).toThrow(/snapshot\.ram\[0\] must be a Uint8Array of the memslot's size/);
      await expect(restoreItsRegisters(vm, snap, bad(['ctlr']))).rejects.toThrow(/skip must be an array of iidr, cbaser/);
      writeFileSync(file, bytes.subarray(0, 40));
      await expect(readSnapshotFile(file)).rejects.toThrow(/truncated snapshot/);
      await expect(writeSnapshotFile(bad(7), snap)).rejects.toThrow(/path must be a non-empty string/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(compareTranslation(await translationView(vm.gic), await translationView(vm.gic))).toEqual([]);
    expect(await vm.resume()).toBe(0);
  });

  it('after all that misuse, nothing is held: the VMM can lock every vCPU once paused, and MSIs still arrive', async () => {
    expect(await vm.pause()).toBe(0);
    expect(await vm.lockAllVcpus()).toBe(0);
    vm.unlockAllVcpus();
    expect(await vm.resume()).toBe(0);
    expect(await vm.signalMsi(msi(1))).toBe(1);
    expect(vm.faults).toEqual([]);
  });
});

describe('stress, campaign, lpi-stress and benchmark entry points name the bad option before running anything', () => {
  const scenario = findScenario('upstream')!;

  it('runScenario', async () => {
    const cases: [unknown, unknown, ErrorClass, RegExp][] = [
      [{ name: 'x' }, {}, TypeError, /^scenario must be a Scenario/],
      [scenario, 'fast', TypeError, /^options must be an object/],
      [scenario, { vcpus: 0 }, RangeError, /options\.vcpus must be an integer in 1\.\.64/],
      [scenario, { its: 17 }, RangeError, /options\.its/],
      [scenario, { seconds: 0 }, RangeError, /options\.seconds/],
      [scenario, { stallMs: 1 }, RangeError, /options\.stallMs/],
      [scenario, { validator: 'yes' }, TypeError, /options\.validator must be a boolean/],
      [scenario, { stopAtFirst: 1 }, TypeError, /options\.stopAtFirst/],
      [scenario, { timeline: 'on' }, TypeError, /options\.timeline/],
      [scenario, { onProgress: 'bar' }, TypeError, /options\.onProgress must be a function/],
      [scenario, { schedule: 'pct' }, TypeError, /options\.schedule must be an object/],
      [scenario, { schedule: { strategy: 'fifo' } }, RangeError, /options\.schedule\.strategy/],
      [scenario, { schedule: { strategy: 'pct', seed: -1 } }, RangeError, /options\.schedule\.seed/],
      [findScenario('blind-spot'), { schedule: { strategy: 'pct' } }, RangeError, /cannot run under schedule 'pct'/],
    ];
    for (const [s, o, cls, message] of cases) {
      const p = runScenario(bad(s), bad(o));
      await expect(p, message.source).rejects.toThrow(cls);
      await expect(p, message.source).rejects.toThrow(message);
    }
  });

  it('runCampaign', async () => {
    const ok = { scenarios: ['upstream'], seeds: 1, from: 1 };
    const cases: [unknown, ErrorClass, RegExp][] = [
      [{ ...ok, scenarios: [] }, TypeError, /options\.scenarios must be a non-empty array/],
      [{ ...ok, scenarios: ['nope'] }, RangeError, /options\.scenarios\[0\]: no scenario 'nope'/],
      [{ ...ok, seeds: 0 }, RangeError, /options\.seeds/],
      [{ ...ok, from: 1.5 }, TypeError, /options\.from/],
      [{ ...ok, concurrency: 0 }, RangeError, /options\.concurrency/],
      [{ ...ok, onRun: 1 }, TypeError, /options\.onRun/],
      [{ ...ok, run: { vcpus: 100 } }, RangeError, /options\.run\.vcpus/],
      [{ ...ok, scenarios: ['upstream', 'blind-spot'], run: { schedule: { strategy: 'random' } } }, RangeError, /blind-spot cannot run under schedule 'random'/],
    ];
    for (const [o, cls, message] of cases) {
      const p = runCampaign(bad(o));
      await expect(p, message.source).rejects.toThrow(cls);
      await expect(p, message.source).rejects.toThrow(message);
    }
  });

  it('runLpiStress', async () => {
    await expect(runLpiStress(bad({ vcpus: '2' }))).rejects.toThrow(/options\.vcpus must be an integer/);
    await expect(runLpiStress({ devices: 0 })).rejects.toThrow(/options\.devices must be in 1\.\.1024/);
    await expect(runLpiStress({ devices: 1000, eventsPerDevice: 100 })).rejects.toThrow(/options\.devices \* options\.eventsPerDevice/);
    await expect(runLpiStress({ iterations: -1 })).rejects.toThrow(/options\.iterations/);
  });

  it('runSuite', async () => {
    const b = (over: Partial<Benchmark>): Benchmark => ({
      name: 'mine.a', group: 'mine', title: 't', unit: 'ns/op', open: async () => ({ rep: 'op', sample: async () => [1], close: async () => {} }), ...over,
    });
    await expect(runSuite(bad('all'), { budget: 'smoke' })).rejects.toThrow(/^benchmarks must be an array/);
    await expect(runSuite([b({ unit: '' })], { budget: 'smoke' })).rejects.toThrow(/benchmarks\[0\]\.unit must be a non-empty string/);
    await expect(runSuite([b({ open: bad(undefined) })], { budget: 'smoke' })).rejects.toThrow(/benchmarks\[0\]\.open must be a function/);
    await expect(runSuite([b({}), b({})], { budget: 'smoke' })).rejects.toThrow(/benchmarks\[1\]\.name: 'mine\.a' appears twice/);
    await expect(runSuite([b({ baseline: 'lock.mutex' })], { budget: 'smoke' })).rejects.toThrow(/refers to 'lock\.mutex', which is not in the list/);
    await expect(runSuite([b({})], bad({ budget: 'huge' }))).rejects.toThrow(/options\.budget must be full, quick, smoke/);
    await expect(runSuite([b({})], bad({ budget: 'smoke', progress: true }))).rejects.toThrow(/options\.progress/);
    // And a well-formed one of your own runs, beside nothing.
    const r = await runSuite([b({})], { budget: 'smoke' });
    expect(r.figures.map((f) => [f.bench.name, f.error, f.summary?.median])).toEqual([['mine.a', null, 1]]);
  });
});
