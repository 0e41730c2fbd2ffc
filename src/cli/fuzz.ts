/**
 * `vgic-lab fuzz` (npm run fuzz): the fuzzers of src/reliability/fuzz
 * against real VMs, for a time budget (--minutes, shared by the targets) or
 * a number of cases per target (--runs). Prints each failure with its
 * (shrunk) case and the command that replays it, then a summary table, or
 * one JSON document with --json. Exit 0 when no property failed, 1
 * otherwise, 2 for usage errors.
 */
import { parseArgs } from 'node:util';
import { FUZZ_TARGETS, type FuzzTargetName } from '../reliability/fuzz/types.js';
import { runFuzz, type FuzzReport } from '../reliability/fuzz/runner.js';
import { table } from './format.js';
import { progressBar } from './progress.js';
import { intFlag, randomSeed, usageError } from './stress-options.js';

const USAGE = `usage: vgic-lab fuzz [options]

Fuzzes the ITS model on live VMs and checks spec properties:
  commands   random ITS command streams (valid and malformed) from a guest, MSIs meanwhile;
             conservation, CREADR/CWRITER, SAVE_TABLES, translations, no lost LPI
  tables     generated and mutated table images fed to RESTORE_TABLES; errnos, all or nothing,
             a reference restore, save/restore round trips
  registers  guest MMIO and userspace register/attribute calls; errnos, read-back rules

options:
  --target T        commands, tables, registers or all (default all)
  --minutes N       time budget of the whole run, shared by the targets (default 1)
  --runs N          cases per target instead of a time budget
  --seed S          seed (default: random, printed)
  --replay SEED:PATH  rerun the case a failure printed (needs one --target)
  --self-test       break each target's checks on purpose (see its source): the run must fail
  --json            one JSON document on stdout instead of text
  -h, --help        this help
`;

function parseReplay(v: string | undefined): { seed: number; path: string } | undefined {
  if (v === undefined) return undefined;
  const m = /^(-?\d+):(\d+(?::\d+)*)$/.exec(v);
  if (m === null || !Number.isSafeInteger(Number(m[1]))) throw usageError(`--replay must be SEED:PATH as a failure printed it, e.g. 1234:5:0:2 (got '${v}')`);
  return { seed: Number(m[1]), path: m[2]! };
}

function minutesFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 10_080) throw usageError(`--minutes must be a number in (0, 10080] (got '${v}')`);
  return n;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' }, minutes: { type: 'string' }, runs: { type: 'string' }, seed: { type: 'string' },
      replay: { type: 'string' }, 'self-test': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const target = values.target ?? 'all';
  if (target !== 'all' && !FUZZ_TARGETS.includes(target as FuzzTargetName)) {
    throw usageError(`--target must be ${FUZZ_TARGETS.join(', ')} or all (got '${target}')`);
  }
  const targets = target === 'all' ? [...FUZZ_TARGETS] : [target as FuzzTargetName];
  const replay = parseReplay(values.replay);
  if (replay !== undefined && targets.length !== 1) throw usageError('--replay needs a single --target (the one whose failure printed it)');
  if (values.minutes !== undefined && values.runs !== undefined) throw usageError('--minutes and --runs exclude each other');
  const runs = intFlag('runs', values.runs, 1, 10_000_000);
  const minutes = minutesFlag(values.minutes) ?? 1;
  const seed = replay?.seed ?? intFlag('seed', values.seed, 0, 0xffff_ffff) ?? randomSeed();
  const json = values.json === true;
  const sabotage = values['self-test'] === true;
  const out = (s = '') => { if (!json) process.stdout.write(`${s}\n`); };
  const bar = progressBar(json);

  out(replay !== undefined
    ? `vgic-lab fuzz: replaying ${targets[0]} ${replay.seed}:${replay.path}`
    : `vgic-lab fuzz: ${targets.join(', ')}; seed ${seed}; ${runs !== undefined ? `${runs} cases per target` : `${minutes} minute${minutes === 1 ? '' : 's'}${targets.length > 1 ? ` (${seconds(minutes * 60_000 / targets.length)} per target)` : ''}`}`);
  const reports: FuzzReport[] = [];
  for (const [i, t] of targets.entries()) {
    const r = await runFuzz({
      target: t, seed, sabotage,
      ...(replay !== undefined ? { replay } : runs !== undefined ? { runs } : { minutes: minutes / targets.length }),
      ...(bar ? { onProgress: (p) => bar.update((i + p.fraction) / targets.length, `${t}: ${p.cases} cases, ${p.failures} failed`) } : {}),
    });
    bar?.clear();
    reports.push(r);
    for (const f of r.failures) {
      out(`FAIL  ${t}: ${f.message}`);
      if (f.counterexample !== '') out(`      case: ${f.counterexample.length > 600 ? `${f.counterexample.slice(0, 600)}...` : f.counterexample}`);
      if (f.path !== '') out(`      replay: vgic-lab fuzz --target ${t} --replay ${f.seed}:${f.path}${sabotage ? ' --self-test' : ''}`);
    }
  }
  const failures = reports.reduce((n, r) => n + r.failures.length, 0);
  if (json) {
    const summary = { cases: reports.reduce((n, r) => n + r.cases, 0), failures };
    process.stdout.write(`${JSON.stringify({ command: 'fuzz', seed, ...(replay ? { replay } : {}), ...(sabotage ? { selfTest: true } : {}), targets: reports, summary }, null, 2)}\n`);
  } else {
    out('');
    out(table(['target', 'cases', 'failures', 'duration'], reports.map((r) => [r.target, r.cases, r.failures.length, seconds(r.durationMs)])));
  }
  return failures === 0 ? 0 : 1;
}
