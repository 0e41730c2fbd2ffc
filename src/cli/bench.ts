/**
 * `vgic-lab bench [name...] [--json] [--quick]` (npm run bench): run the
 * benchmarks, each beside its baseline measured in the same run, and print a
 * table (or one JSON document). Names are benchmark names, group names or
 * globs; baselines of what is selected always run too. Missed targets do not
 * fail the command; a benchmark that crashes does (exit 1).
 */
import { allBenchmarks, renderText, runSuite, select, toJson, type BudgetName } from '../bench/index.js';

const USAGE = `usage: vgic-lab bench [name|group|glob ...] [options]

options:
  --json     print one JSON document (same figures, plus machine info) instead of the table
  --quick    a smaller budget: the whole suite in well under 30 s (fewer repetitions)
  --smoke    a tiny budget that only checks every benchmark runs (figures are meaningless)
  --list     list the benchmarks and exit
  -h, --help this help
`;

export async function run(argv: string[]): Promise<number> {
  let json = false, list = false;
  let budget: BudgetName = 'full';
  const names: string[] = [];
  for (const a of argv) {
    if (a === '--json') json = true;
    else if (a === '--quick') budget = 'quick';
    else if (a === '--smoke') budget = 'smoke';
    else if (a === '--list') list = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write(`vgic-lab bench: unknown option ${a}\n${USAGE}`);
      return 2;
    } else names.push(a);
  }
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
    budget,
    pulledIn: sel.pulledIn,
    ...(tty ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`) } : {}),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  process.stdout.write(json ? `${JSON.stringify(toJson(report), null, 2)}\n` : renderText(report));
  return report.figures.some((f) => f.error !== null) ? 1 : 0;
}
