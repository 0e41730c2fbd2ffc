/** The fuzzers (runFuzz) and their targets. */
export { runFuzz, fuzzTarget, type FuzzRunOptions, type FuzzReport, type FuzzFailureReport, type FuzzProgress } from './runner.js';
export { FUZZ_TARGETS, FuzzFailure, type FuzzTargetName, type FuzzTarget, type FuzzSession, type FuzzTargetOptions } from './types.js';
