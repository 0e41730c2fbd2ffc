/**
 * Every benchmark, in report order. A later issue adds a suite by writing
 * src/bench/suites/<name>.ts (exporting Benchmark[]) and listing it here.
 */
import { lockBenchmarks } from './suites/lock.js';
import { lpiBenchmarks } from './suites/lpi.js';
import { mailboxBenchmarks } from './suites/mailbox.js';
import { pauseBenchmarks } from './suites/pause.js';
import { saveRestoreBenchmarks } from './suites/save-restore.js';
import { validatorBenchmarks } from './suites/validator.js';
import { scheduleBenchmarks } from './suites/schedule.js';
import { transportBenchmarks } from './suites/transport.js';
import { rpcBenchmarks } from './suites/rpc.js';
import type { Benchmark } from './types.js';

/** @internal */
export const SUITES: readonly (readonly Benchmark[])[] = [
  lockBenchmarks,
  mailboxBenchmarks,
  pauseBenchmarks,
  lpiBenchmarks,
  saveRestoreBenchmarks,
  validatorBenchmarks,
  scheduleBenchmarks,
  transportBenchmarks,
  rpcBenchmarks,
];

/** Every built-in benchmark, in report order (checks that names are unique and references resolve). */
export function allBenchmarks(): Benchmark[] {
  const all = SUITES.flat();
  const seen = new Set<string>();
  for (const b of all) {
    if (seen.has(b.name)) throw new Error(`bench registry: duplicate benchmark name ${b.name}`);
    seen.add(b.name);
  }
  for (const b of all) {
    for (const ref of references(b)) {
      if (!seen.has(ref)) throw new Error(`bench registry: ${b.name} refers to unknown benchmark ${ref}`);
    }
  }
  return all;
}

/** Names a benchmark needs measured in the same run (its baseline, comparisons and target references). */
export function references(b: Benchmark): string[] {
  const refs = [b.baseline, ...(b.compare ?? []), ...(b.targets ?? []).map((t) => t.against ?? b.baseline)];
  return [...new Set(refs.filter((r): r is string => r !== undefined))];
}

function matches(pattern: string, b: Benchmark): boolean {
  if (pattern === b.name || pattern === b.group) return true;
  if (pattern.includes('*')) {
    const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(b.name);
  }
  return false;
}

/** What select() picked. */
export interface Selection {
  /** What runs, in registry order. */
  benchmarks: Benchmark[];
  /** Names that were not asked for but are needed for a ratio. */
  pulledIn: Set<string>;
  /** Patterns that matched nothing. */
  unknown: string[];
}

/**
 * Select by exact name, group name, or glob ('pause.*-8'); no pattern selects
 * everything. Baselines and comparison figures of what is selected come along.
 */
export function select(patterns: readonly string[], all: readonly Benchmark[] = allBenchmarks()): Selection {
  const unknown = patterns.filter((p) => !all.some((b) => matches(p, b)));
  const wanted = new Set(all.filter((b) => patterns.length === 0 || patterns.some((p) => matches(p, b))).map((b) => b.name));
  const byName = new Map(all.map((b) => [b.name, b]));
  const pulledIn = new Set<string>();
  const queue = [...wanted];
  while (queue.length > 0) {
    for (const ref of references(byName.get(queue.pop()!)!)) {
      if (!wanted.has(ref)) {
        wanted.add(ref);
        pulledIn.add(ref);
        queue.push(ref);
      }
    }
  }
  return { benchmarks: all.filter((b) => wanted.has(b.name)), pulledIn, unknown };
}
