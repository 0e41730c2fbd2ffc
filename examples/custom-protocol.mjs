/**
 * A custom lock protocol with an inversion, and the validator reporting it.
 * examples/custom-protocol/its-first.mjs takes its_lock before config_lock
 * for SAVE/RESTORE but config_lock before its_lock for register access. Two
 * checks catch it:
 *  - statically: asking for the hierarchy the protocol implies ('derive')
 *    fails, naming the two paths that disagree;
 *  - at run time: built-in stress scenario (a) save-busy, run under this
 *    protocol with the lock-order validator on, reports the cycle with the
 *    operation behind each edge, and the breach of today's declared order
 *    (and a second inversion, its_lock against cmd_lock, nobody planted).
 * Exit status 0 when the validator reported the inversion (what this shows).
 *
 *   npm run build && node examples/custom-protocol.mjs [scenario]
 */
import { findScenario, formatFinding, resolveLockProtocol, runScenario } from 'vgic-lab';
import itsFirst from './custom-protocol/its-first.mjs';

try {
  resolveLockProtocol({ ...itsFirst, hierarchy: 'derive' });
  console.log('derive: the protocol implies one order');
} catch (e) {
  console.log(`derive: ${e.message}`);
}

const scenario = findScenario(process.argv[2] ?? 'save-busy');
const outcome = await runScenario(scenario, { seconds: 0.5, lockProtocol: itsFirst, schedule: { seed: 1 } });
console.log(`${outcome.verdict.toUpperCase()} ${scenario.name} under '${outcome.lockProtocol}': ${outcome.observed}`);
for (const f of outcome.findings) console.log(`\n${formatFinding(f)}`);

const inversion = outcome.findings.find((f) => f.kind === 'inversion' && f.classes.includes('config_lock') && f.classes.includes('its.its_lock'));
console.log(`\nthe validator ${inversion ? 'reported' : 'did NOT report'} the config_lock <-> its.its_lock inversion`);
process.exitCode = inversion ? 0 : 1;
