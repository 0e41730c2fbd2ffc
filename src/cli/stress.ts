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
import { Validator } from '../sync/validator.js';
import { lockGraphFromValidator, type LockGraph } from '../stress/pictures/lock-graph.js';
import { lockGraphToDot } from '../stress/pictures/dot.js';
import { lockGraphToSvg } from '../stress/pictures/svg.js';
import type { ChromeTrace } from '../trace/chrome-trace.js';
import { runScenario } from '../stress/runner.js';
import type { ScenarioOutcome } from '../stress/scenario.js';
import { formatOutcome, summaryTable } from './outcome-text.js';
import { progressBar } from './progress.js';
import { RUN_FLAGS, RUN_FLAGS_HELP, protocolFlag, randomSeed, runOptionsFrom, scenarioList, selectScenarios, intFlag } from './stress-options.js';

const USAGE = `usage: vgic-lab stress [scenario...] [options]

Runs each scenario (name or letter; default: all) and checks its verdict.

options:
  --seed N          seed of the scenarios' choices and of a controlled schedule (default: random, printed)
${RUN_FLAGS_HELP}
  --timeline FILE   write a Chrome trace of every VM (open in Perfetto): KVM_RUN, locks, messages, MSIs
  --graph FILE      write the lock dependency graph the validator saw, offending edges in red:
                    SVG if FILE ends in .svg, else Graphviz DOT
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
  const scenarios = selectScenarios(positionals, values.schedule, values.protocol !== undefined);
  const seed = intFlag('seed', values.seed, 0, 0xffff_ffff) ?? randomSeed();
  const base = runOptionsFrom(values, seed);
  const protocol = await protocolFlag(values.protocol);
  if (protocol !== undefined) base.lockProtocol = protocol;
  if (values.timeline !== undefined) base.timeline = true;
  const json = values.json === true;
  const out = (s: string) => { if (!json) process.stdout.write(`${s}\n`); };
  const bar = progressBar(json);

  out(`vgic-lab stress: ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}, seed ${seed}, schedule ${base.schedule!.strategy}` +
    `${base.vcpus ? `, ${base.vcpus} vCPUs` : ''}${base.its ? `, ${base.its} ITS` : ''}${base.seconds ? `, ${base.seconds} s` : ''}` +
    `${protocol !== undefined ? `, lock protocol '${protocol.name}' (${values.protocol})` : ''}`);
  const outcomes: ScenarioOutcome[] = [];
  const graphs: { scenario: string; graph: LockGraph }[] = [];
  const traces: { scenario: string; trace: ChromeTrace }[] = [];
  for (const [i, s] of scenarios.entries()) {
    const o = await runScenario(s, {
      ...base,
      ...(bar ? { onProgress: (f: number, label: string) => bar.update((i + f) / scenarios.length, `${s.letter} ${s.name}: ${label}`) } : {}),
    }, {
      beforeDestroy: (vms: GicVm[]) => {
        for (const [n, vm] of vms.entries()) {
          const label = vms.length > 1 ? `${s.name} (VM ${n})` : s.name;
          if (values.graph !== undefined && vm.shared.validator !== undefined) {
            const v = new Validator(vm.shared.validator, vm.rt.arena);
            graphs.push({ scenario: label, graph: lockGraphFromValidator(v.edges(), v.findings()) });
          }
          const trace = values.timeline !== undefined ? vm.chromeTrace() : undefined;
          if (trace !== undefined) traces.push({ scenario: label, trace });
        }
      },
    });
    bar?.clear();
    outcomes.push(o);
    out(formatOutcome(o, values.protocol !== undefined ? `--protocol ${values.protocol}` : ''));
  }
  if (values.graph !== undefined) writeFileSync(values.graph, await lockGraphFile(values.graph, graphs));
  if (values.timeline !== undefined) writeFileSync(values.timeline, JSON.stringify(mergeTraces(traces)));
  const failed = outcomes.filter((o) => o.verdict === 'fail').length;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'stress', seed, options: base, outcomes, summary: { scenarios: outcomes.length, passed: outcomes.length - failed, failed } }, null, 2)}\n`);
  } else {
    out('');
    out(summaryTable(outcomes));
  }
  return failed === 0 ? 0 : 1;
}

/** The lock dependency graph of every scenario's VMs: DOT, or SVG when the file name ends in .svg. */
async function lockGraphFile(file: string, runs: { scenario: string; graph: LockGraph }[]): Promise<string> {
  const edges = runs.flatMap((r) => r.graph.edges.map((e) => ({ ...e, thread: `${r.scenario}: ${e.thread}` })));
  const classes = new Map(runs.flatMap((r) => r.graph.classes).map((c) => [c.name, c]));
  const g: LockGraph = { title: `vgic-lab stress: ${runs.map((r) => r.scenario).join(', ')}`, classes: [...classes.values()], edges };
  return file.endsWith('.svg') ? lockGraphToSvg(g) : lockGraphToDot(g);
}

/** Every VM's timeline (options.timeline) as one Chrome trace: a process per VM, named after its scenario. */
function mergeTraces(runs: { scenario: string; trace: ChromeTrace }[]): ChromeTrace {
  const traceEvents = runs.flatMap((r, i) => r.trace.traceEvents.map((e) =>
    (e.name === 'process_name' ? { ...e, pid: i + 1, args: { name: r.scenario } } : { ...e, pid: i + 1 })));
  return { traceEvents, displayTimeUnit: 'ns' } as ChromeTrace;
}
