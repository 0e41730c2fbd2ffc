/** Rendering a Report: an aligned text table (default) or one JSON document (--json). */
import { fmtRatio, type Figure, type Report, type TargetResult } from './runner.js';

export const JSON_SCHEMA = 'vgic-lab-bench/1';

/** A figure value with ~3 significant digits. */
export function fmtValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function verdict(t: TargetResult): string {
  return t.met === null ? 'unknown' : t.met ? 'met' : 'NOT MET';
}

interface Row { cells: string[] }

/** A target as printed next to the ratio it constrains (the figure it compares with is on the same line). */
function shortTarget(t: TargetResult, unit: string): string {
  const parts: string[] = [];
  if (t.maxRatio !== null) parts.push(t.maxRatio >= 1 ? `<= ${fmtRatio(t.maxRatio)}` : `>= ${fmtRatio(1 / t.maxRatio)} faster`);
  if (t.maxMedian !== null) parts.push(`median <= ${fmtValue(t.maxMedian)} ${unit}`);
  return parts.join(', ');
}

function figureRows(f: Figure, referenced: Set<string>): Row[] {
  const s = f.summary;
  const name = f.bench.name + (f.pulledIn ? ' *' : '');
  const stats = s === null
    ? ['FAILED', '', '', '']
    : [`${fmtValue(s.median)} ${f.bench.unit}`, `${fmtValue(s.p5)} … ${fmtValue(s.p95)}`, `${fmtValue(s.min)} … ${fmtValue(s.max)}`, String(s.reps)];
  const lines: { against: string; ratio: number | null }[] = [
    ...(f.baseline !== null ? [{ against: f.baseline, ratio: f.ratio }] : []),
    ...f.comparisons,
  ];
  const targetText = (against: string | null) => f.targets
    .filter((t) => t.against === against || (t.against === null && against === (lines[0]?.against ?? null)))
    .map((t) => `target ${shortTarget(t, f.bench.unit)}: ${verdict(t)}`);
  if (lines.length === 0) {
    const note = referenced.has(f.bench.name) ? ['(baseline)'] : [];
    return [{ cells: [name, ...stats, '', [...note, ...targetText(null)].join(' · ')] }];
  }
  return lines.map((l, i) => {
    const ratio = l.ratio === null ? '—' : fmtRatio(l.ratio);
    const faster = l.ratio !== null && l.ratio < 1 ? ` (${fmtRatio(1 / l.ratio)} faster)` : '';
    const vs = [`vs ${l.against}${faster}`, ...targetText(l.against)].join(' · ');
    return { cells: i === 0 ? [name, ...stats, ratio, vs] : ['', '', '', '', '', ratio, vs] };
  });
}

function render(headers: string[], rows: Row[], right: boolean[], groupStarts: Set<number>): string {
  const all = [headers, ...rows.map((r) => r.cells)];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(headers), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    if (groupStarts.has(i) && i > 0) out.push('');
    out.push(line(r.cells));
  });
  return out.join('\n');
}

/** The report as the table `vgic-lab bench` prints: each figure beside its baseline, ratios, targets met or not. */
export function renderText(report: Report): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(`vgic-lab bench · ${report.budget} budget · node ${m.node} · ${m.os} ${m.arch} · ${m.cpus} cpus (${m.cpuModel}) · load ${m.loadavg.start.toFixed(2)}`);
  out.push('median over repetitions (the figures of a group sampled in interleaved rounds); spread p5 … p95 and min … max;');
  out.push('ratio = median / median of the other figure, both measured in this run');
  out.push('');
  const referenced = new Set(report.figures.flatMap((f) => [f.baseline, ...f.comparisons.map((c) => c.against)]).filter((n): n is string => n !== null));
  const rows: Row[] = [];
  const groupStarts = new Set<number>();
  let group = '';
  for (const f of report.figures) {
    if (f.bench.group !== group) {
      group = f.bench.group;
      groupStarts.add(rows.length);
    }
    rows.push(...figureRows(f, referenced));
  }
  out.push(render(['benchmark', 'median', 'p5 … p95', 'min … max', 'reps', 'ratio', 'against · target'], rows,
    [false, true, true, true, true, true, false], groupStarts));
  if (report.figures.some((f) => f.pulledIn)) out.push('* not selected; run because a selected figure is compared with it');
  out.push('');
  out.push('what each figure measures:');
  const w = Math.max(...report.figures.map((f) => f.bench.name.length));
  for (const f of report.figures) {
    out.push(`  ${f.bench.name.padEnd(w)}  ${f.bench.title}${f.rep !== null ? `; one repetition = ${f.rep}` : ''}`);
  }
  const targets = report.figures.flatMap((f) => f.targets);
  const met = targets.filter((t) => t.met === true).length;
  const failed = report.figures.filter((f) => f.error !== null);
  out.push('');
  out.push(`targets: ${met} of ${targets.length} met${targets.length > met ? ` (${targets.length - met} not met or unknown; noisy machines miss targets, the run still succeeds)` : ''}` +
    ` · ${report.figures.length} figures in ${(report.durationMs / 1000).toFixed(1)} s`);
  for (const f of failed) {
    out.push('');
    out.push(`${f.bench.name} FAILED:`);
    out.push(f.error!.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  return `${out.join('\n')}\n`;
}

/** Figures keep 4 significant digits in JSON (more is timer noise). */
function sig(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(4));
}

/** The report as the JSON document `vgic-lab bench --json` prints (schema 'vgic-lab-bench/1'; `bench --compare` reads it). */
export function toJson(report: Report): unknown {
  const targets = report.figures.flatMap((f) => f.targets);
  return {
    schema: JSON_SCHEMA,
    budget: report.budget,
    startedAt: report.startedAt,
    durationMs: Math.round(report.durationMs),
    machine: report.machine,
    figures: report.figures.map((f) => ({
      name: f.bench.name,
      group: f.bench.group,
      title: f.bench.title,
      unit: f.bench.unit,
      median: sig(f.summary?.median),
      p5: sig(f.summary?.p5),
      p95: sig(f.summary?.p95),
      min: sig(f.summary?.min),
      max: sig(f.summary?.max),
      mean: sig(f.summary?.mean),
      reps: f.summary?.reps ?? 0,
      // Median of each round (round order), so a comparison can pair a figure with its baseline round by round.
      // Added after the first documents: readers treat it as optional.
      rounds: f.roundMedians.map((v) => sig(v)),
      rep: f.rep,
      baseline: f.baseline,
      ratio: sig(f.ratio),
      comparisons: f.comparisons.map((c) => ({ against: c.against, ratio: sig(c.ratio) })),
      targets: f.targets.map((t) => ({ ...t, ratio: sig(t.ratio) })),
      pulledIn: f.pulledIn,
      error: f.error,
      durationMs: Math.round(f.durationMs),
    })),
    summary: {
      figures: report.figures.length,
      failed: report.figures.filter((f) => f.error !== null).length,
      targets: {
        total: targets.length,
        met: targets.filter((t) => t.met === true).length,
        notMet: targets.filter((t) => t.met === false).length,
        unknown: targets.filter((t) => t.met === null).length,
      },
    },
  };
}
