/**
 * The package as a consumer gets it: `npm pack` (the build as it is, no
 * scripts), the tarball's file list, `npm install <tarball>` into a fresh
 * project (from the npm cache when offline), then a plain ESM script that
 * imports the root and every subpath and runs a VM whose worker threads,
 * built-in guest, injector, campaign and benchmark workers must all load
 * from the installed dist/, the `vgic-lab` bin, and a strict TypeScript
 * consumer type-checked against the shipped declarations (a deliberately
 * wrong call must fail).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from './helpers/run-node.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; bin: Record<string, string>; exports: Record<string, string | { types: string; import: string }>;
};
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
/** Guards against hangs only: npm and tsc on a loaded 2-core machine can take a while. */
const STEP_MS = 120_000;

interface Run { code: number | null; stdout: string; stderr: string }

/**
 * A child process with the environment a user's shell would give it: the
 * npm_* variables of the `npm test` that runs us would point the nested npm
 * at this repository (npm_config_local_prefix) instead of the consumer project.
 */
function exec(cmd: string, args: string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'));
  return runCommand(cmd, args, { cwd, env, timeoutMs: STEP_MS });
}

function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Every .ts module (not .d.ts) under dir, relative to ROOT. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => relative(ROOT, join(ROOT, dir, f)));
}

/** The package's subpaths other than the root and package.json ('./guest', ...). */
const SUBPATHS = Object.keys(PKG.exports).filter((k) => k !== '.' && k !== './package.json');

let tmp: string;
let app: string;
let files: string[];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'vgic-consumer-'));
  // --ignore-scripts: pack the build this test run made (prepack would rebuild dist under the other test files).
  const pack = ok(await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT), 'npm pack');
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  files = info!.files.map((f) => f.path).sort();
  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  ok(await exec('npm', ['install', join(tmp, info!.filename), '--prefer-offline', '--no-audit', '--no-fund'], app), 'npm install');
}, 2 * STEP_MS);

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds no tests, sources, fixtures, source maps, build info or bench output', () => {
    const unwanted = files.filter((f) => /^(test|src|workers|examples|docs|coverage|bench-results|bench-curves)\//.test(f)
      || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map') || f.includes('tsbuildinfo')
      || f.includes('fixtures') || /\.test(-d)?\./.test(f) || f.startsWith('dist/test'));
    expect(unwanted).toEqual([]);
    expect(files.filter((f) => !f.startsWith('dist/'))).toEqual(['ARCHITECTURE.md', 'LICENSE', 'README.md', 'package.json']);
  });

  it('holds every module the build makes, each with its declarations, and nothing stale', () => {
    const expected = [...sources('src'), ...sources('workers')].map((s) => `dist/${s.replace(/\.ts$/, '.js')}`).sort();
    const shipped = files.filter((f) => f.endsWith('.js')).sort();
    expect(shipped).toEqual(expected); // a .js without a source is a stale output
    const declarations = new Set(files.filter((f) => f.endsWith('.d.ts')));
    expect(shipped.filter((f) => !declarations.has(f.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('holds every target package.json names (exports with their types, the bin), and no install-time scripts', () => {
    const targets = [...Object.values(PKG.exports).flatMap((t) => (typeof t === 'string' ? [t] : [t.types, t.import])), ...Object.values(PKG.bin)]
      .map((t) => t.replace(/^\.\//, ''));
    expect(targets.filter((t) => !files.includes(t))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', PKG.name, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(installed.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s))).toEqual([]);
  });
});

describe('installed into a fresh project', () => {
  it('plain ESM: the root and every subpath import; a VM delivers MSIs; injector, campaign and bench workers load from the package', async () => {
    writeFileSync(join(app, 'consumer.mjs'), `
import * as root from 'vgic-lab';
const { createVm, waitForItsSetup, defaultItsBase, uapi, runLpiStress, runCampaign, runSuite, select } = root;
const out = { rootExports: Object.keys(root).length, subpaths: {} };
for (const sub of ${JSON.stringify(SUBPATHS)}) out.subpaths[sub] = Object.keys(await import('vgic-lab' + sub.slice(1))).length;

const events = [0, 1].map((e) => ({ eventId: e, intid: 8192 + e, icid: 0 }));
const vm = await createVm({ vcpus: 1, guest: { module: 'its-setup', args: { devices: [{ deviceId: 7, events }], handle: true } } });
try {
  out.start = await vm.start();
  out.setup = await waitForItsSetup(vm);
  const doorbell = defaultItsBase(0) + uapi.GITS_TRANSLATER;
  out.msis = [await vm.signalMsi({ address: doorbell, data: 0, devid: 7 }), await vm.signalMsi({ address: doorbell, data: 1, devid: 7 })];
  // The guest counts the LPIs it handles in results[0] and notifies that word.
  const results = vm.results(0), deadline = Date.now() + 30000;
  for (let seen = Atomics.load(results, 0); seen < 2 && Date.now() < deadline; seen = Atomics.load(results, 0)) {
    const w = Atomics.waitAsync(results, 0, seen, deadline - Date.now());
    if (w.async) { const keep = setInterval(() => {}, 1 << 30); await w.value; clearInterval(keep); }
  }
  out.handled = Atomics.load(results, 0);
  out.faults = vm.faults;
} finally {
  await vm.destroy();
}
const lpi = await runLpiStress({ iterations: 20 });
out.lpi = { injected: lpi.injected, failed: lpi.failed };
const campaign = await runCampaign({ scenarios: ['save-busy'], seeds: 1, from: 1, concurrency: 1, run: { seconds: 0.1 } });
out.campaign = { runs: campaign.runs, pass: campaign.pass, failures: campaign.failures };
const bench = await runSuite(select(['lock.bare-pair']).benchmarks, { budget: 'smoke' });
out.bench = bench.figures.map((f) => ({ name: f.bench.name, error: f.error }));
process.stdout.write(JSON.stringify(out));
`);
    // No process.exit in the script: it must end by itself (nothing left running), or the guard fails the test.
    const r = ok(await exec(process.execPath, ['consumer.mjs'], app), 'node consumer.mjs');
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.rootExports).toBeGreaterThan(50);
    expect(Object.keys(out.subpaths as object)).toEqual(SUBPATHS);
    for (const n of Object.values(out.subpaths as Record<string, number>)) expect(n).toBeGreaterThan(0);
    expect(out).toMatchObject({
      start: 0, setup: 0, msis: [1, 1], handled: 2, faults: [],
      lpi: { injected: 20, failed: 0 },
      campaign: { runs: 1, pass: 1, failures: [] },
      bench: [{ name: 'lock.bare-pair', error: null }],
    });
  }, 2 * STEP_MS);

  it('the vgic-lab bin runs from node_modules/.bin', async () => {
    const r = ok(await exec(join(app, 'node_modules', '.bin', 'vgic-lab'), ['--help'], app), 'vgic-lab --help');
    expect(r.stdout).toMatch(/^usage: vgic-lab <command>/);
    expect(r.stdout).toMatch(/\n {2}stress /);
  });

  it('TypeScript (strict, nodenext): a consumer type-checks against the shipped declarations; a wrong call does not', async () => {
    const typeRoots = [join(ROOT, 'node_modules', '@types')];
    const tsconfig = (file: string) => JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2024'], strict: true, noEmit: true,
        // The shipped .d.ts files are checked too, not skipped.
        skipLibCheck: false, types: ['node'], typeRoots,
      },
      files: [file],
    });
    writeFileSync(join(app, 'consumer.ts'), `
import {
  createVm, findScenario, restoreVm, runScenario, saveVm, uapi,
  type Finding, type GicVm, type KvmMsi, type LockProtocol, type ScenarioOutcome, type VmSnapshot,
} from 'vgic-lab';
${SUBPATHS.map((s, i) => `import * as sub${i} from 'vgic-lab${s.slice(1)}';\nexport const subExports${i}: number = Object.keys(sub${i}).length;`).join('\n')}

const mine: LockProtocol = { name: 'mine', itsCtrl: [{ lock: 'kvm.lock', mode: 'lock' }], itsRegs: [], savePending: [], restoreCallsMapResources: false };

export async function firstVm(): Promise<number> {
  const vm: GicVm = await createVm({ vcpus: 2, gic: { its: 1, lockProtocol: mine }, validator: true, memory: 16 << 20 });
  const msi: KvmMsi = { address: 0x0c01_0040n, data: 0, devid: 1 };
  const delivered: number = await vm.signalMsi(msi);
  const ret: number = await vm.gic.its[0]!.setAttr(uapi.KVM_DEV_ARM_VGIC_GRP_CTRL, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES);
  const findings: Finding[] = vm.lockFindings();
  const snap: VmSnapshot = await saveVm(vm);
  const copy: GicVm = await restoreVm(snap, { start: false });
  await copy.destroy();
  await vm.destroy();
  return delivered + ret + findings.length;
}

export async function verdict(): Promise<ScenarioOutcome['verdict']> {
  const s = findScenario('upstream');
  if (s === undefined) throw new Error('no scenario');
  return (await runScenario(s, { seconds: 0.1, schedule: { strategy: 'pct', seed: 3 } })).verdict;
}
`);
    writeFileSync(join(app, 'tsconfig.json'), tsconfig('consumer.ts'));
    const good = await exec(TSC, ['-p', 'tsconfig.json'], app);
    expect(good.stdout + good.stderr, 'tsc on the consumer').toBe('');
    expect(good.code).toBe(0);

    const wrongCall = "export const vm = createVm({ vcpus: 'two' });";
    writeFileSync(join(app, 'wrong.ts'), `import { createVm } from 'vgic-lab';\n${wrongCall}\n`);
    writeFileSync(join(app, 'tsconfig.wrong.json'), tsconfig('wrong.ts'));
    const wrong = await exec(TSC, ['-p', 'tsconfig.wrong.json'], app);
    expect(wrong.code).not.toBe(0);
    const errors = wrong.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.length).toBeGreaterThan(0);
    // One error, at the string given for vcpus: the call is wrong, not the declarations.
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^wrong\\.ts\\(2,${wrongCall.indexOf('vcpus') + 1}\\): error TS`))]);
    expect(wrong.stdout).toMatch(/Type 'string' is not assignable to type 'number'/);
  }, 2 * STEP_MS);
});
