/**
 * The README and the guides stay true to the tree: every relative link
 * points to an existing file, code a guide says comes from an example is
 * that example's code (its lines, in order), and the README's first VM is
 * examples/first-vm.mjs verbatim. The examples themselves are run by
 * test/examples.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GUIDES = join(ROOT, 'docs', 'guides');
const DOCS = [join(ROOT, 'README.md'), ...readdirSync(GUIDES).filter((f) => f.endsWith('.md')).map((f) => join(GUIDES, f))];
const FENCE = /^```[^\n]*\n([\s\S]*?)^```$/gm;

const withoutCode = (md: string) => md.replace(FENCE, '');

/** Markdown links [text](target) outside code blocks, with their target. */
function links(md: string): string[] {
  return [...withoutCode(md).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

describe('README.md and docs/guides', () => {
  it('link the four guides from the README', () => {
    const readme = links(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    for (const g of ['writing-a-guest', 'migrating-a-vm', 'finding-a-lock-inversion', 'benchmarking']) {
      expect(readme).toContain(`docs/guides/${g}.md`);
    }
  });

  it.each(DOCS.map((f) => [relative(ROOT, f), f]))('%s: every relative link points to an existing file', (_, file) => {
    const md = readFileSync(file, 'utf8');
    const local = links(md).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'));
    expect(local.length).toBeGreaterThan(0);
    const broken = local.filter((t) => !existsSync(resolve(dirname(file), decodeURI(t.split('#')[0]!))));
    expect(broken).toEqual([]);
  });

  it.each(DOCS.map((f) => [relative(ROOT, f), f]))("%s: code marked 'from <file>' is that file's code, line by line in order", (_, file) => {
    const md = readFileSync(file, 'utf8');
    for (const m of md.matchAll(/<!-- from (\S+) -->\n```[^\n]*\n([\s\S]*?)^```$/gm)) {
      const source = readFileSync(join(ROOT, m[1]!), 'utf8').split('\n').map((l) => l.trim());
      let at = 0;
      for (const line of m[2]!.split('\n').map((l) => l.trim()).filter((l) => l !== '')) {
        const found = source.indexOf(line, at);
        expect(found, `${m[1]}: "${line}" (after line ${at})`).toBeGreaterThanOrEqual(0);
        at = found + 1;
      }
    }
  });

  it("the README's first VM is examples/first-vm.mjs, verbatim", () => {
    const example = readFileSync(join(ROOT, 'examples', 'first-vm.mjs'), 'utf8');
    const code = example.slice(example.indexOf("import { createVm")).trimEnd();
    const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(FENCE)].map((b) => b[1]!.trimEnd());
    expect(blocks).toContain(code);
  });
});
