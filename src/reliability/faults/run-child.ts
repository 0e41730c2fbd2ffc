/**
 * The parent side of child.ts: run one fault in a child Node process and
 * check that the process exits by itself, with code 0, within a guard
 * after it reported (its destroy() was done by then). A child that does
 * not is killed and reported as such.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FaultOptions, FaultResult } from '../faults.js';
import type { ChildLine } from './child.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

export interface ChildRun {
  result?: FaultResult;
  /** Why there is no result (the child failed before reporting, or was killed). */
  error?: string;
  unhandled: string[];
  /** The child exited by itself with code 0 within exitGuardMs of reporting. */
  processExited: boolean;
  exitCode: number | null;
  /** From the result line to the exit (ms), when it exited. */
  exitMs?: number;
  stderr: string;
}

/** Run fault `name` in a child. `runGuardMs` bounds the whole run, `exitGuardMs` the exit after the report. */
export function runFaultInChild(name: string, opts: FaultOptions, runGuardMs: number, exitGuardMs: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify({ name, opts })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    let reportedAt: number | undefined;
    let line: ChildLine | undefined;
    let killedWhy: string | undefined;
    let timer = setTimeout(() => kill(`no report within ${runGuardMs} ms`), runGuardMs);
    const kill = (why: string) => {
      killedWhy = why;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (line !== undefined || nl < 0) return;
      reportedAt = performance.now();
      try {
        line = JSON.parse(stdout.slice(0, nl)) as ChildLine;
      } catch {
        line = { error: `unreadable report: ${stdout.slice(0, 200)}`, unhandled: [] };
      }
      clearTimeout(timer);
      timer = setTimeout(() => kill(`still running ${exitGuardMs} ms after its report`), exitGuardMs);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      const exitMs = reportedAt === undefined || killedWhy !== undefined ? undefined : performance.now() - reportedAt;
      resolve({
        ...(line?.result !== undefined ? { result: line.result } : {}),
        ...(killedWhy !== undefined || line?.error !== undefined ? { error: killedWhy ?? line!.error } : {}),
        ...(line === undefined && killedWhy === undefined ? { error: `exited (code ${code}) without a report` } : {}),
        unhandled: line?.unhandled ?? [],
        processExited: killedWhy === undefined && code === 0 && line !== undefined,
        exitCode: code,
        ...(exitMs !== undefined ? { exitMs } : {}),
        stderr,
      });
    });
  });
}
