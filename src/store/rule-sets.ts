// Repository of `rule_sets` and `rule_set_activations`: rule sets as versioned data, the active one, and the history a rollback walks.
import type { RuleSetDefinition } from '../decide/index.ts';
import type { Database } from './database.ts';
import { isUniqueViolation } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

export class RuleSetVersionError extends Error {
  override readonly name = 'RuleSetVersionError';
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
  }
}

/** Store a validated rule set under its own version; the same version with other content is refused (409). */
export async function saveRuleSet(db: Queryable, ruleSet: RuleSetDefinition): Promise<'stored' | 'unchanged'> {
  try {
    await db.query('INSERT INTO rule_sets (version, definition) VALUES ($1, $2::jsonb)', [ruleSet.version, JSON.stringify(ruleSet)]);
    return 'stored';
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // Compared as jsonb, which ignores key order and spacing.
    const [row] = await db.query<{ same: boolean }>('SELECT definition = $2::jsonb AS same FROM rule_sets WHERE version = $1', [ruleSet.version, JSON.stringify(ruleSet)]);
    if (row?.same === true) return 'unchanged';
    throw new RuleSetVersionError(`rule set version "${ruleSet.version}" is stored with other rules: give the new rules a new version`, 409);
  }
}

export async function storedRuleSet(db: Queryable, version: string): Promise<RuleSetDefinition> {
  const [row] = await db.query<{ definition: RuleSetDefinition }>('SELECT definition FROM rule_sets WHERE version = $1', [version]);
  if (row === undefined) throw new RuleSetVersionError(`no rule set version "${version}"`, 404);
  return row.definition;
}

export async function activateRuleSet(db: Queryable, version: string): Promise<void> {
  await storedRuleSet(db, version);
  await db.query('INSERT INTO rule_set_activations (version) VALUES ($1)', [version]);
}

/** The active rule set's version, or null when none was ever activated (the file or built-in set decides). */
export async function activeRuleSet(db: Queryable): Promise<string | null> {
  const [row] = await db.query<{ version: string }>('SELECT version FROM rule_set_activations ORDER BY id DESC LIMIT 1');
  return row?.version ?? null;
}

export async function ruleSetVersions(db: Queryable): Promise<{ version: string; created_at: string; rules: number }[]> {
  const rows = await db.query<{ version: string; created_at: Date; rules: number }>("SELECT version, created_at, jsonb_array_length(definition->'rules') AS rules FROM rule_sets ORDER BY created_at, version");
  return rows.map((r) => ({ version: r.version, created_at: r.created_at.toISOString(), rules: Number(r.rules) }));
}

/** The latest `limit` activations, newest first: what decided when, and what a rollback walks back through. */
export async function ruleSetActivations(db: Queryable, limit: number): Promise<{ version: string; activated_at: string }[]> {
  const rows = await db.query<{ version: string; activated_at: Date }>('SELECT version, activated_at FROM rule_set_activations ORDER BY id DESC LIMIT $1', [limit]);
  return rows.map((r) => ({ version: r.version, activated_at: r.activated_at.toISOString() }));
}

/** Activate the version active before the current one (past re-activations of the current); returns it. */
export async function rollBackRuleSet(db: Queryable): Promise<string> {
  const history = (await db.query<{ version: string }>('SELECT version FROM rule_set_activations ORDER BY id')).map((r) => r.version);
  const current = history.at(-1);
  while (history.length > 0 && history.at(-1) === current) history.pop();
  const previous = history.pop();
  if (previous === undefined) throw new RuleSetVersionError(`no rule set was active before ${current ?? 'none'}: nothing to roll back to`, 409);
  await activateRuleSet(db, previous);
  return previous;
}
