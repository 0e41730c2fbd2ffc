/**
 * Running the scaling curves and rendering them: one SVG chart per curve,
 * one JSON document with every point, a text table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize } from '../stats.js';
import type { BudgetName } from '../types.js';
import { CURVES, type CurveDef, type Derived } from './defs.js';
import { CURVE_BUDGETS, measurePoint, type CurveBudget } from './measure.js';
import { exposedGc } from './memory.js';
import { formatSi, renderChart, type ChartSpec } from './svg-chart.js';

export const CURVES_SCHEMA = 'vgic-lab-curves/1';

export interface PointStats {
  x: number;
  median: number | null;
  p5: number | null;
  p95: number | null;
  min: number | null;
  max: number | null;
  reps: number;
  /** What one repetition was (from the session). */
  rep: string | null;
  error: string | null;
}

export interface CurveResult {
  def: CurveDef;
  xs: readonly number[];
  /** Figure id -> one entry per x, in xs order. */
  points: Map<string, PointStats[]>;
  derived: Derived | null;
  durationMs: number;
}

export interface CurvesReport {
  budget: CurveBudget;
  startedAt: string;
  durationMs: number;
  machine: { node: string; os: string; arch: string; cpus: number; cpuModel: string; loadavg: { start: number; end: number } };
  /** gc() ran before each RSS reading (node --expose-gc). */
  gc: boolean;
  curves: CurveResult[];
}

export interface CurvesOptions {
  budget: BudgetName;
  /** Progress lines; omit for silence. */
  progress?: (line: string) => void;
}

/** The curves whose name matches one of `patterns` (exact, or a glob with *); unknown patterns listed. */
export function selectCurves(patterns: readonly string[]): { curves: CurveDef[]; unknown: string[] } {
  const re = (p: string) => new RegExp(`^${p.split('*').map((q) => q.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  const hit = (p: string, c: CurveDef) => re(p).test(c.name);
  return {
    curves: CURVES.filter((c) => patterns.length === 0 || patterns.some((p) => hit(p, c))),
    unknown: patterns.filter((p) => !CURVES.some((c) => hit(p, c))),
  };
}

function stats(values: number[], rep: string | null, error: string | null, x: number): PointStats {
  if (error !== null || values.length === 0) return { x, median: null, p5: null, p95: null, min: null, max: null, reps: 0, rep, error };
  const s = summarize(values);
  return { x, median: s.median, p5: s.p5, p95: s.p95, min: s.min, max: s.max, reps: s.reps, rep, error: null };
}

export async function runCurves(defs: readonly CurveDef[], opts: CurvesOptions): Promise<CurvesReport> {
  const budget = CURVE_BUDGETS[opts.budget];
  const startedAt = new Date();
  const t0 = performance.now();
  const load0 = os.loadavg()[0]!;
  const curves: CurveResult[] = [];
  for (const [ci, def] of defs.entries()) {
    const c0 = performance.now();
    const xs = def.x.values(budget);
    const points = new Map<string, PointStats[]>(def.figures.map((f) => [f.id, []]));
    for (const [xi, x] of xs.entries()) {
      const label = `curve ${ci + 1}/${defs.length} ${def.name}, point ${xi + 1}/${xs.length} (${def.x.label} = ${(def.x.format ?? formatSi)(x)})`;
      const probes = def.figures.map((f) => ({ id: f.id, open: (ctx: Parameters<typeof f.open>[0]) => f.open(ctx, x, budget) }));
      const raw = await measurePoint(probes, budget, opts.progress && ((d) => opts.progress!(`${label}: ${d}`)));
      for (const f of def.figures) {
        const r = raw.get(f.id)!;
        points.get(f.id)!.push(stats(f.map ? r.values.map(f.map) : r.values, r.rep, r.error, x));
      }
    }
    const median = (id: string, x: number) => points.get(id)?.find((p) => p.x === x)?.median ?? null;
    curves.push({ def, xs, points, derived: def.derive?.(median, xs) ?? null, durationMs: performance.now() - c0 });
  }
  const cpus = os.cpus();
  return {
    budget,
    startedAt: startedAt.toISOString(),
    durationMs: performance.now() - t0,
    machine: {
      node: process.version,
      os: `${os.type()} ${os.release()}`,
      arch: process.arch,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      loadavg: { start: load0, end: os.loadavg()[0]! },
    },
    gc: exposedGc() !== undefined,
    curves,
  };
}

export function failures(r: CurvesReport): { curve: string; figure: string; x: number; error: string }[] {
  return r.curves.flatMap((c) => [...c.points].flatMap(([figure, ps]) =>
    ps.filter((p) => p.error !== null).map((p) => ({ curve: c.def.name, figure, x: p.x, error: p.error! }))));
}

function value(p: PointStats | undefined, stat: 'median' | 'p95'): number | null {
  return p === undefined ? null : stat === 'median' ? p.median : p.p95;
}

// ---- chart ---------------------------------------------------------------------------------------------

export function chartOf(c: CurveResult, budget: CurveBudget): ChartSpec {
  const d = c.def;
  const reps = Math.max(0, ...[...c.points.values()].flat().map((p) => p.reps));
  const subtitle = [
    d.how(budget),
    `${budget.name} budget, up to ${reps} repetitions per point; dashed: baseline measured beside each point in the same run`,
    ...(c.derived ? [c.derived.text] : []),
  ].join(' · ');
  const baseline = new Set(d.figures.filter((f) => f.baseline).map((f) => f.id));
  return {
    title: d.title,
    subtitle,
    x: { ...d.x, ticks: d.x.ticks ?? c.xs },
    y: d.y,
    series: d.lines.map((l) => ({
      name: l.label,
      dashed: baseline.has(l.figure),
      points: c.xs.map((x, i) => ({ x, y: value(c.points.get(l.figure)![i], l.stat) })),
    })),
  };
}

// ---- JSON ----------------------------------------------------------------------------------------------

const sig = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : Number(v.toPrecision(4)));

export function toJson(r: CurvesReport, files?: { dir: string; json: string; svgs: Record<string, string> }): unknown {
  const b = r.budget;
  return {
    schema: CURVES_SCHEMA,
    budget: b.name,
    startedAt: r.startedAt,
    durationMs: Math.round(r.durationMs),
    machine: r.machine,
    gc: r.gc,
    rounds: b.rounds,
    ...(files ? { files } : {}),
    curves: r.curves.map((c) => ({
      name: c.def.name,
      title: c.def.title,
      how: c.def.how(b),
      x: { label: c.def.x.label, unit: c.def.x.unit ?? null, log: c.def.x.log === true, values: c.xs },
      y: { label: c.def.y.label, unit: c.def.y.unit ?? null, log: c.def.y.log === true },
      durationMs: Math.round(c.durationMs),
      figures: c.def.figures.map((f) => ({
        id: f.id,
        label: f.label,
        unit: f.unit,
        baseline: f.baseline === true,
        points: c.points.get(f.id)!.map((p) => ({
          x: p.x, median: sig(p.median), p5: sig(p.p5), p95: sig(p.p95), min: sig(p.min), max: sig(p.max), reps: p.reps, rep: p.rep, error: p.error,
        })),
      })),
      lines: c.def.lines.map((l) => ({ ...l, dashed: c.def.figures.find((f) => f.id === l.figure)?.baseline === true })),
      ratios: (c.def.ratios ?? []).map(([fig, base]) => ({
        figure: fig,
        baseline: base,
        values: c.xs.map((x, i) => {
          const a = c.points.get(fig)![i]?.median ?? null, z = c.points.get(base)![i]?.median ?? null;
          return { x, ratio: a === null || z === null || z === 0 ? null : sig(a / z) };
        }),
      })),
      derived: c.derived?.values ?? null,
    })),
    failed: failures(r).length,
  };
}

// ---- text ----------------------------------------------------------------------------------------------

function fmt(v: number | null): string {
  return v === null ? 'FAILED' : formatSi(v);
}

function ratioText(a: number | null, b: number | null): string {
  if (a === null || b === null || b === 0) return '—';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toPrecision(2)}x`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderText(r: CurvesReport, files?: { dir: string; svgs: Record<string, string>; json: string }): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`vgic-lab curves · ${r.budget.name} budget · node ${m.node} · ${m.os} ${m.arch} · ${m.cpus} cpus (${m.cpuModel}) · load ${m.loadavg.start.toFixed(2)} -> ${m.loadavg.end.toFixed(2)}`);
  out.push(`medians of the repetitions at each point (${r.budget.rounds} interleaved rounds); baselines measured beside each point in the same run; ratio = median / baseline median`);
  for (const c of r.curves) {
    const d = c.def;
    const headers = [d.x.unit ? `${d.x.label} (${d.x.unit})` : d.x.label,
      ...d.lines.map((l) => `${l.label.replace(' (baseline)', '')} (${d.figures.find((f) => f.id === l.figure)!.unit})`),
      ...(d.ratios ?? []).map(([a, b]) => `${a}/${b}`)];
    const rows = c.xs.map((x, i) => [
      (d.x.format ?? formatSi)(x),
      ...d.lines.map((l) => fmt(value(c.points.get(l.figure)![i], l.stat))),
      ...(d.ratios ?? []).map(([a, b]) => ratioText(c.points.get(a)![i]!.median, c.points.get(b)![i]!.median)),
    ]);
    out.push('');
    out.push(`${d.name}: ${d.title}${files?.svgs[d.name] ? `  [${files.svgs[d.name]}]` : ''}`);
    out.push(`  ${d.how(r.budget)}`);
    out.push(`  baseline: ${d.figures.filter((f) => f.baseline).map((f) => f.label).join(', ')} (measured beside each point)`);
    out.push(table(headers, rows));
    if (c.derived) out.push(c.derived.text);
  }
  const failed = failures(r);
  out.push('');
  out.push(`${r.curves.length} curves in ${(r.durationMs / 1000).toFixed(1)} s${r.gc ? '' : ' · RSS without --expose-gc (medians only)'}` +
    `${files ? ` · wrote ${Object.keys(files.svgs).length} SVG charts and ${files.json}` : ''}`);
  for (const f of failed) {
    out.push('');
    out.push(`${f.curve} ${f.figure} at ${f.x} FAILED:`);
    out.push(f.error.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  return `${out.join('\n')}\n`;
}

// ---- files ---------------------------------------------------------------------------------------------

/** Write <dir>/<curve>.svg for every curve and <dir>/curves.json; returns the paths written. */
export async function writeCurves(r: CurvesReport, dir: string): Promise<{ dir: string; json: string; svgs: Record<string, string> }> {
  await mkdir(dir, { recursive: true });
  const svgs: Record<string, string> = {};
  for (const c of r.curves) {
    const file = path.join(dir, `${c.def.name}.svg`);
    await writeFile(file, renderChart(chartOf(c, r.budget)));
    svgs[c.def.name] = file;
  }
  const json = path.join(dir, 'curves.json');
  const files = { dir, json, svgs };
  await writeFile(json, `${JSON.stringify(toJson(r, files), null, 2)}\n`);
  return files;
}
