// The model registry over REST: list versions, activate one, roll back — served without restart.
import type { FastifyInstance } from 'fastify';
import { ArtifactError, FeatureSetMismatchError, ModelVersionNotFoundError, type ModelRegistry } from '../score/index.ts';

export interface ModelControl {
  registry: ModelRegistry;
  /** Serve the registry's active version in this process now; resolves once switched. Absent where no processor runs. */
  follow?: () => Promise<unknown>;
  /** The version this process's pipeline scores with (null: rules only). */
  served(): string | null;
}

const versionState = { type: 'object', properties: { active: { type: ['string', 'null'] }, served: { type: ['string', 'null'] } } } as const;
const refusal = { type: 'object', properties: { error: { type: 'string' } } } as const;

export function registerModelRoutes(app: FastifyInstance, models: ModelControl): void {
  const state = async (): Promise<{ active: string | null; served: string | null }> => {
    await models.follow?.();
    return { active: await models.registry.active(), served: models.served() };
  };

  app.get('/api/v1/models', { schema: { tags: ['models'], summary: 'Registered versions with their held-out metrics, the active one, and activations.' } }, async () => {
    const versions = await models.registry.list();
    return {
      active: await models.registry.active(),
      served: models.served(),
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

  app.post(
    '/api/v1/models/:version/activate',
    { schema: { tags: ['models'], summary: 'Activate a version; processors warm it up and switch to it without restart.', params: { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] }, response: { 200: versionState, 404: refusal, 409: refusal } } },
    async (req, reply) => {
      const { version } = req.params as { version: string };
      try {
        await models.registry.activate(version);
      } catch (err) {
        if (err instanceof ModelVersionNotFoundError) return reply.code(404).send({ error: err.message });
        if (err instanceof FeatureSetMismatchError) return reply.code(409).send({ error: err.message });
        throw err;
      }
      req.log.info({ model_version: version }, 'model activated over the API');
      return state();
    },
  );

  app.post('/api/v1/models/rollback', { schema: { tags: ['models'], summary: 'Activate the version that was active before the current one.', response: { 200: versionState, 404: refusal, 409: refusal } } }, async (req, reply) => {
    try {
      const version = await models.registry.rollback();
      req.log.info({ model_version: version }, 'model rolled back over the API');
    } catch (err) {
      if (err instanceof ArtifactError) return reply.code(409).send({ error: err.message });
      throw err;
    }
    return state();
  });
}
