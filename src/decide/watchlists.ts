// Block and allow lists of users, IPs, devices, countries and merchants: changed at runtime, read on every decision.
import type { Reason, RtdsEvent } from '../contracts/index.ts';

export const LIST_KINDS = ['block', 'allow'] as const;
export type ListKind = (typeof LIST_KINDS)[number];
export const LIST_FIELDS = ['user_id', 'ip_address', 'device_id', 'country', 'merchant_id'] as const;
export type ListField = (typeof LIST_FIELDS)[number];

export interface ListEntry {
  list: ListKind;
  field: ListField;
  value: string;
}

/** What the lists say of one event: blocked (rejected whatever else), allowed (the score does not decide), or nothing. */
export interface ListVerdict {
  blocked: Reason | undefined;
  allowed: Reason | undefined;
}

const NONE: ListVerdict = { blocked: undefined, allowed: undefined };

/**
 * One version of the lists, immutable: a change makes a new one, swapped in between two batches.
 * Looking an event up costs one Set probe per field it has.
 */
export class Watchlists {
  private readonly sets: Record<ListKind, Map<ListField, Set<string>>>;
  readonly size: number;

  constructor(
    /** Increases with every change in the store; 0 for no lists. */
    readonly version: number,
    entries: readonly ListEntry[],
  ) {
    this.sets = { block: new Map(), allow: new Map() };
    for (const { list, field, value } of entries) {
      let set = this.sets[list].get(field);
      if (set === undefined) this.sets[list].set(field, (set = new Set()));
      set.add(value);
    }
    this.size = entries.length;
  }

  static readonly EMPTY = new Watchlists(0, []);

  check(event: RtdsEvent): ListVerdict {
    if (this.size === 0) return NONE;
    const blocked = this.find('block', event);
    const allowed = blocked === undefined ? this.find('allow', event) : undefined;
    if (blocked === undefined && allowed === undefined) return NONE;
    return {
      blocked: blocked === undefined ? undefined : { code: 'block_list', source: 'rule', message: `${blocked.field} ${blocked.value} is on the block list` },
      allowed: allowed === undefined ? undefined : { code: 'allow_list', source: 'rule', message: `${allowed.field} ${allowed.value} is on the allow list` },
    };
  }

  private find(list: ListKind, event: RtdsEvent): { field: ListField; value: string } | undefined {
    for (const [field, set] of this.sets[list]) {
      const value = event[field];
      if (value !== undefined && set.has(value)) return { field, value };
    }
    return undefined;
  }
}
