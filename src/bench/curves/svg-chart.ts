/**
 * A small, dependency-free SVG line-chart renderer for the scaling curves:
 * one standalone SVG document per chart, with a title, a subtitle, x and y
 * axes (linear or logarithmic, ticks, grid lines, tick labels, axis labels
 * with units), one <path> per series (dashed for baselines), a marker per
 * point, and a legend on the right. Every piece of text is XML-escaped.
 *
 * Points whose y is null (a failed measurement), or not positive on a log
 * axis, break their line: the path starts a new subpath after them.
 */

export interface ChartPoint {
  x: number;
  y: number | null;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
  /** Drawn dashed (a baseline). */
  dashed?: boolean;
  /** CSS colour; default: the next colour of the palette. */
  color?: string;
}

export interface AxisSpec {
  /** What the axis shows, e.g. 'vCPUs'. */
  label: string;
  /** Unit, shown in parentheses after the label. */
  unit?: string;
  /** Logarithmic scale (for sizes that grow geometrically). */
  log?: boolean;
  /** Tick positions; default: 1-2-5 steps (linear) or 1-2-5 x powers of ten (log). */
  ticks?: readonly number[];
  /** Tick label text; default: formatSi. */
  format?: (v: number) => string;
  /** Linear axis: include zero in the domain (default true for y, false for x). */
  zero?: boolean;
}

export interface ChartSpec {
  title: string;
  /** A smaller second line under the title (what was measured, how). */
  subtitle?: string;
  x: AxisSpec;
  y: AxisSpec;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
}

/** Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text or attribute value, safe inside an XML document. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** 3 significant digits with an SI suffix: 1234 -> '1.23K', 3.4e6 -> '3.4M', 0.5 -> '0.5'. */
export function formatSi(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
  for (const [scale, suffix] of units) if (a >= scale) return `${trim((v / scale).toPrecision(3))}${suffix}`;
  if (a === 0) return '0';
  return trim(a >= 1 ? v.toPrecision(3) : v.toPrecision(2));
}

/** Powers of two with binary suffixes: 1024 -> '1K', 262144 -> '256K', 2^20 -> '1M'. */
export function formatBinary(v: number): string {
  if (v >= 2 ** 30) return `${trim((v / 2 ** 30).toPrecision(3))}G`;
  if (v >= 2 ** 20) return `${trim((v / 2 ** 20).toPrecision(3))}M`;
  if (v >= 2 ** 10) return `${trim((v / 2 ** 10).toPrecision(3))}K`;
  return trim(v.toPrecision(3));
}

function trim(s: string): string {
  return s.includes('e') || !s.includes('.') ? s : s.replace(/\.?0+$/, '');
}

/** About `count` ticks at 1, 2 or 5 x 10^k steps, the first <= lo and the last >= hi. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9))!;
  const out: number[] = [];
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  for (let i = first; i <= last; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** The 1-2-5 x 10^k values just below lo and just above hi (a log axis' domain). */
function logBounds(lo: number, hi: number): [number, number] {
  const steps = (k: number) => [1, 2, 5].map((m) => Number((m * 10 ** k).toPrecision(12)));
  const kl = Math.floor(Math.log10(lo)), kh = Math.floor(Math.log10(hi));
  const below = [...steps(kl - 1), ...steps(kl)].filter((v) => v <= lo * (1 + 1e-9)).pop()!;
  const above = [...steps(kh), ...steps(kh + 1)].find((v) => v >= hi * (1 - 1e-9))!;
  return [below, above];
}

/** Log-axis ticks in [lo, hi]: 1, 2, 5 x 10^k (only 10^k when that gives more than 10). */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi >= lo)) return [];
  const k0 = Math.floor(Math.log10(lo)), k1 = Math.ceil(Math.log10(hi));
  const pick = (mults: number[]) => {
    const out: number[] = [];
    for (let k = k0; k <= k1; k++) {
      for (const m of mults) {
        const v = Number((m * 10 ** k).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    return out;
  };
  const fine = pick([1, 2, 5]);
  return fine.length > 10 ? pick([1]) : fine;
}

interface Scale {
  domain: [number, number];
  ticks: number[];
  /** Value -> pixel. */
  at(v: number): number;
}

function scale(axis: AxisSpec, values: number[], range: [number, number], zeroDefault: boolean): Scale {
  const log = axis.log === true;
  const vals = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const given = (axis.ticks ?? []).filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = Math.min(...vals, ...given), hi = Math.max(...vals, ...given);
  if (!Number.isFinite(lo)) [lo, hi] = log ? [1, 10] : [0, 1];
  let ticks: number[];
  if (log) {
    if (hi / lo < 1.5) [lo, hi] = [lo / 1.5, hi * 1.5];
    if (given.length === 0) [lo, hi] = logBounds(lo, hi);
    ticks = given.length > 0 ? given : logTicks(lo, hi);
    if (ticks.length < 2) ticks = [lo, hi];
    const pad = (Math.log(hi) - Math.log(lo)) * 0.04;
    lo = Math.exp(Math.log(lo) - pad);
    hi = Math.exp(Math.log(hi) + pad);
  } else {
    if (axis.zero ?? zeroDefault) [lo, hi] = [Math.min(0, lo), Math.max(0, hi)];
    if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
    if (given.length > 0) {
      ticks = given;
      const pad = (hi - lo) * 0.04;
      [lo, hi] = [lo - pad, hi + pad];
      if ((axis.zero ?? zeroDefault) && lo < 0 && Math.min(...vals, ...given) >= 0) lo = 0;
    } else {
      ticks = linearTicks(lo, hi);
      lo = Math.min(lo, ticks[0]!);
      hi = Math.max(hi, ticks[ticks.length - 1]!);
    }
  }
  const [r0, r1] = range;
  const f = log ? Math.log : (v: number) => v;
  const d0 = f(lo), d1 = f(hi);
  return {
    domain: [lo, hi],
    ticks: ticks.filter((t) => t >= lo && t <= hi),
    at: (v) => r0 + ((f(v) - d0) / (d1 - d0)) * (r1 - r0),
  };
}

const n2 = (v: number) => String(Math.round(v * 100) / 100);

/** Approximate width of `s` in 12px sans-serif. */
function textWidth(s: string, px = 12): number {
  return s.length * px * 0.58;
}

/** Greedy word wrap of `s` into lines of at most `maxPx` (approximately) at font size `px`. */
export function wrap(s: string, maxPx: number, px = 12): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/).filter((w) => w !== '')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (line !== '' && textWidth(next, px) > maxPx) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines;
}

function axisTitle(a: AxisSpec): string {
  return a.unit ? `${a.label} (${a.unit})` : a.label;
}

/** Render the chart as a standalone SVG document. */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 760, height = spec.height ?? 440;
  const legendW = Math.min(260, Math.max(120, ...spec.series.map((s) => textWidth(s.name) + 44)));
  const fmtX = spec.x.format ?? formatSi, fmtY = spec.y.format ?? formatSi;
  const left = 78, right = width - legendW - 16;
  const subtitle = spec.subtitle ? wrap(spec.subtitle, width - left - 16, 11) : [];
  const top = 44 + subtitle.length * 14, bottom = height - 56;
  const xs = scale(spec.x, spec.series.flatMap((s) => s.points.map((p) => p.x)), [left, right], false);
  const ys = scale(spec.y, spec.series.flatMap((s) => s.points.flatMap((p) => (p.y === null ? [] : [p.y]))), [bottom, top], true);
  const out: string[] = [];
  const title = escapeXml(spec.title);
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img">`);
  out.push(`<title>${title}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${left}" y="22" font-size="15" font-weight="bold" fill="#111111">${title}</text>`);
  subtitle.forEach((line, i) => out.push(`<text class="subtitle" x="${left}" y="${40 + 14 * i}" font-size="11" fill="#555555">${escapeXml(line)}</text>`));

  // grid, ticks and tick labels
  out.push('<g class="grid" stroke="#e4e4e4" stroke-width="1">');
  for (const t of xs.ticks) out.push(`<line x1="${n2(xs.at(t))}" y1="${top}" x2="${n2(xs.at(t))}" y2="${bottom}"/>`);
  for (const t of ys.ticks) out.push(`<line x1="${left}" y1="${n2(ys.at(t))}" x2="${right}" y2="${n2(ys.at(t))}"/>`);
  out.push('</g>');
  out.push('<g class="axes" stroke="#333333" stroke-width="1">');
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}"/>`);
  for (const t of xs.ticks) out.push(`<line x1="${n2(xs.at(t))}" y1="${bottom}" x2="${n2(xs.at(t))}" y2="${bottom + 5}"/>`);
  for (const t of ys.ticks) out.push(`<line x1="${left - 5}" y1="${n2(ys.at(t))}" x2="${left}" y2="${n2(ys.at(t))}"/>`);
  out.push('</g>');
  out.push('<g class="x-ticks" text-anchor="middle" fill="#333333">');
  for (const t of xs.ticks) out.push(`<text x="${n2(xs.at(t))}" y="${bottom + 18}">${escapeXml(fmtX(t))}</text>`);
  out.push('</g>');
  out.push('<g class="y-ticks" text-anchor="end" fill="#333333">');
  for (const t of ys.ticks) out.push(`<text x="${left - 8}" y="${n2(ys.at(t) + 4)}">${escapeXml(fmtY(t))}</text>`);
  out.push('</g>');
  const xScaleNote = spec.x.log ? ', log scale' : '', yScaleNote = spec.y.log ? ', log scale' : '';
  out.push(`<text class="x-label" x="${n2((left + right) / 2)}" y="${bottom + 42}" text-anchor="middle" fill="#111111">${escapeXml(axisTitle(spec.x) + xScaleNote)}</text>`);
  out.push(`<text class="y-label" x="${n2(18)}" y="${n2((top + bottom) / 2)}" text-anchor="middle" fill="#111111" transform="rotate(-90 18 ${n2((top + bottom) / 2)})">${escapeXml(axisTitle(spec.y) + yScaleNote)}</text>`);

  // series: one path each, markers, legend entries
  const legend: string[] = [];
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const dash = s.dashed ? ' stroke-dasharray="7 4"' : '';
    const usable = (p: ChartPoint): p is { x: number; y: number } =>
      p.y !== null && Number.isFinite(p.y) && Number.isFinite(p.x) && (!spec.y.log || p.y > 0) && (!spec.x.log || p.x > 0);
    let d = '', pen = false;
    const marks: string[] = [];
    for (const p of [...s.points].sort((a, b) => a.x - b.x)) {
      if (!usable(p)) {
        pen = false;
        continue;
      }
      const px = n2(xs.at(p.x)), py = n2(ys.at(p.y));
      d += `${d === '' ? '' : ' '}${pen ? 'L' : 'M'}${px} ${py}`;
      pen = true;
      marks.push(`<circle cx="${px}" cy="${py}" r="3.2" fill="${s.dashed ? '#ffffff' : color}" stroke="${color}" stroke-width="1.5"><title>${escapeXml(`${s.name}: ${fmtX(p.x)} -> ${fmtY(p.y)}`)}</title></circle>`);
    }
    const name = escapeXml(s.name);
    out.push(`<g class="series" data-name="${name}">`);
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash} stroke-linejoin="round"/>`);
    out.push(...marks);
    out.push('</g>');
    const ly = top + 8 + i * 20, lx = right + 16;
    legend.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    legend.push(`<circle cx="${lx + 13}" cy="${ly}" r="3.2" fill="${s.dashed ? '#ffffff' : color}" stroke="${color}" stroke-width="1.5"/>`);
    legend.push(`<text x="${lx + 32}" y="${ly + 4}" fill="#111111">${name}</text>`);
  });
  out.push('<g class="legend">', ...legend, '</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
