/**
 * `vgic-lab faults [fault...]`: run each fault of the catalogue (default:
 * all) in a child process, --repeat times, one after the other; check its
 * postconditions and that the child exits by itself. Prints a row per
 * fault (how the VM reported it, whether the other threads were released,
 * locks held after, destroy, the process exit, duration) and every failed
 * check, or one JSON document with --json. Exit 0 when every run survived,
 * 1 otherwise, 2 for usage errors.
 */
import { parseArgs } from 'node:util';
import { FAULTS, findFault, type FaultOptions } from '../reliability/faults.js';
import { runFaultInChild, type ChildRun } from '../reliability/faults/run-child.js';
import { table } from './format.js';
import { progressBar } from './progress.js';
import { intFlag, usageError } from './stress-options.js';

/** How long a child may take to exit by itself after reporting (destroy is done by then). */
const EXIT_GUARD_MS = 10_000;

const faultList = (): string => FAULTS.map((f) => `  ${f.name.padEnd(26)} ${f.description}`).join('\n');

const USAGE = `usage: vgic-lab faults [fault...] [options]

Injects each fault (default: all) into a VM under load, in a child process,
and checks that the VM reports it, every other thread is released, no lock
stays held, destroy works and the process exits by itself.

options:
  --repeat N        runs of each fault (default 1)
  --vcpus N         vCPUs per VM, 2..8 (default 3)
  --transport T     actor transport: shared-memory (default) or postmessage
  --placement P     actor placement: worker-per-actor (default) or shared
  --guard-ms N      guard of every wait for an event, in ms (default 30000)
  --json            one JSON document on stdout instead of text
  --list            list the faults and exit
  -h, --help        this help

faults:
${faultList()}
`;

interface Run {
  fault: string;
  run: number;
  survived: boolean;
  child: ChildRun;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      repeat: { type: 'string' }, vcpus: { type: 'string' }, transport: { type: 'string' }, placement: { type: 'string' },
      'guard-ms': { type: 'string' }, json: { type: 'boolean' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.list) {
    process.stdout.write(`${faultList()}\n`);
    return 0;
  }
  const unknown = positionals.filter((n) => findFault(n) === undefined);
  if (unknown.length > 0) throw usageError(`unknown fault${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; the faults are:\n${faultList()}`);
  const names = positionals.length > 0 ? [...new Set(positionals)] : FAULTS.map((f) => f.name);
  const repeat = intFlag('repeat', values.repeat, 1, 10_000) ?? 1;
  const opts: FaultOptions = { vcpus: intFlag('vcpus', values.vcpus, 2, 8) ?? 3, guardMs: intFlag('guard-ms', values['guard-ms'], 100, 600_000) ?? 30_000 };
  if (values.transport !== undefined) {
    if (values.transport !== 'shared-memory' && values.transport !== 'postmessage') throw usageError(`--transport must be shared-memory or postmessage (got '${values.transport}')`);
    opts.actorTransport = values.transport;
  }
  if (values.placement !== undefined) {
    if (values.placement !== 'worker-per-actor' && values.placement !== 'shared') throw usageError(`--placement must be worker-per-actor or shared (got '${values.placement}')`);
    opts.actorPlacement = values.placement;
  }
  const json = values.json === true;
  const out = (s: string) => { if (!json) process.stdout.write(`${s}\n`); };
  const bar = progressBar(json);
  // A whole run: boot, the fault, every check's guard once, destroy; a hang past this is killed.
  const runGuardMs = 10 * opts.guardMs! + 60_000;

  out(`vgic-lab faults: ${names.length} fault${names.length === 1 ? '' : 's'} x ${repeat}, ${opts.vcpus} vCPUs` +
    `${opts.actorTransport ? `, ${opts.actorTransport}` : ''}${opts.actorPlacement ? `, ${opts.actorPlacement}` : ''}, each in a child process`);
  const runs: Run[] = [];
  const total = names.length * repeat;
  for (let r = 0; r < repeat; r++) {
    for (const name of names) {
      bar?.update(runs.length / total, `${name} (run ${r + 1}/${repeat})`);
      const child = await runFaultInChild(name, opts, runGuardMs, EXIT_GUARD_MS);
      runs.push({ fault: name, run: r + 1, survived: child.result?.ok === true && child.processExited, child });
    }
  }
  bar?.clear();
  const summary = names.map((fault) => {
    const rs = runs.filter((x) => x.fault === fault);
    return { fault, runs: rs.length, survived: rs.filter((x) => x.survived).length };
  });
  const survived = runs.filter((x) => x.survived).length;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'faults', options: { ...opts, repeat }, runs, summary: { faults: summary, runs: runs.length, survived } }, null, 2)}\n`);
  } else {
    out('');
    out(resultTable(names, runs));
    for (const x of runs.filter((y) => !y.survived)) out(`\n${failure(x)}`);
    out(`\n${survived} of ${runs.length} run${runs.length === 1 ? '' : 's'} survived` +
      (repeat > 1 ? ` (${summary.map((s) => `${s.fault} ${s.survived}/${s.runs}`).join(', ')})` : ''));
  }
  return survived === runs.length ? 0 : 1;
}

const yesNo = (rs: Run[], ok: (x: Run) => boolean): string => {
  const n = rs.filter(ok).length;
  return rs.length === 1 ? (n === 1 ? 'yes' : 'no') : `${n}/${rs.length}`;
};

/** A report short enough for a table cell: no repeated source, no recovery boilerplate. */
const short = (s: string): string => {
  const t = s.replace(/^([^:]+): \1 /, '$1 ').replace(' (recovered, EOWNERDEAD to the next owner)', ' (recovered)')
    .replace(/ \(vCPU \d+ runs guest code that never calls the guest API\)/, '').replace('; VMM: pause:', ':');
  return t.length > 72 ? `${t.slice(0, 71)}…` : t;
};

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);

/** One row per fault (runs of it aggregated: counts and the slowest figure). */
function resultTable(names: string[], runs: Run[]): string {
  const rows = names.map((fault) => {
    const rs = runs.filter((x) => x.fault === fault);
    const res = rs.map((x) => x.child.result).filter((x) => x !== undefined);
    const held = [...new Set(res.flatMap((x) => x.locksHeldAfter))];
    return [
      fault,
      res[0] !== undefined ? short(res[0].reportedAs) : 'no report',
      yesNo(rs, (x) => x.child.result?.othersReleased === true),
      held.length === 0 && res.length === rs.length ? 'none' : held.length === 0 ? '?' : held.join(', '),
      rs.length === 1 ? (res[0]?.destroyed ? `yes, ${ms(res[0].destroyMs)}` : 'no')
        : `${yesNo(rs, (x) => x.child.result?.destroyed === true)}, max ${ms(Math.max(0, ...res.map((x) => x.destroyMs)))}`,
      rs.length === 1 ? (rs[0]!.child.processExited ? `yes, ${ms(rs[0]!.child.exitMs ?? 0)}` : 'no')
        : `${yesNo(rs, (x) => x.child.processExited)}, max ${ms(Math.max(0, ...rs.map((x) => x.child.exitMs ?? 0)))}`,
      rs.length === 1 ? ms(res[0]?.durationMs ?? 0) : `max ${ms(Math.max(0, ...res.map((x) => x.durationMs)))}`,
      `${rs.filter((x) => x.survived).length}/${rs.length}`,
    ];
  });
  return table(['fault', 'reported as', 'others released', 'locks held after', 'destroy', 'process exited', 'duration', 'survived'], rows);
}

/** What went wrong in a run: its failed checks, the child's error, output or exit. */
function failure(x: Run): string {
  const c = x.child;
  const lines = [`FAIL  ${x.fault} (run ${x.run})`];
  for (const k of c.result?.checks.filter((y) => !y.ok) ?? []) lines.push(`      ${k.name}: ${k.detail}`);
  if (c.error !== undefined) lines.push(`      child: ${c.error}`);
  for (const u of c.unhandled) lines.push(`      ${u.split('\n')[0]}`);
  if (!c.processExited) lines.push(`      the process did not exit by itself with code 0 (exit code ${c.exitCode})`);
  if (c.stderr.trim() !== '') lines.push(`      stderr: ${c.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  return lines.join('\n');
}
