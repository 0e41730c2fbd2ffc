/**
 * The timeline's vocabulary, fixed in code: recorded events carry small
 * numbers (a category id, a name id) so the hot path writes no strings;
 * the export turns them back into names. Add new names at the end: ids are
 * positions.
 */

export const TIMELINE_CATEGORIES = ['vcpu', 'lock', 'actor', 'vgic', 'vmm', 'stress'] as const;
export type TimelineCategory = (typeof TIMELINE_CATEGORIES)[number];

export interface TimelineEventDef {
  name: string;
  cat: TimelineCategory;
  /** Names of the numeric args, in order; an arg named 'lock' is shown as the lock's name. */
  args: readonly string[];
}

export const TIMELINE_EVENTS = [
  { name: 'KVM_RUN', cat: 'vcpu', args: ['vcpu'] },
  { name: 'MMIO exit', cat: 'vcpu', args: ['gpa', 'len'] },
  { name: 'WFI', cat: 'vcpu', args: [] },
  { name: 'kick', cat: 'vcpu', args: ['vcpu'] },
  { name: 'lock wait', cat: 'lock', args: ['lock'] },
  { name: 'lock held', cat: 'lock', args: ['lock', 'trylock'] },
  { name: 'message', cat: 'actor', args: ['op', 'actor'] },
  { name: 'signalMsi', cat: 'vgic', args: ['devid', 'eventid'] },
  { name: 'ITS command', cat: 'vgic', args: ['cmd', 'its'] },
  { name: 'LPI delivered', cat: 'vgic', args: ['intid', 'vcpu'] },
  { name: 'SAVE_TABLES', cat: 'vmm', args: ['its'] },
  { name: 'RESTORE_TABLES', cat: 'vmm', args: ['its'] },
  { name: 'SAVE_PENDING_TABLES', cat: 'vmm', args: [] },
  { name: 'map_resources', cat: 'vmm', args: [] },
  { name: 'pause', cat: 'vmm', args: [] },
  { name: 'resume', cat: 'vmm', args: [] },
  { name: 'scenario step', cat: 'stress', args: ['step'] },
] as const satisfies readonly TimelineEventDef[];

export type TimelineEventName = (typeof TIMELINE_EVENTS)[number]['name'];

const ids = new Map<string, number>(TIMELINE_EVENTS.map((e, i) => [e.name, i]));

/** The id of a named event (throws on a name not in the table: a typo would record nothing useful). */
export function timelineEventId(name: TimelineEventName): number {
  const id = ids.get(name);
  if (id === undefined) throw new RangeError(`unknown timeline event ${JSON.stringify(name)}`);
  return id;
}

export const EV_KVM_RUN = timelineEventId('KVM_RUN');
export const EV_LOCK_WAIT = timelineEventId('lock wait');
export const EV_LOCK_HELD = timelineEventId('lock held');
export const EV_MMIO_EXIT = timelineEventId('MMIO exit');
export const EV_WFI = timelineEventId('WFI');
export const EV_MESSAGE = timelineEventId('message');
export const EV_SIGNAL_MSI = timelineEventId('signalMsi');
export const EV_PAUSE = timelineEventId('pause');
