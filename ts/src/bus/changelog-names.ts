/**
 * State changelog topics: a compacted topic per stateful consumer group,
 * `<group>-state-changelog`, with the partition count of the group's input,
 * record i of input partition p changing state kept in changelog partition p.
 * Created with the other topics (Bus.start, `tickcast topics create`, the
 * chart's init hook) as compacted topics.
 */

/** The changelog of a consumer group's state (e.g. `candles-state-changelog`). */
export function changelogTopic(group: string): string {
  return `${group}-state-changelog`;
}

/** The changelogs the services keep (created with the streams). */
export function changelogTopicNames(): string[] {
  return [changelogTopic('candles')];
}

export function isChangelogTopic(name: string): boolean {
  return name.endsWith('-state-changelog');
}
