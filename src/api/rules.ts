// Rule sets over REST: store a version (validated and compiled first), activate it, roll back — processors switch without restart.
import type { FastifyInstance } from 'fastify';
import { backtest, BacktestDeadlineError, DecisionEngine, MAX_BACKTEST_EVENTS, parseRuleSet, parseRuleSetText, RuleSetError, RuleSetTooLargeError, type RuleSetDefinition } from '../decide/index.ts';
import { clip } from '../observe/index.ts';
import { activateRuleSet, activeRuleSet, decidedHistory, rollBackRuleSet, ruleSetActivations, ruleSetVersions, RuleSetVersionError, saveRuleSet, storedRuleSet, type Database } from '../store/index.ts';

export interface RuleControl {
  db: Database;
  /** The features this deployment computes: a condition reading another is refused before it is stored. */
  features: readonly string[];
  /** Their version: stored vectors of another feature set are not read by a backtest's conditions. */
  featureSet: string;
  /** Apply the store's active rule set (and lists) in this process now. */
  follow(): Promise<{ rules: string; lists: number }>;
  /** Budget of one backtest (RTDS_BACKTEST_TIMEOUT_MS). */
  backtestTimeoutMs: number;
}

const refusal = { type: 'object', properties: { error: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } } } as const;
/** A rule set refused: 413 beyond a size bound, 422 otherwise; a stored version unknown or inactive: its own status. */
function refusedRuleSet(err: unknown): { status: 404 | 409 | 413 | 422; body: { error: string; problems?: string[] } } | undefined {
  if (err instanceof RuleSetError) return { status: err instanceof RuleSetTooLargeError ? 413 : 422, body: { error: err.message, problems: err.problems } };
  if (err instanceof RuleSetVersionError) return { status: err.status, body: { error: err.message } };
  return undefined;
}

const state = { type: 'object', properties: { active: { type: ['string', 'null'] }, served: { type: 'string' } } } as const;

/** Activations listed with the versions: enough to see what a few rollbacks walk back through. */
const ACTIVATIONS_LISTED = 50;

/** A rule set sent as JSON, or as text (YAML or JSON, `content-type: text/plain`) as a rule set file is written. */
const candidateOf = (body: unknown): RuleSetDefinition => (typeof body === 'string' ? parseRuleSetText(body, 'request body') : parseRuleSet(body, 'request body'));

export function registerRuleRoutes(app: FastifyInstance, rules: RuleControl): void {
  const now = async (): Promise<{ active: string | null; served: string }> => {
    const served = await rules.follow();
    return { active: await activeRuleSet(rules.db), served: served.rules };
  };

  app.get('/api/v1/rules', { schema: { tags: ['rules'], summary: `Stored rule set versions, the active one, the one this process decides with, and the latest ${ACTIVATIONS_LISTED} activations (newest first).` } }, async () => ({
    ...(await now()),
    versions: await ruleSetVersions(rules.db),
    activations: await ruleSetActivations(rules.db, ACTIVATIONS_LISTED),
  }));

  app.get(
    '/api/v1/rules/:version',
    { schema: { tags: ['rules'], summary: 'A stored rule set version as stored (defaults filled in).', params: { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] }, response: { 404: refusal } } },
    async (req, reply) => {
      const { version } = req.params as { version: string };
      try {
        return await storedRuleSet(rules.db, version);
      } catch (err) {
        if (err instanceof RuleSetVersionError && err.status === 404) return reply.code(404).send({ error: err.message });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/rules',
    { schema: { tags: ['rules'], summary: 'Store a rule set version (JSON, or YAML as text/plain; docs/rules.md) after validating and compiling it; not yet active. At most 1,000 rules (413 beyond).', response: { 201: { type: 'object', properties: { version: { type: 'string' }, stored: { type: 'boolean' } } }, 404: refusal, 409: refusal, 413: refusal, 422: refusal } } },
    async (req, reply) => {
      try {
        const ruleSet = candidateOf(req.body);
        // Compiled as the processors will: a condition over a feature this deployment lacks is refused now, not at activation.
        new DecisionEngine(ruleSet, { features: rules.features });
        const outcome = await saveRuleSet(rules.db, ruleSet);
        req.log.info({ rules_version: clip(ruleSet.version), outcome }, 'rule set stored over the API');
        return reply.code(201).send({ version: ruleSet.version, stored: outcome === 'stored' });
      } catch (err) {
        const refused = refusedRuleSet(err);
        if (refused === undefined) throw err;
        return reply.code(refused.status).send(refused.body);
      }
    },
  );

  app.post(
    '/api/v1/rules/backtest',
    {
      schema: {
        tags: ['rules'],
        summary: `Replay stored decisions through a candidate rule set (the body, JSON or YAML as text/plain, or ?version= a stored one): decision mix against the live one, the decisions it changes, hits per rule, precision and recall on labelled events. At most ${MAX_BACKTEST_EVENTS} decisions (413 beyond) within RTDS_BACKTEST_TIMEOUT_MS (503 past it).`,
        querystring: {
          type: 'object',
          properties: {
            version: { type: 'string' },
            since: { type: 'string', format: 'date-time' },
            // No schema maximum: beyond it the answer is 413 with the bound, as for too many rules.
            limit: { type: 'integer', minimum: 1, default: MAX_BACKTEST_EVENTS, description: `The latest decisions replayed; at most ${MAX_BACKTEST_EVENTS}.` },
          },
        },
        response: { 404: refusal, 409: refusal, 413: refusal, 422: refusal, 503: { type: 'object', properties: { error: { type: 'string' }, replayed: { type: 'integer' }, events: { type: 'integer' }, timeout_ms: { type: 'integer' } } } },
      },
    },
    async (req, reply) => {
      // The budget counts from the request: reading the history and compiling the rules spend it too.
      const deadline = { at: performance.now() + rules.backtestTimeoutMs, timeoutMs: rules.backtestTimeoutMs };
      const query = req.query as { version?: string; since?: string; limit: number };
      if (query.limit > MAX_BACKTEST_EVENTS) return reply.code(413).send({ error: `limit=${query.limit}: a backtest replays at most ${MAX_BACKTEST_EVENTS} stored decisions` });
      let engine: DecisionEngine;
      try {
        const candidate: RuleSetDefinition = query.version === undefined ? candidateOf(req.body) : await storedRuleSet(rules.db, query.version);
        engine = new DecisionEngine(candidate, { features: rules.features });
      } catch (err) {
        const refused = refusedRuleSet(err);
        if (refused === undefined) throw err;
        return reply.code(refused.status).send(refused.body);
      }
      const history = await decidedHistory(rules.db, { since: query.since === undefined ? undefined : new Date(query.since), limit: query.limit });
      req.log.info({ rules_version: clip(engine.version), rules: engine.ruleSet.rules.length, events: history.length, timeout_ms: rules.backtestTimeoutMs }, 'backtest replaying stored decisions');
      try {
        return await backtest(
          engine,
          history.map((h) => ({ ...h, features: h.feature_set === rules.featureSet ? h.features : undefined })),
          { deadline },
        );
      } catch (err) {
        if (!(err instanceof BacktestDeadlineError)) throw err;
        req.log.warn({ rules_version: clip(engine.version), replayed: err.replayed, events: err.events, timeout_ms: err.timeoutMs }, 'backtest stopped at its deadline');
        return reply.code(503).send({ error: err.message, replayed: err.replayed, events: err.events, timeout_ms: err.timeoutMs });
      }
    },
  );

  app.post(
    '/api/v1/rules/:version/activate',
    { schema: { tags: ['rules'], summary: 'Decide with this version from the next batch on, in every process.', params: { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] }, response: { 200: state, 404: refusal, 409: refusal } } },
    async (req, reply) => {
      const { version } = req.params as { version: string };
      try {
        await activateRuleSet(rules.db, version);
      } catch (err) {
        if (err instanceof RuleSetVersionError) return reply.code(err.status).send({ error: err.message });
        throw err;
      }
      req.log.info({ rules_version: clip(version) }, 'rule set activated over the API');
      return now();
    },
  );

  app.post('/api/v1/rules/rollback', { schema: { tags: ['rules'], summary: 'Activate the rule set that was active before the current one.', response: { 200: state, 404: refusal, 409: refusal } } }, async (req, reply) => {
    try {
      const version = await rollBackRuleSet(rules.db);
      req.log.info({ rules_version: clip(version) }, 'rule set rolled back over the API');
    } catch (err) {
      if (err instanceof RuleSetVersionError) return reply.code(err.status).send({ error: err.message });
      throw err;
    }
    return now();
  });
}
