/** The benchmark harness: registry, runner and report (used by `vgic-lab bench`). */
export { allBenchmarks, select, references, SUITES, type Selection } from './registry.js';
export { runSuite, type Report, type Figure, type MachineInfo, type SuiteOptions, type TargetResult } from './runner.js';
export { renderText, toJson, JSON_SCHEMA } from './report.js';
export { summarize, quantile, type Summary } from './stats.js';
export { BUDGETS, type Benchmark, type Budget, type BudgetName, type RunContext, type Session, type Target } from './types.js';
export {
  compareDocs, parseDoc, renderCompareText, compareToJson, rule as compareRule, COMPARE_SCHEMA, DEFAULT_MIN_CHANGE,
  type BenchDoc, type CompareOptions, type CompareResult, type FigureDelta, type Verdict,
} from './compare.js';
