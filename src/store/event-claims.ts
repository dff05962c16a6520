// Repository of `event_claims`: the one log record of each event id that may be decided — where every path agrees before deciding.
import type { LogPosition } from '../transport/log.ts';
import { Backoff, type RetryPace } from './backoff.ts';
import type { Database } from './database.ts';
import { EMBEDDED_LOG } from './events.ts';
import { SharedRoundTrips } from './shared-round-trips.ts';
import { classifyStoreError, type StoreFailure } from './statement.ts';

/** The claims database (Database.claims), or anything that queries it. */
type Queryable = Pick<Database, 'query'>;

/** A valid record asking for its event id, with the hash of its body (contracts' bodyHash). */
export interface ClaimRequest {
  event_id: string;
  body_hash: string;
  position: LogPosition;
}

/**
 * The record holding an event id: the hash of its body (null for an event decided before claims
 * were kept) and its position, when in the claimant's log (null in another log).
 */
export interface ClaimHolder {
  body_hash: string | null;
  position: LogPosition | null;
}

interface ClaimRow {
  event_id: string;
  body_hash: string | null;
  log_topic: string | null;
  log_partition: number | null;
  log_offset: number | null;
}

const CLAIM_COLUMNS = 'event_id, body_hash, log_topic, log_partition, log_offset::float8 AS log_offset';

/** A JSON array of ids ($1) as a primary key's look-up: see readClaims. */
const ANY_OF_IDS = 'ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))';

const CLAIM_SQL = `
  INSERT INTO event_claims (event_id, body_hash, log_topic, log_partition, log_offset)
  SELECT event_id, body_hash, $2, log_partition, log_offset
    FROM jsonb_to_recordset($1::jsonb) AS w(event_id text, body_hash text, log_partition integer, log_offset bigint)
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id`;

/**
 * Claim each requested event id (distinct ids) for its record in `log`, and say who holds each:
 * the record itself — claimed now, or by it before (a redelivery after a crash or a rebalance) —
 * or another. One statement when every id is free, the rule; a second reads the holders of the
 * others. Not one statement for both: reading the holders within the insert costs 2–5× the plain
 * insert (measured on PGlite and PostgreSQL), and could not see a claim committed while the
 * insert waited on it (its snapshot is older); a statement begun after the insert sees every
 * holder (read committed). Each is autocommitted: a claim holds even if the batch is then
 * dropped, and its record, read again, finds it its own.
 */
export async function claimEvents(db: Queryable, log: string, requests: readonly ClaimRequest[]): Promise<ClaimHolder[]> {
  const wanted = requests.map((r) => ({ event_id: r.event_id, body_hash: r.body_hash, log_partition: r.position.partition, log_offset: r.position.offset }));
  const claimed = new Set((await db.query<{ event_id: string }>(CLAIM_SQL, [JSON.stringify(wanted), log])).map((r) => r.event_id));
  const held = requests.filter((r) => !claimed.has(r.event_id)).map((r) => r.event_id);
  const holders = new Map(held.length === 0 ? [] : (await readClaims(db, held)).map((row) => [row.event_id, holderOf(row, log)]));
  return requests.map((r) => {
    if (claimed.has(r.event_id)) return { body_hash: r.body_hash, position: r.position };
    const holder = holders.get(r.event_id);
    if (holder === undefined) throw new Error(`event ${JSON.stringify(r.event_id.slice(0, 64))} is neither claimed nor held: its claim vanished while being read`);
    return holder;
  });
}

/** The hash of the body holding each of `eventIds` that is claimed (null: decided before claims were kept); one query. */
export async function claimedBodies(db: Queryable, eventIds: readonly string[]): Promise<Map<string, string | null>> {
  const rows = eventIds.length === 0 ? [] : await readClaims(db, eventIds);
  return new Map(rows.map((r) => [r.event_id, r.body_hash]));
}

/** Claims of earlier embedded logs read, and checked against the stored events, this many at a time. */
const LOST_CLAIMS_CHECKED_AT_ONCE = 5000;

/**
 * Give up the claims of records of an earlier embedded log that were never decided (no event
 * stored): that log is gone — kept in memory, or its folder replaced — so nobody will decide them,
 * and a re-send must be. One embedded process uses a store at a time, so no live log is touched,
 * and no event of an earlier log is stored between the look-up and the release. Claims and events
 * may live in two databases (Database.claims): the candidates are read from the claims in pages,
 * each page checked against the events.
 */
export async function releaseLostClaims(db: Database, log: string): Promise<number> {
  let released = 0;
  for (let after = ''; ; ) {
    const candidates = (
      await db.claims.query<{ event_id: string }>(
        `SELECT event_id FROM event_claims WHERE log_topic LIKE '${EMBEDDED_LOG}@%' AND log_topic <> $1 AND event_id > $2 ORDER BY event_id LIMIT $3`,
        [log, after, LOST_CLAIMS_CHECKED_AT_ONCE],
      )
    ).map((r) => r.event_id);
    if (candidates.length === 0) return released;
    const stored = new Set((await db.query<{ event_id: string }>(`SELECT event_id FROM events WHERE event_id = ${ANY_OF_IDS}`, [JSON.stringify(candidates)])).map((r) => r.event_id));
    const lost = candidates.filter((id) => !stored.has(id));
    if (lost.length > 0) {
      const [row] = await db.claims.query<{ n: number }>(`WITH gone AS (DELETE FROM event_claims WHERE event_id = ${ANY_OF_IDS} RETURNING 1) SELECT count(*)::int AS n FROM gone`, [JSON.stringify(lost)]);
      released += row!.n;
    }
    after = candidates.at(-1)!;
  }
}

/**
 * Through the primary key: `= ANY(ARRAY(…))` probes the index for each id, where `IN (SELECT
 * jsonb_array_elements_text(…))` was planned as a hash join over a scan of the whole table — a
 * look-up that grew with every event ever claimed (5–12 ms at 50,000 claims on PGlite, 0.3–3 ms
 * this way).
 */
function readClaims(db: Queryable, eventIds: readonly string[]): Promise<ClaimRow[]> {
  return db.query<ClaimRow>(`SELECT ${CLAIM_COLUMNS} FROM event_claims WHERE event_id = ${ANY_OF_IDS}`, [JSON.stringify(eventIds)]);
}

function holderOf(row: ClaimRow, log: string): ClaimHolder {
  const here = row.log_topic === log && row.log_partition !== null && row.log_offset !== null;
  return { body_hash: row.body_hash, position: here ? { partition: row.log_partition!, offset: row.log_offset! } : null };
}

export interface StoreClaimsOptions {
  /** Name of the log (topic) the positions refer to. */
  log: string;
  retry?: RetryPace;
  /** Called after each round answered, with its duration (retries included) and the ids it claimed or read. */
  onRound?: (ms: number, ids: number) => void;
  /** Called after each failed claim, which is retried after `retryInMs`. */
  onError?: (err: unknown, failure: StoreFailure, retryInMs: number) => void;
}

/**
 * The processor's claims, in the store: one statement at a time, for every claim asked in the same
 * turn or while the previous one ran — so the embedded log's partitions, each asking for its
 * batch, share round trips. A failed statement is retried with backoff, as the sink retries its
 * writes, whatever the failure: a store that is away comes back, and a validated event id is
 * nothing the store refuses.
 * Nothing is decided unclaimed, so while the store is away the processor waits and the log keeps
 * what it has not decided. After `close` a claim never settles: its batch is neither decided nor
 * committed, and is read again at the next start.
 */
export class StoreClaims {
  private readonly backoff: Backoff;
  private readonly rounds: SharedRoundTrips<ClaimRequest, ClaimHolder>;

  constructor(
    private readonly db: Queryable,
    private readonly options: StoreClaimsOptions,
  ) {
    this.backoff = new Backoff(options.retry);
    this.rounds = new SharedRoundTrips((requests) => this.claimRound(requests));
  }

  claim(requests: readonly ClaimRequest[]): Promise<ClaimHolder[]> {
    return this.rounds.ask(requests);
  }

  /** Stop retrying (a shutdown past its bound). */
  close(): void {
    this.backoff.giveUp();
  }

  /** The first request of an id in the round asks; another asking for it at once (a re-send in another partition) learns its holder. */
  private async claimRound(requests: readonly ClaimRequest[]): Promise<ClaimHolder[]> {
    const first = new Map<string, ClaimRequest>();
    for (const r of requests) if (!first.has(r.event_id)) first.set(r.event_id, r);
    const asked = first.size === requests.length ? requests : [...first.values()];
    const began = performance.now();
    const holders = await this.attempt(asked);
    if (holders !== undefined) this.options.onRound?.(performance.now() - began, asked.length);
    // Given up: this round never settles, and with it every later claim (the rounds go one at a time).
    if (holders === undefined) return new Promise<never>(() => undefined);
    if (asked === requests) return holders;
    const holderOf = new Map(asked.map((r, i) => [r.event_id, holders[i]!]));
    return requests.map((r) => holderOf.get(r.event_id)!);
  }

  private async attempt(requests: readonly ClaimRequest[]): Promise<ClaimHolder[] | undefined> {
    for (let attempt = 0; !this.backoff.givenUp; attempt++) {
      try {
        return await claimEvents(this.db, this.options.log, requests);
      } catch (err) {
        const pauseMs = this.backoff.delayMs(attempt);
        this.options.onError?.(err, classifyStoreError(err), pauseMs);
        await this.backoff.pause(pauseMs);
      }
    }
    return undefined;
  }
}
