/**
 * A child process that runs one fault (`node child.js '<json>'`, the JSON
 * being { name, opts }) and prints its FaultResult as one JSON line once
 * destroy() is done. It never calls process.exit(): the parent checks that
 * it exits by itself, which it does only if nothing of the VM (a worker, a
 * port, a timer, a pending wait) is left. An unhandled rejection or
 * exception is recorded in the result and makes the exit code 1.
 */
import { runFault, type FaultOptions, type FaultResult } from '../faults.js';

export interface ChildLine {
  result?: FaultResult;
  error?: string;
  /** Unhandled rejections and uncaught exceptions seen in the child. */
  unhandled: string[];
}

const unhandled: string[] = [];
const record = (kind: string) => (e: unknown) => {
  unhandled.push(`${kind}: ${String((e as Error)?.stack ?? e)}`);
  process.exitCode = 1;
};
process.on('unhandledRejection', record('unhandled rejection'));
process.on('uncaughtException', record('uncaught exception'));

const { name, opts } = JSON.parse(process.argv[2] ?? '{}') as { name: string; opts?: FaultOptions };
let line: ChildLine;
try {
  line = { result: await runFault(name, opts ?? {}), unhandled };
} catch (e) {
  line = { error: String((e as Error)?.message ?? e), unhandled };
  process.exitCode = 1;
}
process.stdout.write(`${JSON.stringify(line)}\n`);
