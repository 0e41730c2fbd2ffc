/**
 * `vgic-lab stress [scenario...]` (npm start): run stress scenarios (all
 * built-in ones by default) against real VMs, each judged against its
 * expected verdict; print a verdict line per scenario with what was found
 * and a replay token for every failure or finding, then a summary table.
 * Exit 0 when every verdict passes, 1 otherwise, 2 for usage errors.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { GicVm } from '../create-vm.js';
import { Validator, type EdgeProvenance } from '../sync/validator.js';
import { runScenario } from '../stress/runner.js';
import type { ScenarioOutcome } from '../stress/scenario.js';
import { formatOutcome, summaryTable } from './outcome-text.js';
import { progressBar } from './progress.js';
import { RUN_FLAGS, RUN_FLAGS_HELP, randomSeed, runOptionsFrom, scenarioList, selectScenarios, intFlag } from './stress-options.js';

const USAGE = `usage: vgic-lab stress [scenario...] [options]

Runs each scenario (name or letter; default: all) and checks its verdict.

options:
  --seed N          seed of the scenarios' choices and of a controlled schedule (default: random, printed)
${RUN_FLAGS_HELP}
  --timeline FILE   write a Chrome trace (chrome://tracing, Perfetto) of the runs to FILE
  --graph FILE      write the lock dependency graph the validator saw (Graphviz DOT) to FILE
  --list            list the scenarios and exit

scenarios:
${scenarioList()}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { ...RUN_FLAGS, seed: { type: 'string' }, timeline: { type: 'string' }, graph: { type: 'string' }, list: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.list) {
    process.stdout.write(`${scenarioList()}\n`);
    return 0;
  }
  const scenarios = selectScenarios(positionals, values.schedule);
  const seed = intFlag('seed', values.seed, 0, 0xffff_ffff) ?? randomSeed();
  const base = runOptionsFrom(values, seed);
  if (values.timeline !== undefined) base.timeline = true;
  const json = values.json === true;
  const out = (s: string) => { if (!json) process.stdout.write(`${s}\n`); };
  const bar = progressBar(json);

  out(`vgic-lab stress: ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}, seed ${seed}, schedule ${base.schedule!.strategy}` +
    `${base.vcpus ? `, ${base.vcpus} vCPUs` : ''}${base.its ? `, ${base.its} ITS` : ''}${base.seconds ? `, ${base.seconds} s` : ''}`);
  const outcomes: ScenarioOutcome[] = [];
  const edges: { scenario: string; edges: EdgeProvenance[] }[] = [];
  const spans: { name: string; start: number; end: number; outcome: ScenarioOutcome }[] = [];
  for (const [i, s] of scenarios.entries()) {
    const start = performance.now();
    const o = await runScenario(s, {
      ...base,
      ...(bar ? { onProgress: (f: number, label: string) => bar.update((i + f) / scenarios.length, `${s.letter} ${s.name}: ${label}`) } : {}),
    }, {
      beforeDestroy: values.graph === undefined ? undefined : (vms: GicVm[]) => {
        edges.push({ scenario: s.name, edges: vms.flatMap((vm) => (vm.shared.validator ? new Validator(vm.shared.validator, vm.rt.arena).edges() : [])) });
      },
    });
    spans.push({ name: s.name, start, end: performance.now(), outcome: o });
    bar?.clear();
    outcomes.push(o);
    out(formatOutcome(o));
  }
  if (values.graph !== undefined) writeFileSync(values.graph, lockGraphDot(edges));
  if (values.timeline !== undefined) writeFileSync(values.timeline, JSON.stringify(runTimeline(spans)));
  const failed = outcomes.filter((o) => o.verdict === 'fail').length;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'stress', seed, options: base, outcomes, summary: { scenarios: outcomes.length, passed: outcomes.length - failed, failed } }, null, 2)}\n`);
  } else {
    out('');
    out(summaryTable(outcomes));
  }
  return failed === 0 ? 0 : 1;
}

/**
 * The validator's class dependency graph of each scenario, as DOT.
 * TODO(merge): src/stress/pictures renders this (SVG, highlighted cycles); use it when it lands.
 */
function lockGraphDot(runs: { scenario: string; edges: EdgeProvenance[] }[]): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['digraph locks {', '  rankdir=LR; node [shape=box, fontname="monospace"];'];
  runs.forEach((r, i) => {
    lines.push(`  subgraph cluster_${i} {`, `    label=${q(r.scenario)};`);
    for (const c of new Set(r.edges.flatMap((e) => [e.from, e.to]))) lines.push(`    ${q(`${i}:${c}`)} [label=${q(c)}];`);
    for (const e of r.edges) lines.push(`    ${q(`${i}:${e.from}`)} -> ${q(`${i}:${e.to}`)} [label=${q(e.thread === e.actingThread ? e.thread : `${e.thread} via ${e.actingThread}`)}];`);
    lines.push('  }');
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * A Chrome trace of the runs: one span per scenario, an instant event where the watchdog ended one.
 * TODO(merge): the timeline module's per-thread lock events (ScenarioOptions.timeline) belong in the same file.
 */
function runTimeline(spans: { name: string; start: number; end: number; outcome: ScenarioOutcome }[]): object {
  const us = (ms: number) => Math.round(ms * 1000);
  const events = spans.flatMap((s) => [
    { name: s.name, cat: 'scenario', ph: 'X', ts: us(s.start), dur: us(s.end - s.start), pid: 1, tid: 1, args: { verdict: s.outcome.verdict, observed: s.outcome.observed } },
    ...(s.outcome.endedBy !== 'scenario' ? [{ name: `ended by ${s.outcome.endedBy}`, ph: 'i', s: 'p', ts: us(s.end), pid: 1, tid: 1 }] : []),
  ]);
  return { traceEvents: events, displayTimeUnit: 'ms' };
}
