// The block and allow lists over REST: read them, add entries, remove one — applied without restart.
import type { FastifyInstance } from 'fastify';
import { LIST_FIELDS, LIST_KINDS, type ListEntry } from '../decide/index.ts';
import { clip } from '../observe/index.ts';
import { addListEntries, readLists, removeListEntries, type Database } from '../store/index.ts';

export interface ListControl {
  db: Database;
  /** Apply the stored lists in this process now; resolves to the version served. */
  follow(): Promise<number>;
}

const listParam = { type: 'string', enum: [...LIST_KINDS] } as const;
const value = { type: 'string', minLength: 1, maxLength: 256 } as const;
const entry = {
  type: 'object',
  required: ['field', 'value'],
  additionalProperties: false,
  properties: { field: { type: 'string', enum: [...LIST_FIELDS] }, value },
} as const;

export function registerListRoutes(app: FastifyInstance, lists: ListControl): void {
  app.get('/api/v1/lists', { schema: { tags: ['lists'], summary: 'The block and allow lists and their version.' } }, async () => readLists(lists.db));

  app.post(
    '/api/v1/lists/:list',
    {
      schema: {
        tags: ['lists'],
        summary: 'Add entries to the block or allow list: a blocked user, IP, device, country or merchant is rejected; an allowed one is not decided by its score (rules still apply).',
        params: { type: 'object', properties: { list: listParam }, required: ['list'] },
        body: { anyOf: [entry, { type: 'array', items: entry, minItems: 1, maxItems: 10_000 }] },
      },
    },
    async (req) => {
      const { list } = req.params as { list: ListEntry['list'] };
      const body = req.body as Omit<ListEntry, 'list'> | Omit<ListEntry, 'list'>[];
      const entries = (Array.isArray(body) ? body : [body]).map((e) => ({ list, field: e.field, value: e.value }));
      const version = await addListEntries(lists.db, entries);
      req.log.info({ list, entries: entries.length, lists_version: version }, 'list entries added over the API');
      return { version, served: await lists.follow() };
    },
  );

  app.delete(
    '/api/v1/lists/:list/:field/:value',
    {
      schema: {
        tags: ['lists'],
        summary: 'Remove an entry from the block or allow list.',
        params: { type: 'object', properties: { list: listParam, field: { type: 'string', enum: [...LIST_FIELDS] }, value }, required: ['list', 'field', 'value'] },
      },
    },
    async (req, reply) => {
      const entry = req.params as ListEntry;
      const { version, removed } = await removeListEntries(lists.db, [entry]);
      req.log.info({ list: entry.list, field: entry.field, value: clip(entry.value), lists_version: version }, 'list entry removed over the API');
      const served = await lists.follow();
      return removed === 0 ? reply.code(404).send({ error: `${entry.field} ${entry.value} is not on the ${entry.list} list`, version, served }) : { version, served };
    },
  );
}
