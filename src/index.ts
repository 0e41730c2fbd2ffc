/**
 * vgic-lab: a concurrency model of Linux KVM's arm64 vGICv3 ITS, as a library.
 *
 * Everything exported here (and from the subpaths package.json lists under
 * `exports`) is the supported API. Other modules are internal: package.json
 * does not export them, and they may change in any release.
 *
 * Start with {@link createVm}; ioctl-shaped calls return 0 or a negative
 * kernel errno (see {@link errnoName}); bad options throw a TypeError or
 * RangeError that names the option.
 *
 * @packageDocumentation
 */

// ---- VM creation and control -------------------------------------------------
export { createVm, type CreateVmOptions, type GicVm } from './create-vm.js';
export { Vm, type VmState, type VmFault, type VcpuCounters } from './kvm/vm.js';
export type { VmOptions, GuestSpec } from './kvm/options.js';
export type { MemslotSpec } from './mem/guest-memory.js';
export type { ActorTransportKind } from './actors/transport.js';
export type { VcpuExit } from './kvm/vcpu-run.js';
export type { VcpuStateName, ExitReasonName } from './kvm/vcpu-block.js';
export type { LockStatLevel } from './sync/arena.js';
export type { LockClassStats } from './sync/lock-stat.js';
export {
  ScheduleEnded,
  type ScheduleConfig, type ScheduleStrategyName, type ScheduleSummary, type ScheduleDecision, type ScheduleEnd,
} from './sync/schedule.js';
export type { ChromeTrace, ChromeTraceEvent } from './trace/chrome-trace.js';

// ---- the vGIC: devices, device attributes, MSIs --------------------------------
export { Gic, type GicOptions } from './vgic/gic.js';
export { defaultItsBase, type IodevRegistration } from './vgic/layout.js';
export { ItsDevice, type AttrGet } from './vgic/its-device.js';
export type { ItsSnapshot, ItsDeviceSnapshot, ItsCollectionSnapshot, ItsIteSnapshot } from './vgic/its/its.js';
export { VgicV3Device } from './vgic/vgic-v3-device.js';
export { MsiInjector, type KvmMsi, type InjectorHandle } from './vgic/msi.js';
export { runInjectors, type InjectorPlan, type InjectorResult } from './vgic/injectors.js';
export { runLpiStress, type LpiStressOptions, type LpiStressResult } from './vgic/lpi-stress.js';
export * as uapi from './uapi/public.js';
export * as errno from './uapi/errno.js';
export { errnoName } from './uapi/errno.js';

// ---- guest programs (the guest side itself, its drivers included, is the `vgic-lab/guest` subpath) ----
export type { Guest, GuestMain } from './kvm/guest-api.js';
export type { GicCpuInterface } from './vgic/cpu-interface.js';
export { defineGuest, type GicGuest, type GicGuestExt, type GuestArgs, type GuestResult } from './guest/define.js';
export { waitForItsSetup } from './guest/setup-wait.js';
export { waitForResult } from './guest/results-wait.js';

// ---- lock protocols ------------------------------------------------------------
export {
  UPSTREAM, V7_2017, LOCK_PROTOCOLS, LOCK_CLASSES, resolveLockProtocol, deriveHierarchy,
  type LockProtocol, type LockStep, type LockRef,
} from './vgic/lock-protocol.js';
export { loadLockProtocol } from './vgic/lock-protocol-file.js';

// ---- snapshots and migration ---------------------------------------------------
export {
  saveVm, restoreVm, migrate, saveItsTables, savePendingTables, readItsRegisters, readRedistributors, readRam,
  createVmForSnapshot, loadRam, loadResults, restoreRedistributors, setItsBases, restoreItsRegisters, restoreItsTables,
  restoreItsCtlr, MigrationError, type RestoreOptions, type ItsRegisterName,
} from './migrate/steps.js';
export {
  encodeSnapshot, decodeSnapshot, writeSnapshotFile, readSnapshotFile, SNAPSHOT_VERSION,
  type VmSnapshot, type VmSnapshotHeader, type ItsRegisterState, type RedistState,
} from './migrate/snapshot.js';

// ---- the equivalence checker ---------------------------------------------------
export {
  translationView, compareTranslation, formatDifferences, COLLECTION_NOT_MAPPED,
  type TranslationView, type ItsView, type MappingView, type LpiView, type Difference,
} from './vgic/equivalence.js';

// ---- the lock-order validator and the deadlock detector -------------------------
export {
  formatFinding, findingKey,
  type Finding, type FindingKind, type EdgeProvenance, type ValidatorOptions, type ValidatorReport, type Nestable, type HierarchyName,
} from './sync/validator.js';
export { OPERATIONS, type OperationName } from './sync/operations.js';
export { formatDeadlock, type Deadlock, type DeadlockThread } from './stress/deadlock.js';
export { watchVmForDeadlock, type WatchDeadlockOptions } from './stress/vm-deadlock.js';

// ---- the stress engine ---------------------------------------------------------
export { runScenario, type RunOptions, type RunHooks } from './stress/runner.js';
export { SCENARIOS, findScenario } from './stress/scenarios/index.js';
export type {
  Scenario, ScenarioOptions, ScenarioContext, ScenarioObservation, ScenarioOutcome, ScheduleOptions, ScheduleStrategy,
  Stall, Verdict, EndedBy, WatchReport,
} from './stress/scenario.js';
export { runCampaign, type CampaignOptions, type CampaignReport, type FirstSeen } from './stress/campaign.js';
export { decodeToken, type ReplaySpec } from './stress/token.js';
export { lockGraphFromValidator, type LockGraph, type LockGraphEdge } from './stress/pictures/lock-graph.js';
export { lockGraphToDot } from './stress/pictures/dot.js';
export { lockGraphToSvg } from './stress/pictures/svg.js';

// ---- benchmarks ----------------------------------------------------------------
export { allBenchmarks, select, type Selection } from './bench/registry.js';
export {
  runSuite, type Report as BenchReport, type Figure, type Comparison, type MachineInfo, type SuiteOptions, type TargetResult,
} from './bench/runner.js';
export { renderText as renderBenchReport, toJson as benchReportToJson } from './bench/report.js';
export type { Summary } from './bench/stats.js';
export { BUDGETS, type Benchmark, type Budget, type BudgetName, type RunContext, type Session, type Target } from './bench/types.js';
export { defineBenchmark, runBenchmarks, type UserBenchmarkSpec, type RunBenchmarksOptions } from './bench/user.js';

// ---- reliability: conservation, soak, fault injection, fuzzing ---------------------------
export {
  ConservationLedger, formatConservation, type ConservationReport, type LpiDeliveryProbe, type MsiSignaller,
} from './reliability/conservation.js';
export { runSoak, type SoakOptions, type SoakRow, type SoakResult } from './reliability/soak.js';
export { runFault, FAULTS, type FaultOptions, type FaultResult, type FaultCheck } from './reliability/faults.js';
export {
  runFuzz, FUZZ_TARGETS, type FuzzRunOptions, type FuzzReport, type FuzzFailureReport, type FuzzProgress, type FuzzTargetName,
} from './reliability/fuzz/index.js';

