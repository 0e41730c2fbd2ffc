/**
 * Lock protocols from outside the code: a built-in name, a JSON file, or a
 * module whose default export is a LockProtocol (what `vgic-lab stress
 * --protocol` takes). Every error is a TypeError naming the option and the
 * file, so the CLI reports it as a usage error.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCK_PROTOCOLS, resolveLockProtocol, type LockProtocol } from './lock-protocol.js';

/**
 * 'upstream', 'v7-2017', a `.json` file, or a `.mjs`/`.js` module (default
 * export) holding a LockProtocol; paths are relative to the working directory.
 * Resolves to the validated protocol (its 'derive' hierarchy computed).
 */
export async function loadLockProtocol(spec: string, option = 'lockProtocol'): Promise<LockProtocol> {
  if (typeof spec !== 'string' || spec === '') throw new TypeError(`${option} must be a protocol name or a file`);
  if (LOCK_PROTOCOLS[spec] !== undefined) return LOCK_PROTOCOLS[spec];
  const where = `${option} ${spec}`;
  const path = resolve(spec);
  if (/\.json$/i.test(spec)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new TypeError(`${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new TypeError(`${where}: not JSON (${(e as Error).message})`);
    }
    return resolveLockProtocol(data as LockProtocol, where);
  }
  if (/\.(mjs|js)$/i.test(spec)) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (e) {
      throw new TypeError(`${where}: cannot import it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (mod.default === undefined) throw new TypeError(`${where}: the module has no default export (export default { name, itsCtrl, ... })`);
    return resolveLockProtocol(mod.default as LockProtocol, where);
  }
  throw new TypeError(`${option}: '${spec}' is neither a built-in protocol (${Object.keys(LOCK_PROTOCOLS).join(', ')}) nor a .json or .mjs/.js file`);
}
