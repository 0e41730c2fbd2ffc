/**
 * Scaling curves: the hand-written SVG renderer (well-formed XML, axis
 * labels, one path per series, log-axis ticks, escaping), and `vgic-lab
 * curves --smoke` end to end (real workers and VMs, a tiny budget) writing
 * its SVG charts and JSON. Never asserts timings.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  escapeXml, formatBinary, formatSi, linearTicks, logTicks, renderChart, slope, type ChartSpec,
} from '../dist/src/bench/curves/index.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** A strict-enough XML well-formedness check: balanced tags, quoted attributes, no stray '<' or '&'. */
function checkXml(doc: string): { root: string; elements: string[] } {
  const stack: string[] = [];
  const elements: string[] = [];
  let root = '';
  let i = 0;
  const text = (s: string) => {
    if (/<|&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`bad character data: ${JSON.stringify(s.slice(0, 60))}`);
  };
  if (doc.startsWith('<?xml')) i = doc.indexOf('?>') + 2;
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    if (lt < 0) {
      if (doc.slice(i).trim() !== '') throw new Error('text after the root element');
      break;
    }
    const chunk = doc.slice(i, lt);
    if (stack.length === 0 && chunk.trim() !== '') throw new Error('text outside the root element');
    text(chunk);
    const gt = doc.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = doc.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      const self = tag.endsWith('/');
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*\/?$/.exec(tag);
      if (m === null) throw new Error(`malformed tag <${tag}>`);
      const attrs = [...m[2]!.matchAll(/([\w:.-]+)="([^"]*)"/g)];
      const names = attrs.map((a) => a[1]);
      if (new Set(names).size !== names.length) throw new Error(`duplicate attribute in <${tag}>`);
      for (const a of attrs) text(a[2]!);
      if (stack.length === 0) {
        if (root !== '') throw new Error('two root elements');
        root = m[1]!;
      }
      elements.push(m[1]!);
      if (!self) stack.push(m[1]!);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return { root, elements };
}

const textsOf = (svg: string, cls: string): string[] => {
  const g = new RegExp(`<g class="${cls}"[^>]*>([\\s\\S]*?)</g>`).exec(svg)?.[1] ?? '';
  return [...g.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
};

const SPEC: ChartSpec = {
  title: 'LPIs <per> second & "more" \'quoted\'',
  subtitle: 'a subtitle long enough to be wrapped over more than one line of the chart, because it explains how every point was measured and against what',
  x: { label: 'vCPUs', log: true, ticks: [1, 2, 4, 8, 16], format: (v) => String(v) },
  y: { label: 'throughput', unit: 'LPIs/s' },
  series: [
    { name: 'lpi-stress', points: [1, 2, 4, 8, 16].map((x) => ({ x, y: 1e6 * x })) },
    { name: 'ring <baseline>', dashed: true, points: [1, 2, 4, 8, 16].map((x) => ({ x, y: x === 4 ? null : 2e6 })) },
    { name: 'p95', points: [{ x: 1, y: 5e5 }, { x: 16, y: 9e6 }] },
  ],
};

describe('svg-chart', () => {
  it('renders a well-formed standalone SVG with labelled axes, units and a legend', () => {
    const svg = renderChart(SPEC);
    const { root, elements } = checkXml(svg);
    expect(root).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(elements.filter((e) => e === 'title').length).toBeGreaterThan(0);
    expect(svg).toMatch(/<text class="x-label"[^>]*>vCPUs, log scale<\/text>/);
    expect(svg).toMatch(/<text class="y-label"[^>]*>throughput \(LPIs\/s\)<\/text>/);
    expect(svg.match(/<text class="subtitle"/g)!.length).toBeGreaterThan(1); // wrapped
    expect(textsOf(svg, 'legend')).toEqual(['lpi-stress', 'ring &lt;baseline&gt;', 'p95']);
    expect(textsOf(svg, 'y-ticks')).toEqual(['0', '5M', '10M', '15M', '20M']);
  });

  it('draws one path per series, dashed for baselines, and breaks a line at a missing point', () => {
    const svg = renderChart(SPEC);
    const paths = [...svg.matchAll(/<path d="([^"]*)"[^>]*>/g)];
    expect(paths).toHaveLength(SPEC.series.length);
    expect(paths.map((p) => p[0].includes('stroke-dasharray'))).toEqual([false, true, false]);
    expect(paths[0]![1]!.match(/[ML]/g)).toEqual(['M', 'L', 'L', 'L', 'L']);
    expect(paths[1]![1]!.match(/[ML]/g)).toEqual(['M', 'L', 'M', 'L']); // null at x = 4
    expect(svg.match(/<g class="series"/g)).toHaveLength(3);
    // log x: equal ratios are equal distances
    const xs = paths[0]![1]!.split(/[ML]/).filter(Boolean).map((p) => Number(p.trim().split(' ')[0]));
    const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const g of gaps) expect(g).toBeCloseTo(gaps[0]!, 1);
  });

  it('puts log-axis ticks at the given values or at 1-2-5 x 10^k', () => {
    const svg = renderChart({
      title: 't',
      x: { label: 'table size', unit: 'ITEs', log: true, ticks: [1024, 4096, 16384, 65536, 262144, 1 << 20], format: formatBinary },
      y: { label: 'time per ITE', unit: 'ns', log: true },
      series: [{ name: 'save', points: [1024, 1 << 20].map((x, i) => ({ x, y: i === 0 ? 3 : 170 })) }],
    });
    checkXml(svg);
    expect(textsOf(svg, 'x-ticks')).toEqual(['1K', '4K', '16K', '64K', '256K', '1M']);
    expect(textsOf(svg, 'y-ticks')).toEqual(['2', '5', '10', '20', '50', '100', '200']);
    expect(svg).toContain('time per ITE (ns), log scale');
    expect(logTicks(1, 1e6)).toEqual([1, 10, 100, 1000, 1e4, 1e5, 1e6]); // only decades when 1-2-5 gives too many
    expect(linearTicks(0, 275_000)).toEqual([0, 100_000, 200_000, 300_000]);
  });

  it('escapes every piece of text', () => {
    const svg = renderChart({ ...SPEC, x: { ...SPEC.x, label: 'a<b & c' }, y: { ...SPEC.y, unit: '"µs"' } });
    checkXml(svg);
    expect(svg).toContain('<title>LPIs &lt;per&gt; second &amp; &quot;more&quot; &apos;quoted&apos;</title>');
    expect(svg).toContain('a&lt;b &amp; c');
    expect(svg).toContain('(&quot;µs&quot;)');
    expect(svg).not.toContain('<per>');
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  });

  it('formats tick values and fits slopes', () => {
    expect([1234, 3.4e6, 0.5, 0, 100].map(formatSi)).toEqual(['1.23K', '3.4M', '0.5', '0', '100']);
    expect([512, 1024, 4096, 1 << 20].map(formatBinary)).toEqual(['512', '1K', '4K', '1M']);
    expect(slope([{ x: 1, y: 10 }, { x: 2, y: 12 }, { x: 4, y: 16 }, { x: 8, y: null }])).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 3 }])).toBeNull();
  });
});

interface JsonPoint { x: number; median: number | null; p95: number | null; reps: number; error: string | null }
interface JsonCurve {
  name: string; x: { values: number[]; log: boolean }; y: { unit: string };
  figures: { id: string; baseline: boolean; unit: string; points: JsonPoint[] }[];
  lines: { figure: string; dashed: boolean }[]; derived: Record<string, number | null> | null;
}

describe('vgic-lab curves', () => {
  it('--smoke runs every curve, writes one SVG per curve and curves.json, prints the JSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgic-curves-'));
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'curves', '--smoke', '--json', '--out', dir], { timeout: 120_000, maxBuffer: 16 << 20 });
      expect(stderr).toBe(''); // progress only on a TTY
      const doc = JSON.parse(stdout) as { schema: string; budget: string; failed: number; curves: JsonCurve[]; files: { json: string; svgs: Record<string, string> } };
      expect(doc.schema).toBe('vgic-lab-curves/1');
      expect(doc.budget).toBe('smoke');
      expect(doc.failed).toBe(0);
      expect(doc.curves.map((c) => c.name)).toEqual(['lpi-vcpus', 'lpi-its', 'inject-ack', 'pause', 'save-restore', 'memory']);
      const onDisk = JSON.parse(await readFile(path.join(dir, 'curves.json'), 'utf8')) as typeof doc;
      expect(onDisk.curves).toEqual(doc.curves);
      for (const c of doc.curves) {
        expect(c.figures.some((f) => f.baseline), `${c.name} has a baseline`).toBe(true);
        for (const f of c.figures) {
          expect(f.points.map((p) => p.x)).toEqual(c.x.values);
          for (const p of f.points) {
            expect(p.error, `${c.name} ${f.id} at ${p.x}`).toBeNull();
            expect(p.reps).toBeGreaterThan(0);
            expect(Number.isFinite(p.median)).toBe(true);
          }
        }
        const file = doc.files.svgs[c.name]!;
        expect(path.resolve(file)).toBe(path.join(dir, `${c.name}.svg`));
        const svg = await readFile(file, 'utf8');
        expect(checkXml(svg).root).toBe('svg');
        expect(svg.match(/<path /g)).toHaveLength(c.lines.length);
        expect(svg.match(/stroke-dasharray/g)!.length).toBe(2 * c.lines.filter((l) => l.dashed).length); // path + legend swatch
      }
      const byName = new Map(doc.curves.map((c) => [c.name, c]));
      expect(byName.get('save-restore')!.x).toMatchObject({ log: true, values: [1024, 4096] });
      expect(byName.get('memory')!.derived).toEqual({ bytesPerVcpu: expect.any(Number), bytesPerBareWorker: expect.any(Number) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints a table, and rejects unknown curves and options', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgic-curves-'));
    try {
      const { stdout } = await run(process.execPath, [CLI, 'curves', 'pause', '--smoke', `--out=${dir}`], { timeout: 60_000 });
      expect(stdout).toMatch(/^pause: pause-all latency vs vCPUs/m);
      expect(stdout).toMatch(/vCPUs\s+pause\(\) p50 \(µs\)/);
      expect(stdout).toContain(`wrote 1 SVG charts and ${path.join(dir, 'curves.json')}`);
      expect(JSON.parse(await readFile(path.join(dir, 'curves.json'), 'utf8')).curves).toHaveLength(1);
      for (const args of [['nope'], ['--frobnicate'], ['--out']]) {
        const e = await run(process.execPath, [CLI, 'curves', ...args]).then(() => null, (err: { code: number }) => err);
        expect(e?.code, args.join(' ')).toBe(2);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
