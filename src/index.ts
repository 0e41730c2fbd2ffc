/**
 * vgic-lab public API. Everything exported here is supported; deeper imports
 * are internal and may change.
 */
export { Vm, type VmState, type VmFault, type VcpuCounters } from './kvm/vm.js';
export { createVm, type CreateVmOptions, type GicVm } from './create-vm.js';
export { Gic, type GicOptions } from './vgic/gic.js';
export { ItsDevice, type AttrGet } from './vgic/its-device.js';
export { MsiInjector, type KvmMsi, type InjectorHandle } from './vgic/msi.js';
export type { GicCpuInterface } from './vgic/cpu-interface.js';
export * as uapi from './uapi/index.js';
export type { VmOptions, GuestSpec } from './kvm/options.js';
export type { ActorTransportKind } from './actors/transport.js';
export type { Guest, GuestMain } from './kvm/guest-api.js';
export type { VcpuExit } from './kvm/vcpu-run.js';
export type { VcpuStateName } from './kvm/vcpu-block.js';
export type { LockClassStats, LockStatLevel } from './sync/index.js';
export type { MemslotSpec } from './mem/index.js';
export * as errno from './uapi/errno.js';
export { errnoName } from './uapi/errno.js';
export { VgicV3Device } from './vgic/vgic-v3-device.js';
export { UPSTREAM, V7_2017, LOCK_PROTOCOLS, type LockProtocol, type LockStep, type LockRef } from './vgic/lock-protocol.js';
export {
  translationView, compareTranslation, formatDifferences,
  type TranslationView, type ItsView, type MappingView, type LpiView, type Difference,
} from './vgic/equivalence.js';
export {
  saveVm, restoreVm, migrate, saveItsTables, savePendingTables, readItsRegisters, readRedistributors, readRam,
  createVmForSnapshot, loadRam, loadResults, restoreRedistributors, setItsBases, restoreItsRegisters, restoreItsTables,
  restoreItsCtlr, MigrationError, type RestoreOptions,
} from './migrate/steps.js';
export {
  encodeSnapshot, decodeSnapshot, writeSnapshotFile, readSnapshotFile, SNAPSHOT_VERSION,
  type VmSnapshot, type VmSnapshotHeader,
} from './migrate/snapshot.js';
export { runInjectors, type InjectorPlan, type InjectorResult } from './vgic/injectors.js';
export { waitForWord, waitUntil } from './sync/wait.js';
export { waitForItsSetup } from './guest/setup-wait.js';
export { runLpiStress, type LpiStressOptions, type LpiStressResult } from './vgic/lpi-stress.js';
export {
  detectDeadlocks, watchForDeadlock, waitForEdges, findDeadlocks, formatDeadlock,
  type Deadlock, type DeadlockThread, type WaitEdge,
} from './stress/deadlock.js';
export {
  Validator, formatFinding, findingKey, validatorReport,
  type Finding, type EdgeProvenance, type ValidatorOptions, type ValidatorReport,
} from './sync/validator.js';
export { runFault, FAULTS, type FaultOptions, type FaultResult, type FaultCheck } from './reliability/faults.js';
export { OPERATIONS, operationName, operationId, type OperationName } from './sync/operations.js';
export { ScheduleEnded, type ScheduleConfig, type ScheduleSummary, type ScheduleDecision, type ScheduleEnd } from './sync/schedule.js';

// ---- guest authoring, user benchmarks, scenario protocols (issue 8 items 2, 3, 5) ----
// The guest side itself is the `vgic-lab/guest` subpath (src/guest/public.ts).
export { defineGuest, type GicGuest, type GicGuestExt, type GuestArgs, type GuestResult } from './guest/define.js';
export { waitForResult } from './guest/results-wait.js';
export { resolveLockProtocol, deriveHierarchy, LOCK_CLASSES } from './vgic/lock-protocol.js';
export { loadLockProtocol } from './vgic/lock-protocol-file.js';
export { defineBenchmark, runBenchmarks, type UserBenchmarkSpec, type RunBenchmarksOptions } from './bench/user.js';
// Also in lib-surface's stress and bench sections: keep one copy when merging.
export { runScenario, type RunOptions } from './stress/runner.js';
export { SCENARIOS, findScenario } from './stress/scenarios/index.js';
export type { Scenario, ScenarioOutcome } from './stress/scenario.js';
export { renderText as renderBenchReport } from './bench/report.js';
export type { Report as BenchReport, Figure } from './bench/runner.js';
