/**
 * `vgic-lab soak [--minutes N | --seconds N] [--vcpus N] [--its N] [--interval-s N]
 * [--save-every-s N] [--migrate-every-s N] [--seed N] [--no-validator] [--json]`:
 * the long reliability run (src/reliability/soak.ts). A row of figures per
 * interval as it ends, then the totals; exit 1 if anything was lost,
 * delivered without cause, found by the validator, faulted, or if memory grew.
 */
import { parseArgs } from 'node:util';
import { runSoak, type SoakRow } from '../reliability/soak.js';
import { formatConservation } from '../reliability/conservation.js';
import { formatNumber } from './format.js';
import { progressBar } from './progress.js';
import { intFlag, usageError } from './stress-options.js';

const HELP = `usage: vgic-lab soak [options]

A long run of everything at once: an MSI storm on every ITS, guest command churn
(MOVI, collection moves, INV, MAPTI/INT/DISCARD), SAVE_TABLES attempts while running
(-EBUSY), pause/resume, save/restore in place and migrations, with the lock-order
validator on; a conservation check at every save. A row of figures per interval.

  --minutes N          length of the run (default 1)
  --seconds N          length in seconds instead (for short runs)
  --vcpus N            vCPUs (default 16)
  --its N              ITSs, one injector thread each (default 4)
  --interval-s N       seconds per row (default 60)
  --save-every-s N     seconds between in-place save/restores (default 10)
  --migrate-every-s N  seconds between migrations (default 30)
  --seed N             seed of the guest's churn and the VMM's choices (default 1)
  --no-validator       run without the lock-order validator
  --json               one JSON document on stdout instead of text
  -h, --help           this help

Exit code: 0 all clean, 1 something lost, phantom, found, faulted or grown, 2 bad usage.`;

const COLUMNS: [keyof SoakRow, string, number][] = [
  ['interval', '#', 3], ['atSeconds', 's', 5], ['msis', 'MSIs', 12], ['lpis', 'LPIs', 10], ['commandRounds', 'cmds', 7],
  ['saves', 'saves', 5], ['ebusy', 'EBUSY', 5], ['migrations', 'migr', 4], ['lost', 'lost', 4], ['phantom', 'phantom', 7],
  ['findings', 'findings', 8], ['faults', 'faults', 6], ['rssMiB', 'RSS MiB', 7],
];
const line = (cells: string[]) => cells.map((c, i) => c.padStart(COLUMNS[i]![2])).join('  ');

function positive(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 7 * 24 * 3600) throw usageError(`--${name} must be a positive number (got '${v}')`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' }, seconds: { type: 'string' }, vcpus: { type: 'string' }, its: { type: 'string' },
      'interval-s': { type: 'string' }, 'save-every-s': { type: 'string' }, 'migrate-every-s': { type: 'string' },
      seed: { type: 'string' }, 'no-validator': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.minutes !== undefined && values.seconds !== undefined) throw usageError('--minutes and --seconds are exclusive');
  const seconds = values.seconds !== undefined ? positive('seconds', values.seconds, 60) : 60 * positive('minutes', values.minutes, 1);
  const interval = positive('interval-s', values['interval-s'], Math.min(60, seconds));
  const options = {
    seconds, intervalSeconds: interval,
    saveEverySeconds: positive('save-every-s', values['save-every-s'], 10),
    migrateEverySeconds: positive('migrate-every-s', values['migrate-every-s'], 30),
    vcpus: intFlag('vcpus', values.vcpus, 2, 64) ?? 16,
    its: intFlag('its', values.its, 1, 4) ?? 4,
    seed: intFlag('seed', values.seed, 0, 2 ** 32 - 1) ?? 1,
    validator: !values['no-validator'],
  };
  const bar = progressBar(values.json);
  const out = (s: string) => {
    bar?.clear();
    process.stdout.write(`${s}\n`);
  };
  if (!values.json) {
    out(`soak: ${options.vcpus} vCPUs, ${options.its} ITSs, ${seconds} s, validator ${options.validator ? 'on' : 'off'}, seed ${options.seed}`);
    out(line(COLUMNS.map((c) => c[1])));
  }
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const r = await runSoak({
    ...options,
    signal: abort.signal,
    onRow: (row) => !values.json && out(line(COLUMNS.map(([k]) => formatNumber(row[k])))),
    ...(bar ? { onProgress: (f: number, label: string) => bar.update(f, label) } : {}),
  }).finally(() => process.off('SIGINT', onSigint));
  bar?.clear();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    const t = r.totals;
    out(`totals: ${formatNumber(t.msis)} MSIs, ${formatNumber(t.lpis)} LPIs delivered, ${formatNumber(t.commandRounds)} command rounds, ` +
      `${t.saves} saves, ${t.ebusy}/${t.saveAttempts} SAVE_TABLES -EBUSY while running, ${t.pauses} pauses, ${t.migrations} migrations`);
    out(`conservation: ${formatConservation(r.conservation)}`);
    out(`validator findings ${t.findings}, faults ${t.faults}; RSS ${r.memory.firstMiB} -> ${r.memory.lastMiB} MiB ` +
      `(${r.memory.growthMiB >= 0 ? '+' : ''}${r.memory.growthMiB} MiB, ${!r.memory.judged ? 'too short to judge' : r.memory.flat ? 'flat' : 'GROWING'})`);
    for (const e of r.errors) out(`error: ${e}`);
    out(r.ok ? 'soak: ok' : 'soak: FAILED');
  }
  return r.ok ? 0 : 1;
}
