/**
 * Type tests of the public API, against the declarations the package ships
 * (dist/src/index.d.ts): what createVm takes and returns, signalMsi and the
 * device attributes (errnos as numbers, never exceptions), snapshots and
 * migration, validator findings, stress outcomes, benchmarks, guest
 * programs; and that internal plumbing is not exported. Run by `npm test`
 * through vitest's typecheck mode (vitest.config.ts); a wrong expectation
 * or a `@ts-expect-error` that no longer errors fails it.
 */
import { describe, expectTypeOf, it } from 'vitest';
import * as api from '../dist/src/index.js';
import {
  createVm, formatFinding, migrate, readSnapshotFile, restoreVm, runCampaign, runScenario, runSuite, saveVm, watchVmForDeadlock,
  type AttrGet, type BenchReport, type CampaignReport, type CreateVmOptions, type Deadlock, type Finding, type FindingKind,
  type GicVm, type Guest, type GuestMain, type ItsDevice, type KvmMsi, type LockProtocol, type RestoreOptions, type ScenarioOutcome,
  type ValidatorReport, type VcpuExit, type VgicV3Device, type Vm, type VmSnapshot, type VmState,
} from '../dist/src/index.js';

describe('createVm', () => {
  it('returns a GicVm by default and a plain Vm with gic: false', () => {
    expectTypeOf(createVm()).toEqualTypeOf<Promise<GicVm>>();
    expectTypeOf(createVm({ vcpus: 2 })).toEqualTypeOf<Promise<GicVm>>();
    expectTypeOf(createVm({ gic: false })).toEqualTypeOf<Promise<Vm>>();
    expectTypeOf<GicVm>().toMatchTypeOf<Vm>();
  });

  it('takes documented, optional options of the right types', () => {
    expectTypeOf<CreateVmOptions['vcpus']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<CreateVmOptions['memory']>().toEqualTypeOf<number | { gpa: number; size: number }[] | undefined>();
    expectTypeOf<CreateVmOptions['lockStat']>().toEqualTypeOf<'off' | 'counts' | 'full' | undefined>();
    expectTypeOf<CreateVmOptions['actorTransport']>().toEqualTypeOf<'shared-memory' | 'postmessage' | undefined>();
    expectTypeOf<NonNullable<CreateVmOptions['gic']>>().exclude<false>().toHaveProperty('lockProtocol')
      .toEqualTypeOf<'upstream' | 'v7-2017' | LockProtocol | undefined>();
    expectTypeOf({}).toMatchTypeOf<CreateVmOptions>();
    // @ts-expect-error vcpus is a number
    void createVm({ vcpus: '2' });
    // @ts-expect-error no such option
    void createVm({ cpus: 2 });
    // @ts-expect-error lockProtocol names a built-in protocol or is one
    void createVm({ gic: { lockProtocol: 'v8' } });
  });

  it('VM control returns errnos as numbers', () => {
    expectTypeOf<Vm['start']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<Vm['pause']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<Vm['resume']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<Vm['lockAllVcpus']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<Vm['destroy']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<Vm['vmState']>().toEqualTypeOf<VmState>();
    expectTypeOf<Vm['vcpuExited']>().returns.toEqualTypeOf<Promise<VcpuExit>>();
    expectTypeOf<Vm['results']>().returns.toEqualTypeOf<Int32Array>();
  });
});

describe('signalMsi and device attributes', () => {
  it('signalMsi takes a kvm_msi and resolves to 1, 0 or -errno', () => {
    expectTypeOf<GicVm['signalMsi']>().parameters.toEqualTypeOf<[KvmMsi]>();
    expectTypeOf<GicVm['signalMsi']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<KvmMsi['address']>().toEqualTypeOf<number | bigint>();
    expectTypeOf<KvmMsi['devid']>().toEqualTypeOf<number | undefined>();
    // @ts-expect-error data (the EventID) is required
    expectTypeOf<{ address: number }>().toMatchTypeOf<KvmMsi>();
  });

  it('set/has return errnos (Promise<number>, number); get returns { ret, value? }', () => {
    expectTypeOf<ItsDevice['setAttr']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<ItsDevice['setAttr']>().parameters.toEqualTypeOf<[group: number, attr: number, value?: number | bigint]>();
    expectTypeOf<ItsDevice['getAttr']>().returns.toEqualTypeOf<Promise<AttrGet>>();
    expectTypeOf<ItsDevice['hasAttr']>().returns.toEqualTypeOf<number>();
    expectTypeOf<AttrGet>().toEqualTypeOf<{ ret: number; value?: bigint }>();
    expectTypeOf<VgicV3Device['setAttr']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<GicVm['gic']['its']>().toEqualTypeOf<ItsDevice[]>();
    expectTypeOf(api.uapi.KVM_DEV_ARM_VGIC_GRP_CTRL).toBeNumber();
    expectTypeOf(api.errno.EBUSY).toBeNumber();
  });
});

describe('snapshots and migration', () => {
  it('save, restore, migrate and the snapshot file', () => {
    expectTypeOf(saveVm).parameters.toEqualTypeOf<[vm: GicVm]>();
    expectTypeOf(saveVm).returns.toEqualTypeOf<Promise<VmSnapshot>>();
    expectTypeOf(restoreVm).parameters.toEqualTypeOf<[s: VmSnapshot, o?: RestoreOptions]>();
    expectTypeOf(restoreVm).returns.toEqualTypeOf<Promise<GicVm>>();
    expectTypeOf(migrate).returns.toEqualTypeOf<Promise<GicVm>>();
    expectTypeOf(readSnapshotFile).returns.toEqualTypeOf<Promise<VmSnapshot>>();
    expectTypeOf(api.encodeSnapshot).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf<VmSnapshot['ram']>().toEqualTypeOf<Uint8Array[]>();
    expectTypeOf<api.MigrationError>().toHaveProperty('errno').toBeNumber();
    expectTypeOf<api.MigrationError>().toMatchTypeOf<Error>();
    // @ts-expect-error migration needs a VM with a vGIC
    void saveVm({} as Vm);
  });
});

describe('the validator and the deadlock detector', () => {
  it('findings, reports and deadlocks are plain data', () => {
    expectTypeOf<Vm['lockFindings']>().returns.toEqualTypeOf<Finding[]>();
    expectTypeOf<Vm['lockReport']>().returns.toEqualTypeOf<ValidatorReport | undefined>();
    expectTypeOf<Finding['kind']>().toEqualTypeOf<FindingKind>();
    expectTypeOf<FindingKind>().toEqualTypeOf<'inversion' | 'hierarchy' | 'recursive' | 'unlock-unheld'>();
    expectTypeOf<Finding['classes']>().toEqualTypeOf<string[]>();
    expectTypeOf<ValidatorReport['findings'][number]>().toMatchTypeOf<Finding & { key: string }>();
    expectTypeOf(formatFinding).returns.toBeString();
    expectTypeOf(watchVmForDeadlock).returns.toEqualTypeOf<Promise<Deadlock[]>>();
  });
});

describe('the stress engine and benchmarks', () => {
  it('runScenario resolves to a JSON-safe outcome with a verdict and a replay token', () => {
    expectTypeOf(runScenario).returns.toEqualTypeOf<Promise<ScenarioOutcome>>();
    expectTypeOf<ScenarioOutcome['verdict']>().toEqualTypeOf<'pass' | 'fail'>();
    expectTypeOf<ScenarioOutcome['token']>().toBeString();
    expectTypeOf<ScenarioOutcome['findings']>().toEqualTypeOf<Finding[]>();
    expectTypeOf<ScenarioOutcome['deadlocks']>().toEqualTypeOf<Deadlock[]>();
    expectTypeOf<ScenarioOutcome['figures']>().toEqualTypeOf<Record<string, number>>();
    expectTypeOf(runCampaign).returns.toEqualTypeOf<Promise<CampaignReport>>();
    expectTypeOf(api.SCENARIOS).toEqualTypeOf<readonly api.Scenario[]>();
    // @ts-expect-error the schedule is 'free', 'random' or 'pct'
    void runScenario(api.SCENARIOS[0]!, { schedule: { strategy: 'fifo' } });
  });

  it('runSuite resolves to a report of figures', () => {
    expectTypeOf(runSuite).returns.toEqualTypeOf<Promise<BenchReport>>();
    expectTypeOf<BenchReport['figures'][number]['ratio']>().toEqualTypeOf<number | null>();
    // @ts-expect-error the budget is 'full', 'quick' or 'smoke'
    void runSuite([], { budget: 'huge' });
  });
});

describe('guest programs', () => {
  it('a GuestMain gets the guest API and its args, and returns its result', () => {
    const main: GuestMain<{ n: number }, number> = (guest, args) => guest.read32(0x4000_0000) + args.n;
    expectTypeOf(main).parameters.toEqualTypeOf<[Guest, { n: number }]>();
    expectTypeOf<Guest['results']>().toEqualTypeOf<Int32Array>();
    expectTypeOf<Guest['mmioRead64']>().returns.toEqualTypeOf<bigint>();
    expectTypeOf<VcpuExit['result']>().toBeUnknown();
  });
});

describe('the surface is deliberate', () => {
  it('plumbing is not exported from the root', () => {
    expectTypeOf(api).not.toHaveProperty('waitForWord');
    expectTypeOf(api).not.toHaveProperty('waitUntil');
    expectTypeOf(api).not.toHaveProperty('Validator');
    expectTypeOf(api).not.toHaveProperty('validatorReport');
    expectTypeOf(api).not.toHaveProperty('detectDeadlocks');
    expectTypeOf(api.uapi).not.toHaveProperty('GITS_CMD_MAPD');
    expectTypeOf(api).toHaveProperty('createVm');
  });
});
