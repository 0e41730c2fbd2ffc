/**
 * Text for people: a scenario outcome as a verdict line plus what was found
 * (findings, deadlocks, a stall) and the replay command, and the summary
 * table that ends `stress`. JSON output is the outcome objects themselves.
 */
import { formatFinding } from '../sync/validator-report.js';
import { formatDeadlock } from '../stress/deadlock.js';
import type { ScenarioOutcome, Stall } from '../stress/scenario.js';
import { findScenario } from '../stress/scenarios/index.js';
import { table } from './format.js';

const indent = (s: string, by = '      ') => s.split('\n').map((l) => (l ? by + l : l)).join('\n');

export function formatStall(s: Stall): string {
  return [`stall: no progress for ${s.afterMs} ms`, ...s.threads.map((t) =>
    `  ${t.name} waits for ${t.waitsFor}; holds ${t.holds.length ? t.holds.join(', ') : 'nothing'}`)].join('\n');
}

const letter = (o: ScenarioOutcome) => findScenario(o.scenario)?.letter ?? '?';

/** "PASS  b1  v7-2017  1.4 s  <observed>" + "expected: ..." and the details; `replayFlags` go on the replay command (the token carries no protocol). */
export function formatOutcome(o: ScenarioOutcome, replayFlags = ''): string {
  const lines = [
    `${o.verdict === 'pass' ? 'PASS' : 'FAIL'}  ${letter(o).padEnd(3)} ${o.scenario}  (${(o.durationMs / 1000).toFixed(1)} s)`,
    `      observed: ${o.observed}`,
    `      expected: ${o.expected}`,
  ];
  for (const f of o.findings) lines.push(indent(formatFinding(f)));
  for (const d of o.deadlocks) lines.push(indent(formatDeadlock(d)));
  if (o.stall) lines.push(indent(formatStall(o.stall)));
  if (o.traceHash !== undefined) lines.push(`      trace hash: ${o.traceHash}${o.decisions !== undefined ? ` (${o.decisions} decisions)` : ''}`);
  if (o.verdict === 'fail' || o.findings.length > 0 || o.deadlocks.length > 0 || o.stall) lines.push(`      replay: vgic-lab replay ${o.token}${replayFlags ? ` ${replayFlags}` : ''}`);
  return lines.join('\n');
}

/** The closing table: one row per scenario. */
export function summaryTable(outcomes: ScenarioOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.verdict === 'pass' ? 'PASS' : 'FAIL', letter(o), o.scenario, `${(o.durationMs / 1000).toFixed(1)} s`,
    o.findings.length, o.deadlocks.length, o.stall ? 'yes' : 'no', o.endedBy,
    Object.entries(o.figures).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', '),
  ]);
  const pass = outcomes.filter((o) => o.verdict === 'pass').length;
  return `${table(['verdict', 'id', 'scenario', 'time', 'findings', 'deadlocks', 'stall', 'ended by', 'figures'], rows)}\n` +
    `${outcomes.length} scenario${outcomes.length === 1 ? '' : 's'}: ${pass} passed, ${outcomes.length - pass} failed`;
}
