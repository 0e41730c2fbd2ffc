/**
 * `vgic-lab bench --compare old.json new.json` on synthetic documents: the
 * verdict rule (each median outside the other run's p5 … p95, at least the
 * floor), figures on one side only, failed figures, the ratio-to-baseline
 * verdict that cancels a machine's drift (paired per round when both
 * documents carry rounds), older documents without rounds or p5/p95; and
 * the command itself with its exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareDocs, compareToJson, parseDoc, renderCompareText, type BenchDoc, type DocFigure } from '../dist/src/bench/compare.js';
import { cli } from './helpers/run-node.js';

/** A figure with median m and band m*(1 ± spread), 11 repetitions. */
function fig(name: string, m: number, spread = 0.05, extra: Partial<DocFigure> = {}): DocFigure {
  return { name, unit: 'ns/op', median: m, p5: m * (1 - spread), p95: m * (1 + spread), min: m * (1 - 2 * spread), max: m * (1 + 2 * spread), reps: 11, baseline: null, error: null, ...extra };
}

function doc(figures: DocFigure[], budget = 'full'): BenchDoc {
  return { schema: 'vgic-lab-bench/1', budget, startedAt: '2026-01-01T00:00:00.000Z', machine: { node: 'v20.20.2', cpus: 2, cpuModel: 'AMD EPYC', loadavg: { start: 1, end: 1 } }, figures };
}

const verdictOf = (old: BenchDoc, neu: BenchDoc, name: string, minChange?: number) =>
  compareDocs(old, neu, minChange === undefined ? {} : { minChange }).figures.find((f) => f.name === name)!;

describe('compareDocs', () => {
  it('faster, slower, and same within noise, by the medians when there is no baseline', () => {
    const old = doc([fig('a', 100), fig('b', 100), fig('c', 100, 0.1), fig('d', 100, 0.02)]);
    const neu = doc([fig('a', 80), fig('b', 125), fig('c', 106, 0.1), fig('d', 108, 0.2)]);
    const r = compareDocs(old, neu);
    const by = new Map(r.figures.map((f) => [f.name, f]));
    expect(by.get('a')).toMatchObject({ verdict: 'faster', basis: 'median', old: 100, new: 80 });
    expect(by.get('a')!.change).toBeCloseTo(-0.2, 10);
    expect(by.get('b')).toMatchObject({ verdict: 'slower', basis: 'median' });
    expect(by.get('b')!.change).toBeCloseTo(0.25, 10);
    expect(by.get('c')!.verdict).toBe('same'); // 106 inside the old 90 … 110
    // 108 is outside the old 98 … 102, but the new run is so noisy (86 … 130) that the old median lies inside it.
    expect(by.get('d')!.verdict).toBe('same');
    expect(r.summary).toMatchObject({ faster: 1, slower: 1, same: 2 });
    expect(r.warnings).toEqual([]);
    const text = renderCompareText(r);
    expect(text).toMatch(/^a +100 ns\/op +80\.0 ns\/op +-20% .*faster$/m);
    expect(text).toMatch(/^b +100 ns\/op +125 ns\/op +\+25% .*slower$/m);
    expect(text).toMatch(/^c .*same \(within noise\)$/m);
    expect(text).toMatch(/1 faster, 1 slower, 2 same \(within noise\)/);
  });

  it('a change inside the floor is the same; the floor is an option', () => {
    const old = doc([fig('a', 100, 0.01)]), neu = doc([fig('a', 103, 0.01)]);
    expect(verdictOf(old, neu, 'a').verdict).toBe('same');
    expect(verdictOf(old, neu, 'a', 0).verdict).toBe('slower');
    expect(verdictOf(old, neu, 'a', 0.02).verdict).toBe('slower');
  });

  it('figures on one side only, failed figures, changed units, too few repetitions', () => {
    const old = doc([fig('gone', 1), fig('broken', 1), fig('unit', 1), fig('few', 100, 0.01, { reps: 2 })]);
    const neu = doc([fig('added', 1), fig('broken', 1, 0.05, { median: null, error: 'Error: boom' }), fig('unit', 1, 0.05, { unit: 'µs' }), fig('few', 50, 0.01, { reps: 2 })]);
    const r = compareDocs(old, neu, { files: { old: 'o.json', new: 'n.json' } });
    const by = new Map(r.figures.map((f) => [f.name, f]));
    expect(by.get('gone')).toMatchObject({ verdict: 'only-old', old: 1, new: null });
    expect(by.get('added')).toMatchObject({ verdict: 'only-new', old: null, new: 1 });
    expect(by.get('broken')).toMatchObject({ verdict: 'failed', note: 'failed in the new run' });
    expect(by.get('unit')).toMatchObject({ verdict: 'incomparable' });
    expect(by.get('few')).toMatchObject({ verdict: 'same', note: expect.stringMatching(/fewer than 3/) });
    expect([...by.keys()]).toEqual(['added', 'broken', 'unit', 'few', 'gone']); // new order, then what only the old run has
    const text = renderCompareText(r);
    expect(text).toMatch(/^old: o\.json · full budget/m);
    expect(text).toMatch(/^gone .*only in old$/m);
    expect(text).toMatch(/^added .*only in new$/m);
    expect(text).toMatch(/1 only in old, 1 only in new, 1 failed, 1 incomparable/);
  });

  it('judges a figure with a baseline by its ratio to it: machine drift cancels, a real change shows', () => {
    // The new machine is 30% slower on everything: 'drift' moves with its baseline, 'worse' moves 30% more.
    const old = doc([fig('base', 10), fig('drift', 20, 0.05, { baseline: 'base' }), fig('worse', 20, 0.05, { baseline: 'base' })]);
    const neu = doc([fig('base', 13), fig('drift', 26, 0.05, { baseline: 'base' }), fig('worse', 26 * 1.3, 0.05, { baseline: 'base' })]);
    const r = compareDocs(old, neu);
    const by = new Map(r.figures.map((f) => [f.name, f]));
    expect(by.get('base')).toMatchObject({ verdict: 'slower', basis: 'median' });
    expect(by.get('drift')).toMatchObject({ verdict: 'same', basis: 'ratio', against: 'base', oldRatio: 2, paired: false });
    expect(by.get('drift')!.change).toBeCloseTo(0.3, 10); // the medians did move
    expect(by.get('drift')!.newRatio).toBeCloseTo(2, 10);
    expect(by.get('worse')).toMatchObject({ verdict: 'slower', basis: 'ratio' });
    expect(by.get('worse')!.ratioChange).toBeCloseTo(0.3, 10);
    expect(r.warnings.join('\n')).toMatch(/lacks per-round medians/);
    const text = renderCompareText(r);
    expect(text).toMatch(/^drift .*\+30% +2x -> 2x \(±0\.0%\) vs base +same \(within noise\)$/m);
    expect(text).toMatch(/^worse .*vs base +slower \(by ratio\)$/m);
    // Without the baseline on one side, the medians decide.
    const noBase = doc([fig('drift', 26, 0.05, { baseline: 'base' })]);
    expect(verdictOf(old, noBase, 'drift')).toMatchObject({ basis: 'median', verdict: 'slower' });
  });

  it('pairs a figure with its baseline round by round when both documents carry rounds', () => {
    // Rounds drift a lot within each run (whole-machine speed), the per-round ratio stays near 2 (old) and 2.4 (new).
    const drift = [1, 1.3, 0.8, 1.1, 0.9];
    const rounds = (m: number, ratioWobble = 0) => drift.map((d, i) => m * d * (1 + (i % 2 ? ratioWobble : -ratioWobble)));
    const old = doc([
      fig('base', 10, 0.3, { rounds: rounds(10) }),
      fig('x', 20, 0.3, { baseline: 'base', rounds: rounds(20, 0.01) }),
    ]);
    const neu = doc([
      fig('base', 10, 0.3, { rounds: rounds(10) }),
      fig('x', 24, 0.3, { baseline: 'base', rounds: rounds(24, 0.01) }),
    ]);
    const x = verdictOf(old, neu, 'x');
    // The medians' bands overlap (20 ± 30% vs 24 ± 30%), the paired ratios' do not.
    expect(x).toMatchObject({ basis: 'ratio', paired: true, verdict: 'slower' });
    expect(x.oldBand![1]).toBeLessThan(2.1);
    expect(compareDocs(old, neu).warnings).toEqual([]);
    // The same documents without rounds: unpaired bands, the change drowns in the drift.
    const strip = (d: BenchDoc) => doc(d.figures.map(({ rounds: _r, ...f }) => f));
    expect(verdictOf(strip(old), strip(neu), 'x')).toMatchObject({ basis: 'ratio', paired: false, verdict: 'same' });
  });

  it('reads older documents: no schema, no rounds, min/max but no p5/p95; rejects what is not a bench document', () => {
    const old = parseDoc(JSON.stringify({ figures: [{ name: 'a', unit: 'ns/op', median: 100, min: 98, max: 102, reps: 5 }] }));
    const neu = parseDoc(JSON.stringify(doc([fig('a', 150)])));
    const r = compareDocs(old, neu);
    expect(r.figures[0]).toMatchObject({ verdict: 'slower', oldBand: [98, 102] });
    expect(r.warnings.join('\n')).toMatch(/budgets differ/);
    expect(() => parseDoc('{')).toThrow(/not JSON/);
    expect(() => parseDoc('{"figures": 3}')).toThrow(/no figures array/);
    expect(() => parseDoc('{"schema": "vgic-lab-bench-compare/1", "figures": []}')).toThrow(/unexpected schema/);
    const j = compareToJson(r) as { schema: string; rule: string; figures: { verdict: string }[]; summary: Record<string, number> };
    expect(j.schema).toBe('vgic-lab-bench-compare/1');
    expect(j.rule).toMatch(/ratio/);
    expect(j.summary.slower).toBe(1);
  });
});

describe('vgic-lab bench --compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, d: BenchDoc | string): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof d === 'string' ? d : JSON.stringify(d));
    return p;
  };
  const oldFile = write('old.json', doc([fig('base', 10), fig('fig', 20, 0.05, { baseline: 'base' })]));
  const sameFile = write('same.json', doc([fig('base', 10.1), fig('fig', 20.2, 0.05, { baseline: 'base' })]));
  const slowerFile = write('slower.json', doc([fig('base', 10), fig('fig', 30, 0.05, { baseline: 'base' })]));

  it('prints the table and exits 0, also when a figure got slower', async () => {
    const r = await cli(['bench', '--compare', oldFile, slowerFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fig +20\.0 ns\/op +30\.0 ns\/op +\+50% +2x -> 3x \(\+50%\) vs base +slower \(by ratio\)$/m);
    expect(r.stdout).toMatch(/^base .*same \(within noise\)$/m);
    expect(r.stdout).toMatch(/^rule: lower is better/m);
  });

  it('--fail-on-regression exits 1 on a slower figure, 0 otherwise; --json prints the comparison', async () => {
    expect((await cli(['bench', '--compare', oldFile, slowerFile, '--fail-on-regression'])).code).toBe(1);
    const ok = await cli(['bench', '--compare', oldFile, sameFile, '--fail-on-regression', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const j = JSON.parse(ok.stdout) as { schema: string; figures: { name: string; verdict: string; basis: string }[]; summary: { same: number } };
    expect(j.schema).toBe('vgic-lab-bench-compare/1');
    expect(j.figures.map((f) => [f.name, f.verdict, f.basis])).toEqual([['base', 'same', 'median'], ['fig', 'same', 'ratio']]);
    // A 50% floor turns the regression into noise.
    expect((await cli(['bench', '--compare', oldFile, slowerFile, '--fail-on-regression', '--min-change', '60'])).code).toBe(0);
  });

  it('exits 2 on usage errors and unreadable or invalid files', async () => {
    const bad = write('bad.json', '{ not json');
    const cases: string[][] = [
      ['bench', '--compare', oldFile],
      ['bench', '--compare', oldFile, sameFile, slowerFile],
      ['bench', '--compare', oldFile, sameFile, '--quick'],
      ['bench', '--compare', oldFile, sameFile, '--min-change', 'lots'],
      ['bench', 'lock', '--fail-on-regression'],
      ['bench', '--compare', oldFile, join(dir, 'missing.json')],
      ['bench', '--compare', bad, oldFile],
    ];
    const runs = await Promise.all(cases.map((args) => cli(args)));
    runs.forEach((r, i) => {
      expect(r.code, cases[i]!.join(' ')).toBe(2);
      expect(r.stdout, cases[i]!.join(' ')).toBe('');
    });
    expect(runs[5]!.stderr).toMatch(/cannot read .*missing\.json: ENOENT/);
    expect(runs[6]!.stderr).toMatch(/bad\.json: not JSON/);
  });
});
