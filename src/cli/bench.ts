/**
 * `vgic-lab bench [name...] [--json] [--quick]` (npm run bench): run the
 * benchmarks, each beside its baseline measured in the same run, and print a
 * table (or one JSON document). Names are benchmark names, group names or
 * globs; baselines of what is selected always run too. Missed targets do not
 * fail the command; a benchmark that crashes does (exit 1).
 *
 * `vgic-lab bench --compare old.json new.json` compares two --json outputs
 * instead (src/bench/compare.ts): exit 0, 1 with --fail-on-regression when a
 * figure got slower, 2 for usage errors and unreadable files.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { usageError } from './stress-options.js';
import {
  allBenchmarks, compareDocs, DEFAULT_MIN_CHANGE, compareToJson, parseDoc, renderCompareText, renderText, runSuite, select, toJson,
  type BenchDoc, type BudgetName,
} from '../bench/index.js';

const USAGE = `usage: vgic-lab bench [name|group|glob ...] [options]
       vgic-lab bench --compare old.json new.json [--json] [--fail-on-regression] [--min-change PCT]

options:
  --json     print one JSON document (same figures, plus machine info) instead of the table
  --quick    a smaller budget: the whole suite in well under 30 s (fewer repetitions)
  --smoke    a tiny budget that only checks every benchmark runs (figures are meaningless)
  --list     list the benchmarks and exit
  -h, --help this help

  --compare old.json new.json
             compare two --json outputs: per figure old and new median, change, and a
             verdict (faster / slower / same (within noise)); figures with a baseline in
             both runs are judged by their ratio to it, which cancels machine drift
  --fail-on-regression
             with --compare: exit 1 if any figure is slower
  --min-change PCT
             with --compare: smallest change that counts, in percent (default 5)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals: names } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, quick: { type: 'boolean' }, smoke: { type: 'boolean' }, list: { type: 'boolean' },
      compare: { type: 'boolean' }, 'fail-on-regression': { type: 'boolean' }, 'min-change': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const json = values.json === true, list = values.list === true, compare = values.compare === true;
  const failOnRegression = values['fail-on-regression'] === true;
  const budget: BudgetName | null = values.smoke ? 'smoke' : values.quick ? 'quick' : null;
  let minChange: number | null = null;
  const v = values['min-change'];
  if (v !== undefined) {
    const pct = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(pct) || pct < 0) throw usageError(`--min-change takes a percentage >= 0, not ${v}\n${USAGE}`);
    minChange = pct / 100;
  }
  if (compare) {
    if (names.length !== 2 || list || budget !== null) {
      throw usageError(`--compare takes exactly two files (old.json new.json) and no --list/--quick/--smoke\n${USAGE}`);
    }
    return runCompare(names[0]!, names[1]!, { json, failOnRegression, minChange: minChange ?? DEFAULT_MIN_CHANGE });
  }
  if (failOnRegression || minChange !== null) throw usageError(`--fail-on-regression and --min-change go with --compare\n${USAGE}`);
  const all = allBenchmarks();
  if (list) {
    const w = Math.max(...all.map((b) => b.name.length));
    for (const b of all) process.stdout.write(`${b.name.padEnd(w)}  ${b.title}${b.baseline ? ` [vs ${b.baseline}]` : ''}\n`);
    return 0;
  }
  const sel = select(names, all);
  if (sel.unknown.length > 0) {
    process.stderr.write(`vgic-lab bench: no benchmark matches ${sel.unknown.join(', ')} (see vgic-lab bench --list)\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  const report = await runSuite(sel.benchmarks, {
    budget: budget ?? 'full',
    pulledIn: sel.pulledIn,
    ...(tty ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`) } : {}),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  process.stdout.write(json ? `${JSON.stringify(toJson(report), null, 2)}\n` : renderText(report));
  return report.figures.some((f) => f.error !== null) ? 1 : 0;
}

async function runCompare(
  oldFile: string, newFile: string, o: { json: boolean; failOnRegression: boolean; minChange: number },
): Promise<number> {
  const docs: BenchDoc[] = [];
  for (const file of [oldFile, newFile]) {
    try {
      docs.push(parseDoc(await readFile(file, 'utf8')));
    } catch (e) {
      process.stderr.write(`vgic-lab bench --compare: cannot read ${file}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const r = compareDocs(docs[0]!, docs[1]!, { files: { old: oldFile, new: newFile }, minChange: o.minChange });
  process.stdout.write(o.json ? `${JSON.stringify(compareToJson(r), null, 2)}\n` : renderCompareText(r));
  return o.failOnRegression && r.summary.slower > 0 ? 1 : 0;
}
