// The consumer groups of a deployment as the broker's coordinator sees them: every processor in each group and the partitions it owns.
import { Admin } from '@platformatic/kafka';

/** One member of a group: a processor instance, and what the group's leader assigned to it. */
export interface GroupMember {
  member_id: string;
  /** RTDS_INSTANCE_ID when set (static membership), else null. */
  instance_id: string | null;
  client_id: string;
  host: string;
  owns: { topic: string; partitions: number[] }[];
}

export interface GroupView {
  group: string;
  /** The coordinator's word: STABLE, PREPARINGREBALANCE, COMPLETINGREBALANCE, EMPTY, DEAD. */
  state: string;
  members: GroupMember[];
}

/**
 * Describes groups through one admin client, opened at the first question and kept: a health page
 * polls every few seconds, and a connection per poll would cost more than the question.
 */
export class ConsumerGroups {
  #admin: Admin | undefined;

  constructor(
    private readonly brokers: string[],
    private readonly clientId: string,
  ) {}

  /** In the order asked: a stage's group where the stage is. */
  async describe(groups: readonly string[]): Promise<GroupView[]> {
    this.#admin ??= new Admin({ clientId: this.clientId, bootstrapBrokers: this.brokers });
    const described = await this.#admin.describeGroups({ groups: [...groups] });
    const found = groups.flatMap((name) => described.get(name) ?? []);
    return found.map((g) => ({
      group: g.id,
      state: g.state,
      members: [...g.members.values()]
        .map((m) => ({
          member_id: m.id,
          instance_id: m.groupInstanceId ?? null,
          client_id: m.clientId,
          host: m.clientHost,
          owns: [...(m.assignments?.values() ?? [])].map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) })),
        }))
        .sort((a, b) => (a.instance_id ?? a.member_id).localeCompare(b.instance_id ?? b.member_id)),
    }));
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
    this.#admin = undefined;
  }
}
