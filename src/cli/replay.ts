/**
 * `vgic-lab replay TOKEN`: rerun the scenario a replay token names with the
 * same vCPUs, ITSs, length, schedule and seed, and print the outcome (and
 * the trace hash of a controlled schedule, to compare with the original).
 */
import { parseArgs } from 'node:util';
import { runScenario } from '../stress/runner.js';
import { findScenario } from '../stress/scenarios/index.js';
import { decodeToken } from '../stress/token.js';
import { formatOutcome } from './outcome-text.js';
import { progressBar } from './progress.js';
import { intFlag, protocolFlag, scenarioList, usageError } from './stress-options.js';

const USAGE = `usage: vgic-lab replay TOKEN [--protocol P] [--json] [--stall-ms N] [--stop-at-first]

TOKEN is what stress and campaign print after 'replay:'. A run that tried a
lock protocol (--protocol) needs it again: the token does not carry it.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, 'stall-ms': { type: 'string' }, 'stop-at-first': { type: 'boolean' }, protocol: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw usageError(`replay takes one token (got ${positionals.length})\n${USAGE}`);
  const spec = decodeToken(positionals[0]!);
  const scenario = findScenario(spec.scenario);
  if (scenario === undefined) throw usageError(`the token names scenario '${spec.scenario}', which this build does not have; the scenarios are:\n${scenarioList()}`);
  const stallMs = intFlag('stall-ms', values['stall-ms'], 10, 3_600_000);
  const protocol = await protocolFlag(values.protocol);
  if (protocol !== undefined && scenario.takesLockProtocol === false) throw usageError(`${scenario.name} is a fixed test of one lock protocol and takes no --protocol`);
  const bar = progressBar(values.json === true);
  const o = await runScenario(scenario, {
    vcpus: spec.vcpus, its: spec.its, seconds: spec.seconds, schedule: spec.schedule,
    stopAtFirst: values['stop-at-first'] === true,
    ...(stallMs !== undefined ? { stallMs } : {}),
    ...(protocol !== undefined ? { lockProtocol: protocol } : {}),
    ...(bar ? { onProgress: (f: number, label: string) => bar.update(f, label) } : {}),
  });
  bar?.clear();
  // A controlled run must reproduce the token's interleaving exactly; anything else is a determinism bug.
  const reproduced = spec.traceHash === undefined ? undefined : o.traceHash === spec.traceHash;
  if (values.json) process.stdout.write(`${JSON.stringify({ command: 'replay', token: positionals[0], reproduced, outcome: o }, null, 2)}\n`);
  else {
    process.stdout.write(`${formatOutcome(o, values.protocol !== undefined ? `--protocol ${values.protocol}` : '')}\n`);
    if (reproduced !== undefined) {
      process.stdout.write(reproduced ? `same interleaving as the token (trace hash ${spec.traceHash})\n`
        : `DIFFERENT interleaving: trace hash ${o.traceHash ?? 'none'}, the token's is ${spec.traceHash}\n`);
    }
  }
  return o.verdict === 'pass' && reproduced !== false ? 0 : 1;
}
