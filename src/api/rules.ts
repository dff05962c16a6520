// Rule sets over REST: store a version (validated and compiled first), activate it, roll back — processors switch without restart.
import type { FastifyInstance } from 'fastify';
import { backtest, DecisionEngine, parseRuleSet, RuleSetError, type RuleSetDefinition } from '../decide/index.ts';
import { activateRuleSet, activeRuleSet, decidedHistory, rollBackRuleSet, ruleSetVersions, RuleSetVersionError, saveRuleSet, storedRuleSet, type Database } from '../store/index.ts';

export interface RuleControl {
  db: Database;
  /** The features this deployment computes: a condition reading another is refused before it is stored. */
  features: readonly string[];
  /** Their version: stored vectors of another feature set are not read by a backtest's conditions. */
  featureSet: string;
  /** Apply the store's active rule set (and lists) in this process now. */
  follow(): Promise<{ rules: string; lists: number }>;
}

const refusal = { type: 'object', properties: { error: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } } } as const;
const state = { type: 'object', properties: { active: { type: ['string', 'null'] }, served: { type: 'string' } } } as const;

export function registerRuleRoutes(app: FastifyInstance, rules: RuleControl): void {
  const now = async (): Promise<{ active: string | null; served: string }> => {
    const served = await rules.follow();
    return { active: await activeRuleSet(rules.db), served: served.rules };
  };

  app.get('/api/v1/rules', { schema: { tags: ['rules'], summary: 'Stored rule set versions, the active one, and the one this process decides with.' } }, async () => ({
    ...(await now()),
    versions: await ruleSetVersions(rules.db),
  }));

  app.post(
    '/api/v1/rules',
    { schema: { tags: ['rules'], summary: 'Store a rule set version (YAML-shaped JSON, docs/rules.md) after validating and compiling it; not yet active.', response: { 201: { type: 'object', properties: { version: { type: 'string' }, stored: { type: 'boolean' } } }, 404: refusal, 409: refusal, 422: refusal } } },
    async (req, reply) => {
      try {
        const ruleSet = parseRuleSet(req.body, 'request body');
        // Compiled as the processors will: a condition over a feature this deployment lacks is refused now, not at activation.
        new DecisionEngine(ruleSet, { features: rules.features });
        const outcome = await saveRuleSet(rules.db, ruleSet);
        req.log.info({ rules_version: ruleSet.version, outcome }, 'rule set stored over the API');
        return reply.code(201).send({ version: ruleSet.version, stored: outcome === 'stored' });
      } catch (err) {
        if (err instanceof RuleSetError) return reply.code(422).send({ error: err.message, problems: err.problems });
        if (err instanceof RuleSetVersionError) return reply.code(err.status).send({ error: err.message });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/rules/backtest',
    {
      schema: {
        tags: ['rules'],
        summary: 'Replay stored decisions through a candidate rule set (the body, or ?version= a stored one): decision mix against the live one, the decisions it changes, hits per rule, precision and recall on labelled events.',
        querystring: {
          type: 'object',
          properties: { version: { type: 'string' }, since: { type: 'string', format: 'date-time' }, limit: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 100_000 } },
        },
      },
    },
    async (req, reply) => {
      const query = req.query as { version?: string; since?: string; limit: number };
      let engine: DecisionEngine;
      try {
        const candidate: RuleSetDefinition = query.version === undefined ? parseRuleSet(req.body, 'request body') : await storedRuleSet(rules.db, query.version);
        engine = new DecisionEngine(candidate, { features: rules.features });
      } catch (err) {
        if (err instanceof RuleSetError) return reply.code(422).send({ error: err.message, problems: err.problems });
        if (err instanceof RuleSetVersionError) return reply.code(err.status).send({ error: err.message });
        throw err;
      }
      const history = await decidedHistory(rules.db, { since: query.since === undefined ? undefined : new Date(query.since), limit: query.limit });
      return backtest(
        engine,
        history.map((h) => ({ ...h, features: h.feature_set === rules.featureSet ? h.features : undefined })),
      );
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
      req.log.info({ rules_version: version }, 'rule set activated over the API');
      return now();
    },
  );

  app.post('/api/v1/rules/rollback', { schema: { tags: ['rules'], summary: 'Activate the rule set that was active before the current one.', response: { 200: state, 404: refusal, 409: refusal } } }, async (req, reply) => {
    try {
      const version = await rollBackRuleSet(rules.db);
      req.log.info({ rules_version: version }, 'rule set rolled back over the API');
    } catch (err) {
      if (err instanceof RuleSetVersionError) return reply.code(err.status).send({ error: err.message });
      throw err;
    }
    return now();
  });
}
