/** Child Node processes for tests: a script, or the vgic-lab command as a user runs it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HANG_MS } from './wait.js';

export interface NodeRun { code: number | null; stdout: string; stderr: string }

/** Where and how a child runs: its directory, environment and hang guard. */
export interface RunOptions { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }

/** Run `cmd args`; resolves with its exit code and output; kills it if it outlives the guard. */
export function runCommand(cmd: string, args: string[], o: RunOptions = {}): Promise<NodeRun> {
  const timeoutMs = o.timeoutMs ?? HANG_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run `node script args`. */
export function runNode(script: string, args: string[], timeoutMs = HANG_MS): Promise<NodeRun> {
  return runCommand(process.execPath, [script, ...args], { timeoutMs });
}

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** `vgic-lab args...` from the build. */
export function cli(args: string[], timeoutMs = HANG_MS): Promise<NodeRun> {
  return runNode(MAIN, args, timeoutMs);
}
