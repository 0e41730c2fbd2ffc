/**
 * `vgic-lab curves [name...] [--quick] [--json] [--out DIR]` (npm run curves):
 * scaling curves: lpi-stress LPIs/s vs vCPUs and vs ITSs, inject -> ack
 * latency vs vCPUs, pause-all latency vs vCPUs, save/restore time per ITE vs
 * table size, RSS vs vCPUs; each point beside its baseline measured in the
 * same run. Writes one SVG chart per curve and curves.json to DIR (default
 * ./bench-curves/), prints a table (or the JSON document with --json).
 * Exit 1 if a point failed.
 */
import { CURVES, failures, renderText, runCurves, selectCurves, toJson, writeCurves } from '../bench/curves/index.js';
import type { BudgetName } from '../bench/types.js';
import { parseArgs } from 'node:util';
import { usageError } from './stress-options.js';

const USAGE = `usage: vgic-lab curves [curve|glob ...] [options]

curves: ${CURVES.map((c) => c.name).join(', ')} (default: all)

options:
  --out DIR  where to write <curve>.svg and curves.json (default ./bench-curves)
  --json     print the JSON document (every point) instead of the table
  --quick    a smaller budget: about a minute in all (up to 8 vCPUs, 64K ITEs, fewer repetitions)
  --smoke    a tiny budget that only checks the command runs (points are meaningless)
  --list     list the curves and exit
  -h, --help this help

RSS readings follow a gc() when node runs with --expose-gc (npm run curves does).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals: names } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      out: { type: 'string' }, json: { type: 'boolean' }, quick: { type: 'boolean' }, smoke: { type: 'boolean' },
      list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.out === '') throw usageError(`--out needs a directory\n${USAGE}`);
  const json = values.json === true, list = values.list === true, out = values.out ?? 'bench-curves';
  const budget: BudgetName = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  if (list) {
    const w = Math.max(...CURVES.map((c) => c.name.length));
    for (const c of CURVES) process.stdout.write(`${c.name.padEnd(w)}  ${c.title}\n`);
    return 0;
  }
  const sel = selectCurves(names);
  if (sel.unknown.length > 0) {
    process.stderr.write(`vgic-lab curves: no curve matches ${sel.unknown.join(', ')} (see vgic-lab curves --list)\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  const report = await runCurves(sel.curves, {
    budget,
    ...(tty ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`) } : {}),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const files = await writeCurves(report, out);
  process.stdout.write(json ? `${JSON.stringify(toJson(report, files), null, 2)}\n` : renderText(report, files));
  return failures(report).length > 0 ? 1 : 0;
}
