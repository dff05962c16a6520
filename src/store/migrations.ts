// Schema migrations, applied in order once each; the seed's tables are the first step.
import type { ClaimsDatabase, Database } from './database.ts';
import { countDecisionsOf } from './decision-minutes.ts';
import { LATENCY_BUCKETS } from './latency-histogram.ts';

/** A step's SQL: statements separated by `;`, or a list of statements when one holds a `;` itself (a function's body). */
interface Migration {
  version: number;
  name: string;
  sql: string | readonly string[];
}

/**
 * Held by every write of decisions (shared) and of labels (exclusive) while it copies verdicts
 * onto decision rows (migration 12): whichever of a decision and its label commits second sees
 * the other, so no verdict is missed by a decision stored at the same moment. A constant of
 * this schema, spelled 'rtds' in ASCII.
 */
const DECISION_LABELS_LOCK = 0x72746473;
/** A label's verdict as a decision row keeps it: the word the explorer filters by. */
const verdictOf = (isFraud: string): string => `CASE WHEN ${isFraud} THEN 'fraud' ELSE 'legit' END`;

/** The claims table, in the store's own schema (migration 11) and in the embedded claims database's. */
const EVENT_CLAIMS_TABLE = `
      CREATE TABLE event_claims (
        event_id      text PRIMARY KEY,
        -- sha256 of the body as sent (contracts' bodyHash), null for events decided before claims were kept.
        body_hash     text,
        log_topic     text,
        log_partition integer,
        log_offset    bigint,
        claimed_at    timestamptz NOT NULL DEFAULT now()
      )`;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'seed tables: events, decisions; dead letters and labels',
    sql: `
      CREATE TABLE events (
        event_id    text PRIMARY KEY,
        event_type  text NOT NULL,
        timestamp   timestamptz NOT NULL,
        user_id     text NOT NULL,
        session_id  text,
        ip_address  text,
        country     text,
        channel     text,
        amount      double precision,
        currency    text,
        merchant_id text,
        device_id   text,
        metadata    jsonb,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_user_time ON events (user_id, timestamp);

      CREATE TABLE decisions (
        decision_id        text PRIMARY KEY,
        -- decision_id is a function of event_id, so its primary key already allows one decision per event.
        event_id           text NOT NULL,
        decision           text NOT NULL CHECK (decision IN ('approved', 'flagged', 'rejected')),
        risk_score         double precision NOT NULL,
        reason             text NOT NULL,
        reasons            jsonb NOT NULL,
        -- The feature vector as little-endian float32 (names: feature_set), as JSONB parsing cost 3× the insert.
        features           bytea,
        feature_set        text,
        timestamp          timestamptz NOT NULL,
        processing_time_ms double precision NOT NULL,
        model_version      text,
        rules_version      text NOT NULL,
        late               boolean NOT NULL DEFAULT false,
        degraded           text NOT NULL DEFAULT 'none',
        created_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX decisions_time ON decisions (timestamp DESC, decision_id DESC);

      CREATE TABLE dead_letters (
        id          bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        source      text NOT NULL,
        event_id    text,
        payload     text NOT NULL,
        errors      jsonb NOT NULL
      );
      CREATE INDEX dead_letters_event ON dead_letters (event_id);

      CREATE TABLE labels (
        event_id    text PRIMARY KEY,
        is_fraud    boolean NOT NULL,
        labeled_at  timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 2,
    name: 'events remember their log position: the history a processor restores a partition from',
    sql: `
      ALTER TABLE events ADD COLUMN log_partition integer, ADD COLUMN log_offset bigint;
      CREATE INDEX events_log_position ON events (log_partition, log_offset)`,
  },
  {
    version: 3,
    name: 'log positions name their log: one database may serve several topics (prefixes) without mixing their histories',
    sql: `
      ALTER TABLE events ADD COLUMN log_topic text;
      DROP INDEX events_log_position;
      CREATE INDEX events_log_position ON events (log_topic, log_partition, log_offset)`,
  },
  {
    version: 4,
    name: 'labels are followed as they arrive: by receipt time, with overturned verdicts marked',
    sql: `
      ALTER TABLE labels ADD COLUMN revised boolean NOT NULL DEFAULT false;
      CREATE INDEX labels_received ON labels (received_at)`,
  },
  {
    version: 5,
    name: 'the model registry in the store: versions with their artifacts, and the activations history',
    sql: `
      CREATE TABLE models (
        version    text PRIMARY KEY,
        -- Versions are v<number>: the number orders them, and concurrent savers race for it.
        number     integer NOT NULL UNIQUE CHECK (number > 0),
        metadata   jsonb NOT NULL,
        -- The tfjs model.json, its weights manifest naming one shard: the weights column.
        model_json jsonb NOT NULL,
        weights    bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- The latest activation names the active version: one insert switches it and records history.
      CREATE TABLE model_activations (
        id           bigserial PRIMARY KEY,
        version      text NOT NULL REFERENCES models (version),
        activated_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    version: 6,
    name: 'a challenger model scores in shadow: the registry names it, and its score is kept beside the decision to compare the two on verdicts',
    sql: `
      -- The latest row names the challenger, and a null version stops it.
      CREATE TABLE model_challengers (
        id      bigserial PRIMARY KEY,
        version text REFERENCES models (version),
        set_at  timestamptz NOT NULL DEFAULT now()
      );
      ALTER TABLE decisions ADD COLUMN shadow_version text, ADD COLUMN shadow_score double precision;
      CREATE INDEX decisions_shadow ON decisions (shadow_version, timestamp DESC) WHERE shadow_version IS NOT NULL`,
  },
  {
    version: 7,
    name: 'block and allow lists, changed at runtime: entries, and a version every change moves on',
    sql: `
      CREATE TABLE list_entries (
        list     text NOT NULL CHECK (list IN ('block', 'allow')),
        field    text NOT NULL,
        value    text NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (list, field, value)
      );
      -- One row: processors poll it, and reload the entries when it moved.
      CREATE TABLE lists_version (
        one     boolean PRIMARY KEY DEFAULT true CHECK (one),
        version bigint NOT NULL
      );
      INSERT INTO lists_version (version) VALUES (0)`,
  },
  {
    version: 8,
    name: 'rule sets versioned in the store: each version as data, and the activations history',
    sql: `
      CREATE TABLE rule_sets (
        version    text PRIMARY KEY,
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- The latest activation names the rule set every processor decides with.
      CREATE TABLE rule_set_activations (
        id           bigserial PRIMARY KEY,
        version      text NOT NULL REFERENCES rule_sets (version),
        activated_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    version: 9,
    name: 'whether a decision had all of its history (a very late event may not)',
    sql: `ALTER TABLE decisions ADD COLUMN history text NOT NULL DEFAULT 'complete'`,
  },
  {
    version: 10,
    name: 'decisions say where their event time came from: the event’s timestamp, or the time RTDS received an event without one',
    sql: `
      ALTER TABLE decisions ADD COLUMN event_time_source text NOT NULL DEFAULT 'event' CHECK (event_time_source IN ('event', 'received'))`,
  },
  {
    version: 11,
    name: 'event claims: the one record of each event id that may be decided, with the hash of its body, claimed before deciding',
    sql: `
      ${EVENT_CLAIMS_TABLE};
      -- Every event decided so far holds its id: a re-send of it is never decided again.
      INSERT INTO event_claims (event_id, log_topic, log_partition, log_offset, claimed_at)
        SELECT event_id, log_topic, log_partition, log_offset, created_at FROM events`,
  },
  {
    version: 12,
    name: 'decisions counted per minute as they are stored (decision_minutes), with the decisions stored before counted once: what history reads beyond a quarter of an hour',
    sql: `
      CREATE TABLE decision_minutes (
        -- The minute of the decision time, and what the row counts: every decision (split none),
        -- or those of one event type or channel ('' for events without one).
        minute         timestamptz NOT NULL,
        split          text NOT NULL CHECK (split IN ('none', 'event_type', 'channel')),
        value          text NOT NULL,
        -- The sink that counted them: writers never wait for each other's rows, reads sum over writers.
        writer         text NOT NULL,
        decisions      integer NOT NULL,
        approved       integer NOT NULL,
        flagged        integer NOT NULL,
        rejected       integer NOT NULL,
        late           integer NOT NULL,
        degraded       integer NOT NULL,
        -- Split none only: processing_time_ms counted in the buckets of latency-histogram.ts, and its extremes.
        latency_counts integer[] CHECK (cardinality(latency_counts) = ${LATENCY_BUCKETS}),
        latency_min_ms double precision,
        latency_max_ms double precision,
        PRIMARY KEY (split, minute, value, writer)
      );
      ${countDecisionsOf({
        source: 'SELECT d.timestamp, e.event_type, e.channel, d.decision, d.late, d.degraded, d.processing_time_ms FROM decisions d LEFT JOIN events e ON e.event_id = d.event_id',
        writer: "'migration 12'",
      })}`,
  },
  {
    version: 13,
    name: 'the explorer: decisions keep the event fields and the verdict they are searched by, with an index per filter in the order pages are read',
    sql: [
      // Pages are read newest first by (timestamp, decision_id). A filter stays fast on 10 M rows
      // only when an index yields its rows in that order, so that a page reads its own rows and no
      // more; no index can across a join to events or labels, so the decision row keeps a copy of
      // the fields searched by (written with the decision; the verdict by the triggers below).
      `ALTER TABLE decisions ADD COLUMN event_type text, ADD COLUMN user_id text, ADD COLUMN channel text, ADD COLUMN merchant_id text,
         ADD COLUMN label text CHECK (label IN ('fraud', 'legit'))`,
      `UPDATE decisions d SET event_type = e.event_type, user_id = e.user_id, channel = e.channel, merchant_id = e.merchant_id FROM events e WHERE e.event_id = d.event_id`,
      // decision_id is 'dec_' || event_id (contracts' decisionIdFor): the primary key finds a verdict's decision.
      `UPDATE decisions d SET label = ${verdictOf('l.is_fraud')} FROM labels l WHERE d.decision_id = 'dec_' || l.event_id`,
      // Every index costs each decision's write, so rare values get partial indexes that hold only
      // their rows, and the common ones (approved, not labelled yet, on time, not degraded) are
      // read along decisions_time, where a page finds its rows within its first few hundred.
      ...['event_type', 'channel', 'user_id'].map((column) => `CREATE INDEX decisions_${column}_time ON decisions (${column}, timestamp DESC, decision_id DESC)`),
      `CREATE INDEX decisions_merchant_id_time ON decisions (merchant_id, timestamp DESC, decision_id DESC) WHERE merchant_id IS NOT NULL`,
      `CREATE INDEX decisions_outcome_time ON decisions (decision, timestamp DESC, decision_id DESC) WHERE decision <> 'approved'`,
      `CREATE INDEX decisions_label_time ON decisions (label, timestamp DESC, decision_id DESC) WHERE label IS NOT NULL`,
      `CREATE INDEX decisions_late_time ON decisions (timestamp DESC, decision_id DESC) WHERE late`,
      `CREATE INDEX decisions_degraded_time ON decisions (timestamp DESC, decision_id DESC) WHERE degraded <> 'none'`,
      // The codes alone, not the messages (each one new text): few keys per decision, each shared by many.
      `CREATE INDEX decisions_reason_codes ON decisions USING gin (jsonb_path_query_array(reasons, '$[*].code') jsonb_path_ops)`,
      // A verdict reaches its decision row from whichever of the two is stored second. Labels
      // mostly follow their decisions by days, so the few stored first wait in a table of their
      // own: a decision's write then costs one look at an empty table, not a lookup per decision.
      `CREATE TABLE labels_awaiting_decision (event_id text PRIMARY KEY)`,
      `INSERT INTO labels_awaiting_decision (event_id) SELECT l.event_id FROM labels l WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.decision_id = 'dec_' || l.event_id)`,
      // Triggers, so that every writer (COPY or INSERT, the sink, the labels' routes and topic) keeps the copy.
      `CREATE FUNCTION labels_mark_decisions() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_advisory_xact_lock(${DECISION_LABELS_LOCK});
         UPDATE decisions d SET label = v.label FROM (SELECT event_id, ${verdictOf('is_fraud')} AS label FROM stored) v
           WHERE d.decision_id = 'dec_' || v.event_id AND d.label IS DISTINCT FROM v.label;
         INSERT INTO labels_awaiting_decision (event_id)
           SELECT n.event_id FROM stored n WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.decision_id = 'dec_' || n.event_id)
           ON CONFLICT DO NOTHING;
         RETURN NULL;
       END $$`,
      // A transition table serves one event per trigger: labels are upserted (INSERT … ON CONFLICT DO UPDATE).
      `CREATE TRIGGER labels_inserted AFTER INSERT ON labels REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION labels_mark_decisions()`,
      `CREATE TRIGGER labels_updated AFTER UPDATE ON labels REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION labels_mark_decisions()`,
      `CREATE FUNCTION decisions_take_labels() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_advisory_xact_lock_shared(${DECISION_LABELS_LOCK});
         IF EXISTS (SELECT 1 FROM labels_awaiting_decision) THEN
           WITH taken AS (DELETE FROM labels_awaiting_decision a USING stored n WHERE a.event_id = n.event_id RETURNING a.event_id)
           UPDATE decisions d SET label = ${verdictOf('l.is_fraud')} FROM taken t JOIN labels l ON l.event_id = t.event_id WHERE d.decision_id = 'dec_' || t.event_id;
         END IF;
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER decisions_labelled AFTER INSERT ON decisions REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION decisions_take_labels()`,
    ],
  },
  {
    version: 14,
    // A column of its own (decisions have no JSONB of free metadata): null while tracing is off, and adding it rewrites no row.
    name: 'decisions keep the OpenTelemetry trace id their event was decided in',
    sql: `ALTER TABLE decisions ADD COLUMN trace_id text`,
  },
  {
    version: 15,
    name: 'the events’ user index dropped: no query reads events by user',
    // A user's decisions are searched on decisions (migration 13); the index cost 3 µs an event row
    // (PGlite). The explorer's own indexes stay: each one also bounds a page whose filter matches
    // few or no rows, which without it walks the whole table (docs/benchmarks.md, 2026-12-01).
    sql: `DROP INDEX events_user_time`,
  },
];

/**
 * The embedded claims database's own schema: `event_claims` alone. Its migration 11 stays in the
 * store's schema, where an embedded store made before claims moved holds them (moveClaims).
 */
const CLAIMS_MIGRATIONS: Migration[] = [{ version: 1, name: 'event claims, in a database of their own: a claim never waits for the sink', sql: EVENT_CLAIMS_TABLE }];

/** Claims moved out of the store in one statement each way: a few hundred kB per round trip. */
const CLAIMS_MOVED_AT_ONCE = 5000;

/**
 * Bring the store's schema up to date and, where its claims live apart (embedded), the claims
 * database's too, moving there any claim the store still holds. Returns the store's migrations applied.
 */
export async function migrate(db: Database): Promise<number[]> {
  const applied = await migrateSchema(db, MIGRATIONS);
  if (db.claims !== db) {
    await migrateSchema(db.claims, CLAIMS_MIGRATIONS);
    await moveClaims(db, db.claims);
  }
  return applied;
}

/**
 * Claims kept in the store (an embedded store made before they moved, or migration 11 run on one
 * made before claims) are copied to the claims database, then deleted from the store: an id
 * claimed before is still held after. Safe to stop anywhere: a copy never overwrites a claim, and
 * the store's rows go only once every one is copied, so the next open finishes the move.
 */
async function moveClaims(store: Database, claims: ClaimsDatabase): Promise<void> {
  for (let after = ''; ; ) {
    const rows = await store.query<{ event_id: string }>(
      'SELECT event_id, body_hash, log_topic, log_partition, log_offset::text AS log_offset, claimed_at FROM event_claims WHERE event_id > $1 ORDER BY event_id LIMIT $2',
      [after, CLAIMS_MOVED_AT_ONCE],
    );
    if (rows.length === 0) break;
    await claims.query(
      `INSERT INTO event_claims (event_id, body_hash, log_topic, log_partition, log_offset, claimed_at)
       SELECT event_id, body_hash, log_topic, log_partition, log_offset, claimed_at
         FROM jsonb_to_recordset($1::jsonb) AS c(event_id text, body_hash text, log_topic text, log_partition integer, log_offset bigint, claimed_at timestamptz)
       ON CONFLICT (event_id) DO NOTHING`,
      [JSON.stringify(rows)],
    );
    after = rows.at(-1)!.event_id;
  }
  await store.query('DELETE FROM event_claims');
}

async function migrateSchema(db: ClaimsDatabase, migrations: readonly Migration[]): Promise<number[]> {
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const done = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await db.batch([
      ...(typeof m.sql === 'string' ? m.sql.split(';') : m.sql)
        .map((s) => s.trim())
        .filter(Boolean)
        .map((sql) => ({ sql, params: [] })),
      { sql: 'INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', params: [m.version, m.name] },
    ]);
    applied.push(m.version);
  }
  return applied;
}
