/**
 * What an ITS did with the commands and MSIs it was given. KVM discards every
 * command handler's result (spec 2.2); the model keeps them here, counted per
 * command and per result, so tests and the demo can see which check fired.
 * Plain data (structured-clonable), written only by the ITS's own thread.
 */
import { errnoName } from '../../uapi/errno.js';
import { eItsName, itsCmdName } from '../../uapi/its-cmd.js';

export interface ItsCommandCounts {
  count: number;
  /** Result name -> occurrences. */
  results: Record<string, number>;
}

export interface ItsStats {
  /** Commands read from the queue and dispatched (unknown opcodes included). */
  processed: number;
  /** Queue slots skipped because the 32-byte read from guest memory failed. */
  unreadable: number;
  /** Dispatched commands whose handler returned anything but 0. */
  failed: number;
  /** Per mnemonic ('MAPD', ..., 'VMAPP', or '0x42' for undefined opcodes). */
  byCommand: Record<string, ItsCommandCounts>;
  /** Per result name over all commands ('OK', 'E_ITS_MAPD_DEVICE_OOR', '-ENODEV', ...). */
  byResult: Record<string, number>;
  /** The most recent dispatched command and its handler result. */
  last: { opcode: number; command: string; result: number } | null;
  /** MSI slow-path outcomes (injectMsi): 1 delivered, 0 blocked by guest state, -EBUSY. */
  msi: { delivered: number; blocked: number; busy: number; other: number };
}

export function createItsStats(): ItsStats {
  return {
    processed: 0, unreadable: 0, failed: 0, byCommand: {}, byResult: {}, last: null,
    msi: { delivered: 0, blocked: 0, busy: 0, other: 0 },
  };
}

/** Name of a handler result: 'OK', the E_ITS_* name, or '-ERRNO'. */
export function itsResultName(result: number): string {
  if (result === 0) return 'OK';
  if (result > 0) return eItsName(result) ?? `0x${result.toString(16)}`;
  return errnoName(result);
}

export function recordItsCommand(s: ItsStats, opcode: number, result: number): void {
  const command = itsCmdName(opcode);
  const name = itsResultName(result);
  s.processed++;
  if (result !== 0) s.failed++;
  const c = s.byCommand[command] ?? (s.byCommand[command] = { count: 0, results: {} });
  c.count++;
  c.results[name] = (c.results[name] ?? 0) + 1;
  s.byResult[name] = (s.byResult[name] ?? 0) + 1;
  s.last = { opcode, command, result };
}

/** `result` is what injectMsi returns (already mapped: 1, 0 or -errno). */
export function recordItsMsi(s: ItsStats, result: number): void {
  if (result === 1) s.msi.delivered++;
  else if (result === 0) s.msi.blocked++;
  else if (result === -16) s.msi.busy++;
  else s.msi.other++;
}

/** How often command `opcode` (or any command, with -1) returned `result`. */
export function itsResultCount(s: ItsStats, opcode: number, result: number): number {
  const name = itsResultName(result);
  if (opcode < 0) return s.byResult[name] ?? 0;
  return s.byCommand[itsCmdName(opcode & 0xff)]?.results[name] ?? 0;
}
