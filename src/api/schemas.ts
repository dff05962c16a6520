// GET /api/v1/schemas: the contracts' versioned JSON Schemas, for producers and readers to validate against.
import type { FastifyInstance } from 'fastify';
import { CONTRACT_HEADER, CONTRACT_NAMES, contractSchema, contractVersions, currentVersion, isContractName } from '../contracts/index.ts';

const refusal = { type: 'object', properties: { error: { type: 'string' } } } as const;

/** Public, like the API's documentation: a producer with only an ingest key needs the schema it writes to. */
export function registerSchemaRoutes(app: FastifyInstance): void {
  app.get(
    '/api/v1/schemas',
    {
      config: { role: 'public' },
      schema: {
        tags: ['schemas'],
        summary: `The contracts (event, decision, label), their versions and the current one: what RTDS validates and produces now, and stamps on each Kafka record it produces (header ${CONTRACT_HEADER}: <name>/<version>). Each version accepts everything the one before it did.`,
        response: {
          200: {
            type: 'object',
            properties: {
              schemas: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, versions: { type: 'array', items: { type: 'integer' } }, current: { type: 'integer' }, url: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
    async () => ({
      schemas: CONTRACT_NAMES.map((name) => ({
        name,
        versions: contractVersions(name).map((_, i) => i + 1),
        current: currentVersion(name),
        url: `/api/v1/schemas/${name}/${currentVersion(name)}`,
      })),
    }),
  );

  app.get(
    '/api/v1/schemas/:name/:version',
    {
      config: { role: 'public' },
      schema: {
        tags: ['schemas'],
        summary: 'One version of a contract as a JSON Schema document (draft-07), its $id urn:rtds:contract:<name>:<version>.',
        params: { type: 'object', properties: { name: { type: 'string', description: CONTRACT_NAMES.join(', ') }, version: { type: 'integer', minimum: 1 } }, required: ['name', 'version'] },
        response: { 200: { type: 'object', additionalProperties: true, description: 'the JSON Schema document' }, 404: refusal },
      },
    },
    async (req, reply) => {
      const { name, version } = req.params as { name: string; version: number };
      const schema = isContractName(name) ? contractSchema(name, version) : undefined;
      if (!isContractName(name)) return reply.code(404).send({ error: `no contract ${name}; contracts: ${CONTRACT_NAMES.join(', ')}` });
      if (schema === undefined) return reply.code(404).send({ error: `the ${name} contract has no version ${version}; versions 1 to ${currentVersion(name)}` });
      return reply.type('application/schema+json').send(schema);
    },
  );
}
