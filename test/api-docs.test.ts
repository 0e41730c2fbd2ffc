/**
 * `npm run docs` (typedoc) documents exactly the package's entry points and
 * fails on any warning: an exported symbol or option field without a TSDoc
 * comment, or a type a public signature uses that the API does not export.
 * The check runs typedoc over the sources without writing HTML; a small
 * fixture shows that the same configuration rejects both mistakes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TYPEDOC = join(ROOT, 'node_modules', '.bin', 'typedoc');
const CONFIG = join(ROOT, 'typedoc.json');
/** Guards against hangs only (typedoc builds a whole TypeScript program). */
const RUN_MS = 180_000;

function typedoc(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TYPEDOC, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`typedoc ${args.join(' ')} did not finish within ${RUN_MS} ms: ${output}`));
    }, RUN_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

describe('the API reference', () => {
  it("documents the package's entry points: one typedoc entry point per package.json export", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { types: string }> };
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8')) as { entryPoints: string[] };
    // ./dist/src/guest/public.d.ts is built from src/guest/public.ts
    const fromExports = Object.entries(pkg.exports).filter(([k]) => k !== './package.json')
      .map(([, t]) => (typeof t === 'string' ? t : t.types).replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts'));
    expect([...cfg.entryPoints].sort()).toEqual(fromExports.sort());
  });

  it('typedoc finds every export and option documented and every type it references exported', async () => {
    const r = await typedoc(['--emit', 'none'], ROOT);
    expect(r.output.split('\n').filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
    expect(r.code).toBe(0);
  }, RUN_MS);

  it('the same configuration fails on an undocumented export and on an unexported type in a signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgic-typedoc-'));
    try {
      const config = { ...(JSON.parse(readFileSync(CONFIG, 'utf8')) as object), entryPoints: ['api.ts'], tsconfig: 'tsconfig.json' };
      writeFileSync(join(dir, 'typedoc.json'), JSON.stringify(config));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', version: '1.0.0', type: 'module' }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', noEmit: true }, files: ['api.ts'] }));
      writeFileSync(join(dir, 'hidden.ts'), '/** Not re-exported by api.ts. */\nexport interface Hidden { /** A field. */ a: number }\n');
      writeFileSync(join(dir, 'api.ts'), [
        "import type { Hidden } from './hidden.js';",
        'export const undocumented = 1;',
        '/** Documented, but its result type is not exported. */',
        'export function leaks(): Hidden { return { a: 1 }; }',
      ].join('\n'));
      const r = await typedoc(['--emit', 'none'], dir);
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/undocumented \(Variable\).*does not have any documentation/);
      expect(r.output).toMatch(/Hidden, defined in fixture\/hidden\.ts, is referenced by leaks but not included in the documentation/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, RUN_MS);
});
