// A group consumer whose read_committed fetches keep the committed batches by RTDS's own rule, in place of the client's.
import { promisify } from 'node:util';
import { Consumer, FetchIsolationLevels, kGetApi, type API, type Callback, type fetchV17 } from '@platformatic/kafka';
import { committedBatches } from './committed-records.ts';

type FetchResponse = fetchV17.FetchResponse;
type FetchApi = typeof fetchV17.api;
/** Fetch's arguments after the connection, every version alike: the isolation level is the fourth. */
const ISOLATION_ARG = 3;

/**
 * A consumer of string records whose read_committed fetches drop every aborted transaction's
 * batches (`committedBatches`) as each response arrives, then clear the response's list of
 * aborted transactions, so the client's own filter has nothing left to do. That filter is wrong
 * twice over: it lets records through — a producer's earlier aborted transaction when it aborted
 * twice, a transaction whose abort marker the response does not reach — and it throws (out of a
 * socket callback, taking the process down) on an abort marker whose transaction the broker did
 * not list, which a transaction aborted before its records reached the partition leaves. A stage
 * that decided an aborted record, then restored its state from the committed records only, would
 * decide the committed copy again.
 */
export class ReadCommittedConsumer extends Consumer<string, string, string, string> {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    if (name !== 'Fetch') return super[kGetApi](name, callback);
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) =>
      error !== null || api === undefined ? callback(error, api) : callback(null, committedOnly(api as unknown as FetchApi) as unknown as API<RequestArguments, ResponseType>),
    );
  }
}

/** The Fetch API with each read_committed response reduced to its committed batches. */
function committedOnly(api: FetchApi): FetchApi {
  const fetch = ((connection: Parameters<FetchApi>[0], ...args: unknown[]): void => {
    const done = (typeof args.at(-1) === 'function' ? args.pop() : () => undefined) as Callback<FetchResponse>;
    const readCommitted = args[ISOLATION_ARG] === FetchIsolationLevels.READ_COMMITTED;
    (api as (connection: unknown, ...rest: unknown[]) => void)(connection, ...args, (error: Error | null, response?: FetchResponse) => {
      if (error === null && response !== undefined && readCommitted) keepCommitted(response);
      done(error, response);
    });
  }) as FetchApi;
  return Object.assign(fetch, { async: promisify(fetch), key: api.key, version: api.version }) as FetchApi;
}

function keepCommitted(response: FetchResponse): void {
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.abortedTransactions.length === 0) continue;
      if (partition.records !== undefined) partition.records = committedBatches(partition.records, partition.abortedTransactions);
      partition.abortedTransactions = [];
    }
  }
}
