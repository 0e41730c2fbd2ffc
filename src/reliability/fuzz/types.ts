/**
 * What every fuzz target provides to the runner (runner.ts): a fast-check
 * arbitrary of cases and a session that runs one case at a time against
 * real VMs, throwing a FuzzFailure (or anything else: an exception that
 * escapes is a failure too) when a property does not hold.
 */
import type fc from 'fast-check';
import { errnoName } from '../../uapi/errno.js';

/** The fuzz targets. */
export type FuzzTargetName = 'commands' | 'tables' | 'registers';
/** Every fuzz target, in the order `vgic-lab fuzz` runs them. */
export const FUZZ_TARGETS: readonly FuzzTargetName[] = ['commands', 'tables', 'registers'];

/** A property that did not hold, in words (which property, what was seen). */
export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFailure';
  }
}

export interface FuzzSession<C> {
  /** Run one case; throws when a property fails. The session recovers (a fresh VM) before the next. */
  run(c: C): Promise<void>;
  /** Destroy every VM; a destroy that does not finish is a failure too. */
  close(): Promise<void>;
  /** What the cases reached so far (counters by name), to show the generator covers what matters. */
  readonly stats: Record<string, number>;
}

/**
 * Self-tests of the properties (the fuzzer must be able to fail): each
 * target names what its sabotage breaks. Off in real runs.
 */
export interface FuzzTargetOptions {
  sabotage?: boolean;
}

export interface FuzzTarget<C> {
  readonly name: FuzzTargetName;
  arbitrary(o: FuzzTargetOptions): fc.Arbitrary<C>;
  open(o: FuzzTargetOptions): FuzzSession<C>;
}

/** Add 1 (or `n`) to counter `key`. */
export function count(stats: Record<string, number>, key: string, n = 1): void {
  stats[key] = (stats[key] ?? 0) + n;
}

/** A return value for counters and messages: -errno by name, others as numbers. */
export function resultName(r: number): string {
  return r < 0 ? errnoName(r) : String(r);
}
