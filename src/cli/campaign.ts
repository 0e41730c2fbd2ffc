/**
 * `vgic-lab campaign [scenario...] --seeds N --from S --concurrency C`: each
 * scenario over N seeds, runs in parallel on a piscina pool; prints verdict
 * counts per scenario, the distinct findings and deadlocks (deduplicated by
 * key) with the first seed and replay token of each, and the failed runs.
 * Exit 0 when every run passed, 1 otherwise, 2 for usage errors.
 */
import { parseArgs } from 'node:util';
import { formatFinding } from '../sync/validator-report.js';
import { defaultConcurrency, runCampaign } from '../stress/campaign.js';
import { formatDeadlock } from '../stress/deadlock.js';
import { formatStall } from './outcome-text.js';
import { table } from './format.js';
import { progressBar } from './progress.js';
import { intFlag, protocolFlag, RUN_FLAGS, RUN_FLAGS_HELP, runOptionsFrom, scenarioList, selectScenarios } from './stress-options.js';

const USAGE = `usage: vgic-lab campaign [scenario...] [options]

Runs each scenario (default: all) once per seed, several at a time.

options:
  --seeds N         seeds per scenario (default 8)
  --from S          first seed (default 1)
  --concurrency C   runs at once (default ${defaultConcurrency()})
${RUN_FLAGS_HELP}

scenarios:
${scenarioList()}
`;

const indent = (s: string) => s.split('\n').map((l) => `    ${l}`).join('\n');

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { ...RUN_FLAGS, seeds: { type: 'string' }, from: { type: 'string' }, concurrency: { type: 'string' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = selectScenarios(positionals, values.schedule, values.protocol !== undefined);
  const seeds = intFlag('seeds', values.seeds, 1, 100_000) ?? 8;
  const from = intFlag('from', values.from, 0, 0xffff_ffff) ?? 1;
  const concurrency = intFlag('concurrency', values.concurrency, 1, 64) ?? defaultConcurrency();
  const { schedule, ...run } = runOptionsFrom(values, from);
  const protocol = await protocolFlag(values.protocol);
  if (protocol !== undefined) run.lockProtocol = protocol; // plain data: it crosses to the pool workers
  const replayFlags = values.protocol !== undefined ? ` --protocol ${values.protocol}` : ''; // tokens do not carry it
  const { seed: _seed, ...sched } = schedule!;
  const json = values.json === true;
  const bar = progressBar(json);
  const t0 = performance.now();
  const report = await runCampaign({
    scenarios: scenarios.map((s) => s.name), seeds, from, concurrency, run: { ...run, schedule: sched },
    ...(bar ? { onRun: (done: number, total: number) => bar.update(done / total, `${done}/${total} runs`) } : {}),
  });
  bar?.clear();
  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'campaign', seeds, from, concurrency, options: { ...run, schedule: sched }, seconds, ...report }, null, 2)}\n`);
    return report.fail === 0 ? 0 : 1;
  }
  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(`vgic-lab campaign: ${report.runs} runs (${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'} x seeds ${from}..${from + seeds - 1}), ` +
    `${concurrency} at a time, ${seconds.toFixed(1)} s`);
  out(table(['scenario', 'runs', 'pass', 'fail', 'mean time'], report.scenarios.map((s) => [s.scenario, s.runs, s.pass, s.fail, `${(s.meanMs / 1000).toFixed(1)} s`])));
  if (report.findings.length > 0) {
    out(`\n${report.findings.length} distinct finding${report.findings.length === 1 ? '' : 's'}:`);
    for (const f of report.findings) {
      out(`  ${f.key}  (${f.count} run${f.count === 1 ? '' : 's'}; first: ${f.first.scenario} seed ${f.first.seed}, replay ${f.first.token}${replayFlags})`);
      out(indent(formatFinding(f.finding)));
    }
  }
  if (report.deadlocks.length > 0) {
    out(`\n${report.deadlocks.length} distinct deadlock${report.deadlocks.length === 1 ? '' : 's'}:`);
    for (const d of report.deadlocks) {
      out(`  ${d.key}  (${d.count} run${d.count === 1 ? '' : 's'}; first: ${d.first.scenario} seed ${d.first.seed}, replay ${d.first.token}${replayFlags})`);
      out(indent(formatDeadlock(d.deadlock)));
    }
  }
  for (const s of report.stalls) {
    out(`\nstalls: ${s.count} run${s.count === 1 ? '' : 's'}; first: ${s.first.scenario} seed ${s.first.seed}, replay ${s.first.token}${replayFlags}`);
    out(indent(formatStall(s.stall)));
  }
  if (report.failures.length > 0) {
    out(`\nfailed runs:`);
    for (const f of report.failures.slice(0, 20)) out(`  ${f.scenario} seed ${f.seed}: ${f.observed}\n    replay ${f.token}${replayFlags}`);
    if (report.failures.length > 20) out(`  ... and ${report.failures.length - 20} more (--json for all)`);
  }
  out(`\n${report.pass}/${report.runs} runs passed`);
  return report.fail === 0 ? 0 : 1;
}
