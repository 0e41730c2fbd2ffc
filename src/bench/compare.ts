/**
 * Comparing two `vgic-lab bench --json` documents (`vgic-lab bench --compare
 * old.json new.json`): per figure, the old and new medians, the change, and a
 * noise-aware verdict. Every unit is a time per operation: lower is better.
 *
 * The rule. Each side of a figure is a median with a noise band, its p5 … p95
 * (min … max, or the bare median, in documents that lack them). A change
 * counts only when both runs agree it is one: the new median lies outside the
 * old run's band AND the old median outside the new run's, and it is at
 * least `minChange` (default 5%). Anything else is 'same (within noise)', as
 * is a side with fewer than 3 repetitions (no noise estimate). The floor is
 * there because a band only holds the noise within one process: JIT
 * decisions and memory placement differ between two processes by a few
 * percent on the micro figures, which no single run can show.
 *
 * Ratio to baseline. When a figure has the same baseline in both runs (the
 * baseline always runs beside it, sampled in the same interleaved rounds),
 * the verdict compares the figure's ratio to that baseline instead of its
 * raw median: a machine that is faster or slower as a whole between the two
 * runs (another tenant, another host, thermal state) moves both and cancels
 * out. The band of a ratio is the p5 … p95 of the per-round ratios (the
 * figure's round median over its baseline's in the same round) when both
 * documents carry per-round medians (`rounds`), otherwise the figure's band
 * divided by its baseline's median.
 */
import { fmtValue } from './report.js';
import { fmtRatio } from './runner.js';
import { quantile } from './stats.js';

export const COMPARE_SCHEMA = 'vgic-lab-bench-compare/1';

export const DEFAULT_MIN_CHANGE = 0.05;

export function rule(minChange: number): string {
  return 'lower is better; a change counts only when the new median lies outside the old run\'s p5 … p95 ' +
  `and the old median outside the new run's, and it is at least ${+(minChange * 100).toFixed(2)}% ` +
  '(fewer than 3 repetitions: no verdict). A figure that has the same baseline ' +
  'in both runs is judged by its ratio to that baseline (median / baseline median, same run; band from the per-round ratios), ' +
  'which cancels drift of the machine between the runs.';
}

/** Fewer repetitions (or rounds) than this on either side: no noise estimate, no verdict. */
const MIN_REPS = 3;

/** What a comparison reads of one figure of a --json document; everything but the name may be missing in older documents. */
export interface DocFigure {
  name: string;
  unit?: string;
  median?: number | null;
  p5?: number | null;
  p95?: number | null;
  min?: number | null;
  max?: number | null;
  reps?: number;
  /** Per-round medians (documents written after `rounds` was added). */
  rounds?: (number | null)[];
  baseline?: string | null;
  error?: string | null;
}

export interface BenchDoc {
  schema?: string;
  budget?: string;
  startedAt?: string;
  machine?: { node?: string; cpus?: number; cpuModel?: string; loadavg?: { start?: number; end?: number } };
  figures: DocFigure[];
}

/** Parse a --json document; throws an Error saying what is wrong. */
export function parseDoc(text: string): BenchDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  const d = doc as Partial<BenchDoc> | null;
  if (d === null || typeof d !== 'object' || !Array.isArray(d.figures)) throw new Error('not a vgic-lab bench --json document (no figures array)');
  if (d.schema !== undefined && !String(d.schema).startsWith('vgic-lab-bench/')) throw new Error(`unexpected schema ${JSON.stringify(d.schema)}`);
  for (const f of d.figures) {
    if (f === null || typeof f !== 'object' || typeof f.name !== 'string') throw new Error('a figure without a name');
  }
  return d as BenchDoc;
}

export type Verdict = 'faster' | 'slower' | 'same' | 'only-old' | 'only-new' | 'failed' | 'incomparable';

export interface DocInfo {
  file: string;
  budget: string | null;
  startedAt: string | null;
  node: string | null;
  cpuModel: string | null;
  cpus: number | null;
  load: number | null;
}

export interface FigureDelta {
  name: string;
  unit: string | null;
  /** Medians; null when the figure is missing or failed on that side. */
  old: number | null;
  new: number | null;
  /** new / old - 1 of the medians. */
  change: number | null;
  /** What the verdict compared: ratios to `against`, or the medians themselves. */
  basis: 'ratio' | 'median' | null;
  against: string | null;
  /** Ratio bands from per-round pairs (both documents carry rounds). */
  paired: boolean;
  oldRatio: number | null;
  newRatio: number | null;
  ratioChange: number | null;
  /** The bands the verdict used (in the basis' unit), old and new. */
  oldBand: [number, number] | null;
  newBand: [number, number] | null;
  verdict: Verdict;
  note: string | null;
}

export interface CompareResult {
  /** The floor a change must reach (fraction). */
  minChange: number;
  old: DocInfo;
  new: DocInfo;
  warnings: string[];
  figures: FigureDelta[];
  summary: Record<Verdict, number>;
}

/** A median with its noise band and how many repetitions it rests on. */
interface Estimate { median: number; low: number; high: number; reps: number | null }

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function usable(f: DocFigure | undefined): f is DocFigure & { median: number } {
  return f !== undefined && (f.error ?? null) === null && finite(f.median);
}

function band(f: DocFigure & { median: number }): [number, number] {
  if (finite(f.p5) && finite(f.p95)) return [f.p5, f.p95];
  if (finite(f.min) && finite(f.max)) return [f.min, f.max];
  return [f.median, f.median];
}

function absolute(f: DocFigure & { median: number }): Estimate {
  const [low, high] = band(f);
  return { median: f.median, low, high, reps: f.reps ?? null };
}

/** A figure and its baseline carry per-round medians that pair up. */
function pairable(f: DocFigure, base: DocFigure): boolean {
  const fr = f.rounds, br = base.rounds;
  return Array.isArray(fr) && Array.isArray(br) && fr.length === br.length && fr.length > 0 &&
    fr.every(finite) && br.every((v) => finite(v) && v > 0);
}

/**
 * The figure's ratio to its baseline: median / baseline median, banded by
 * the p5 … p95 of the per-round ratios (paired), or by the figure's own band
 * over the baseline median.
 */
function ratio(f: DocFigure & { median: number }, base: DocFigure & { median: number }, paired: boolean): Estimate {
  const median = f.median / base.median;
  if (paired) {
    const rs = f.rounds!.map((v, i) => (v as number) / (base.rounds![i] as number)).sort((a, b) => a - b);
    return { median, low: quantile(rs, 0.05), high: quantile(rs, 0.95), reps: rs.length };
  }
  const [low, high] = band(f);
  return { median, low: low / base.median, high: high / base.median, reps: f.reps ?? null };
}

/** Both runs must agree (each median outside the other's band), and the change must reach the floor. */
function judge(o: Estimate, n: Estimate, minChange: number): 'faster' | 'slower' | 'same' {
  const change = n.median / o.median - 1;
  if (n.median < o.low && o.median > n.high && -change >= minChange) return 'faster';
  if (n.median > o.high && o.median < n.low && change >= minChange) return 'slower';
  return 'same';
}

function info(file: string, d: BenchDoc): DocInfo {
  return {
    file,
    budget: d.budget ?? null,
    startedAt: d.startedAt ?? null,
    node: d.machine?.node ?? null,
    cpuModel: d.machine?.cpuModel ?? null,
    cpus: d.machine?.cpus ?? null,
    load: d.machine?.loadavg?.start ?? null,
  };
}

function compareFigure(name: string, oldDoc: Map<string, DocFigure>, newDoc: Map<string, DocFigure>, minChange: number): FigureDelta {
  const o = oldDoc.get(name), n = newDoc.get(name);
  const d: FigureDelta = {
    name, unit: n?.unit ?? o?.unit ?? null,
    old: usable(o) ? o.median : null, new: usable(n) ? n.median : null, change: null,
    basis: null, against: null, paired: false, oldRatio: null, newRatio: null, ratioChange: null,
    oldBand: null, newBand: null, verdict: 'same', note: null,
  };
  if (o === undefined || n === undefined) {
    d.verdict = o === undefined ? 'only-new' : 'only-old';
    return d;
  }
  if (!usable(o) || !usable(n)) {
    d.verdict = 'failed';
    d.note = `failed in the ${!usable(o) && !usable(n) ? 'old and new runs' : !usable(o) ? 'old run' : 'new run'}`;
    return d;
  }
  if (o.unit !== undefined && n.unit !== undefined && o.unit !== n.unit) {
    d.verdict = 'incomparable';
    d.note = `unit changed: ${o.unit} -> ${n.unit}`;
    return d;
  }
  if (o.median !== 0) d.change = n.median / o.median - 1;
  let oe: Estimate, ne: Estimate;
  const against = o.baseline ?? null;
  const ob = against !== null ? oldDoc.get(against) : undefined, nb = against !== null ? newDoc.get(against) : undefined;
  if (against !== null && (n.baseline ?? null) === against && usable(ob) && usable(nb) && ob.median > 0 && nb.median > 0) {
    // Both sides banded the same way: paired only when both documents pair.
    d.paired = pairable(o, ob) && pairable(n, nb);
    oe = ratio(o, ob, d.paired);
    ne = ratio(n, nb, d.paired);
    d.basis = 'ratio';
    d.against = against;
    d.oldRatio = oe.median;
    d.newRatio = ne.median;
    d.ratioChange = ne.median / oe.median - 1;
  } else {
    oe = absolute(o);
    ne = absolute(n);
    d.basis = 'median';
  }
  d.oldBand = [oe.low, oe.high];
  d.newBand = [ne.low, ne.high];
  const few = [oe.reps, ne.reps].some((r) => r !== null && r < MIN_REPS);
  if (few) {
    d.verdict = 'same';
    d.note = `fewer than ${MIN_REPS} ${d.paired ? 'rounds' : 'repetitions'}: no noise estimate`;
  } else {
    d.verdict = judge(oe, ne, minChange);
  }
  return d;
}

export interface CompareOptions {
  /** File names for the report. */
  files?: { old: string; new: string };
  /** Smallest change that counts, as a fraction (default DEFAULT_MIN_CHANGE). */
  minChange?: number;
}

export function compareDocs(oldDoc: BenchDoc, newDoc: BenchDoc, opts: CompareOptions = {}): CompareResult {
  const files = opts.files ?? { old: 'old', new: 'new' };
  const minChange = opts.minChange ?? DEFAULT_MIN_CHANGE;
  const om = new Map(oldDoc.figures.map((f) => [f.name, f]));
  const nm = new Map(newDoc.figures.map((f) => [f.name, f]));
  const names = [...new Set([...newDoc.figures.map((f) => f.name), ...oldDoc.figures.map((f) => f.name)])];
  const figures = names.map((name) => compareFigure(name, om, nm, minChange));
  const summary: Record<Verdict, number> = { faster: 0, slower: 0, same: 0, 'only-old': 0, 'only-new': 0, failed: 0, incomparable: 0 };
  for (const f of figures) summary[f.verdict]++;
  const oi = info(files.old, oldDoc), ni = info(files.new, newDoc);
  const warnings: string[] = [];
  if (oi.budget !== ni.budget) warnings.push(`budgets differ (${oi.budget} vs ${ni.budget}): repetition counts and batch sizes differ too`);
  if (oi.cpuModel !== ni.cpuModel || oi.cpus !== ni.cpus) {
    warnings.push(`machines differ (${oi.cpus} x ${oi.cpuModel} vs ${ni.cpus} x ${ni.cpuModel}): trust the ratio-based verdicts only`);
  }
  if (oi.node !== ni.node) warnings.push(`Node versions differ (${oi.node} vs ${ni.node})`);
  const ratioFigs = figures.filter((f) => f.basis === 'ratio');
  if (ratioFigs.some((f) => !f.paired)) {
    warnings.push('a document lacks per-round medians (written before they were added): ratio bands are the figure\'s band over its baseline\'s median, not per-round pairs');
  }
  return { minChange, old: oi, new: ni, warnings, figures, summary };
}

const VERDICT_TEXT: Record<Verdict, string> = {
  faster: 'faster',
  slower: 'slower',
  same: 'same (within noise)',
  'only-old': 'only in old',
  'only-new': 'only in new',
  failed: 'failed',
  incomparable: 'incomparable',
};

function pct(x: number | null): string {
  if (x === null) return '—';
  const p = x * 100;
  const s = Math.abs(p) >= 10 ? p.toFixed(0) : p.toFixed(1);
  return `${p > 0 ? '+' : p < 0 ? '' : '±'}${s}%`;
}

function docLine(label: string, i: DocInfo): string {
  const parts = [i.file, i.budget !== null ? `${i.budget} budget` : null, i.startedAt, i.node !== null ? `node ${i.node}` : null,
    i.cpus !== null ? `${i.cpus} cpus (${i.cpuModel ?? '?'})` : null, i.load !== null ? `load ${i.load.toFixed(2)}` : null];
  return `${label}: ${parts.filter((p) => p !== null).join(' · ')}`;
}

export function renderCompareText(r: CompareResult): string {
  const out: string[] = [];
  out.push('vgic-lab bench --compare');
  out.push(docLine('old', r.old));
  out.push(docLine('new', r.new));
  out.push('');
  out.push(`rule: ${rule(r.minChange)}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  out.push('');
  const headers = ['benchmark', 'old median', 'new median', 'change', 'ratio to baseline, old -> new', 'verdict'];
  const rows = r.figures.map((f) => {
    const unit = f.unit !== null ? ` ${f.unit}` : '';
    const ratioCell = f.basis === 'ratio'
      ? `${fmtRatio(f.oldRatio!)} -> ${fmtRatio(f.newRatio!)} (${pct(f.ratioChange)}) vs ${f.against}`
      : '';
    const verdict = VERDICT_TEXT[f.verdict] + (f.basis === 'ratio' && (f.verdict === 'faster' || f.verdict === 'slower') ? ' (by ratio)' : '') +
      (f.note !== null ? `; ${f.note}` : '');
    return [f.name, f.old !== null ? `${fmtValue(f.old)}${unit}` : '—', f.new !== null ? `${fmtValue(f.new)}${unit}` : '—',
      pct(f.change), ratioCell, verdict];
  });
  const right = [false, true, true, true, false, false];
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out.push(line(headers));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out.push(line(row));
  out.push('');
  const s = r.summary;
  out.push(`${s.faster} faster, ${s.slower} slower, ${s.same} same (within noise)` +
    (s['only-old'] + s['only-new'] > 0 ? `, ${s['only-old']} only in old, ${s['only-new']} only in new` : '') +
    (s.failed > 0 ? `, ${s.failed} failed` : '') + (s.incomparable > 0 ? `, ${s.incomparable} incomparable` : '') +
    ` · ${r.figures.filter((f) => f.basis === 'ratio').length} judged by ratio to their baseline`);
  return `${out.join('\n')}\n`;
}

function sig(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toPrecision(4));
}

export function compareToJson(r: CompareResult): unknown {
  return {
    schema: COMPARE_SCHEMA,
    rule: rule(r.minChange),
    minChange: r.minChange,
    old: r.old,
    new: r.new,
    warnings: r.warnings,
    figures: r.figures.map((f) => ({
      ...f,
      old: sig(f.old), new: sig(f.new), change: sig(f.change),
      oldRatio: sig(f.oldRatio), newRatio: sig(f.newRatio), ratioChange: sig(f.ratioChange),
      oldBand: f.oldBand?.map(sig) ?? null, newBand: f.newBand?.map(sig) ?? null,
    })),
    summary: r.summary,
  };
}
