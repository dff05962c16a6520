// The model registry over REST: list versions, activate one, roll back, name a challenger — served without restart.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ArtifactError, FeatureSetMismatchError, ModelVersionNotFoundError, scoreHistogram, type ModelMetrics, type ModelRegistry } from '../score/index.ts';
import { clip } from '../observe/index.ts';
import { scoredDecisions, type Database } from '../store/index.ts';
import { compareChallenger } from './challenger.ts';
import { driftFrom, labelledMetrics, RECENT_LIMIT, referenceDistribution } from './model-performance.ts';

export interface ModelControl {
  registry: ModelRegistry;
  db: Database;
  /** The deployed thresholds (flag, reject): where live precision and recall are read. */
  thresholds: readonly number[];
  /** Serve the registry's active version in this process now; resolves once switched. */
  follow(): Promise<unknown>;
  /** The version this process's pipeline scores with (null: rules only). */
  served(): string | null;
  /** The version this process's pipeline scores in shadow (null: none). */
  challenging(): string | null;
}

const versionState = { type: 'object', properties: { active: { type: ['string', 'null'] }, served: { type: ['string', 'null'] } } } as const;
const challengerState = { type: 'object', properties: { challenger: { type: ['string', 'null'] }, scoring: { type: ['string', 'null'] } } } as const;
const versionParam = { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] } as const;
const refusal = { type: 'object', properties: { error: { type: 'string' } } } as const;
const recentWindow = { type: 'object', properties: { limit: RECENT_LIMIT } } as const;

/** How the served model does on recent traffic: against the verdicts received, and against its training scores. */
export interface LivePerformance {
  model_version: string;
  /** Recent decisions of the model read, and how many of them have a verdict. */
  scored: number;
  labelled: number;
  /** Over the labelled ones: ROC-AUC, average precision, precision / recall / F1 at the deployed thresholds. */
  metrics: ModelMetrics | null;
  /** Population stability of the recent scores against the held-out scores at training (NaN without a reference). */
  psi: number;
  distribution: { training: number[] | null; live: number[] };
}

/** The served model's live figures over its latest `limit` decisions; null when rules score. */
export async function livePerformance(models: ModelControl, limit: number): Promise<LivePerformance | null> {
  const version = models.served();
  if (version === null) return null;
  const rows = await scoredDecisions(models.db, version, { as: 'served', limit });
  const scores = rows.map((r) => r.score);
  const training = await referenceDistribution(models.registry, version);
  return {
    model_version: version,
    scored: rows.length,
    labelled: rows.filter((r) => r.is_fraud !== null).length,
    metrics: labelledMetrics(rows, models.thresholds),
    psi: driftFrom(training, scores),
    distribution: { training, live: scoreHistogram(scores) },
  };
}

/** A version the registry will not serve: 404 unknown, 409 built on another feature set; any other error goes on. */
function refuseVersion(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ModelVersionNotFoundError) return reply.code(404).send({ error: err.message });
  if (err instanceof FeatureSetMismatchError) return reply.code(409).send({ error: err.message });
  throw err;
}

export function registerModelRoutes(app: FastifyInstance, models: ModelControl): void {
  const state = async (): Promise<{ active: string | null; served: string | null }> => {
    await models.follow();
    return { active: await models.registry.active(), served: models.served() };
  };

  app.get('/api/v1/models', { schema: { tags: ['models'], summary: 'Registered versions with their held-out metrics, the active one, and activations.' } }, async () => {
    const versions = await models.registry.list();
    return {
      active: await models.registry.active(),
      served: models.served(),
      challenger: await models.registry.challenger(),
      versions: versions.map(({ version, active, metadata }) => ({
        version,
        active,
        created_at: metadata.created_at,
        description: metadata.description ?? null,
        feature_set: metadata.feature_set_version,
        roc_auc: metadata.metrics?.roc_auc ?? null,
        average_precision: metadata.metrics?.average_precision ?? null,
      })),
      activations: await models.registry.activations(),
    };
  });

  app.get(
    '/api/v1/models/live',
    {
      schema: {
        tags: ['models'],
        summary: 'The served model on its latest decisions: precision, recall, AP against the verdicts received, and score drift (PSI) against training.',
        querystring: recentWindow,
      },
    },
    async (req) => (await livePerformance(models, (req.query as { limit: number }).limit)) ?? { model_version: null },
  );

  app.post(
    '/api/v1/models/:version/activate',
    { schema: { tags: ['models'], summary: 'Activate a version; processors warm it up and switch to it without restart.', params: versionParam, response: { 200: versionState, 404: refusal, 409: refusal } } },
    async (req, reply) => {
      const { version } = req.params as { version: string };
      try {
        await models.registry.activate(version);
      } catch (err) {
        return refuseVersion(reply, err);
      }
      req.log.info({ model_version: clip(version) }, 'model activated over the API');
      return state();
    },
  );

  app.post('/api/v1/models/rollback', { schema: { tags: ['models'], summary: 'Activate the version that was active before the current one.', response: { 200: versionState, 404: refusal, 409: refusal } } }, async (req, reply) => {
    try {
      const version = await models.registry.rollback();
      req.log.info({ model_version: clip(version) }, 'model rolled back over the API');
    } catch (err) {
      if (err instanceof ArtifactError) return reply.code(409).send({ error: err.message });
      throw err;
    }
    return state();
  });

  const challengerNow = async (): Promise<{ challenger: string | null; scoring: string | null }> => {
    await models.follow();
    return { challenger: await models.registry.challenger(), scoring: models.challenging() };
  };

  app.post(
    '/api/v1/models/:version/challenge',
    { schema: { tags: ['models'], summary: 'Score a version in shadow beside the active one: its scores are stored and compared on verdicts, decisions are unchanged.', params: versionParam, response: { 200: challengerState, 404: refusal, 409: refusal } } },
    async (req, reply) => {
      const { version } = req.params as { version: string };
      try {
        await models.registry.setChallenger(version);
      } catch (err) {
        return refuseVersion(reply, err);
      }
      req.log.info({ challenger: clip(version) }, 'challenger set over the API');
      return challengerNow();
    },
  );

  app.delete('/api/v1/models/challenger', { schema: { tags: ['models'], summary: 'Stop scoring a challenger in shadow.', response: { 200: challengerState } } }, async (req) => {
    await models.registry.setChallenger(null);
    req.log.info('challenger stopped over the API');
    return challengerNow();
  });

  app.get(
    '/api/v1/models/challenger',
    {
      schema: {
        tags: ['models'],
        summary: 'The challenger against the served model on the same recent events: ROC-AUC, AP, precision and recall on those with a verdict, and the decisions it would change.',
        querystring: recentWindow,
      },
    },
    async (req) => {
      const challenger = await models.registry.challenger();
      return { challenger, scoring: models.challenging(), comparison: challenger === null ? null : await compareChallenger(models.db, challenger, models.thresholds, (req.query as { limit: number }).limit) };
    },
  );
}
