/**
 * The built-in scenarios, in the order (a .. f). Each lives in its
 * own file; this list is the only place that names them all.
 */
import type { Scenario } from '../scenario.js';
import { saveBusy } from './save-busy.js';
import { v72017 } from './v7-2017.js';
import { v72017Blocking } from './v7-2017-blocking.js';
import { upstream } from './upstream.js';
import { blindSpot } from './blind-spot.js';
import { migrateStorm } from './migrate-storm.js';
import { lpiSoak } from './lpi-soak.js';

/** The built-in stress scenarios, in order a .. f (`vgic-lab stress --list`). */
export const SCENARIOS: readonly Scenario[] = Object.freeze([saveBusy, v72017, v72017Blocking, upstream, blindSpot, migrateStorm, lpiSoak]);

/** A built-in scenario by name ('save-busy') or letter ('a'); undefined if there is none. */
export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name || s.letter === name);
}
