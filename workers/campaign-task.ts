/** Campaign pool task (piscina): run one scenario with one seed, return its JSON-safe outcome. */
import type { CampaignTask } from '../src/stress/campaign.js';
import { runScenario } from '../src/stress/runner.js';
import type { ScenarioOutcome } from '../src/stress/scenario.js';
import { findScenario } from '../src/stress/scenarios/index.js';

export default async function campaignTask(task: CampaignTask): Promise<ScenarioOutcome> {
  const scenario = findScenario(task.scenario);
  if (scenario === undefined) throw new RangeError(`no scenario '${task.scenario}'`);
  return runScenario(scenario, task.options);
}
