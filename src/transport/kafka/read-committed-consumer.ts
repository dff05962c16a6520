// A group consumer whose read_committed fetches keep the committed batches by RTDS's own rule, not the client's.
import { Consumer, type CallbackWithPromise, type FetchOptions, type fetchV17 } from '@platformatic/kafka';
import { committedBatches } from './committed-records.ts';

type Options = FetchOptions<string, string, string, string>;
type FetchResponse = fetchV17.FetchResponse;

/**
 * A consumer of string records whose fetches drop every aborted transaction's batches
 * (`committedBatches`). The client's own filter runs first and lets some through — a producer's
 * earlier aborted transaction when it aborted twice, a transaction whose abort marker the
 * response does not reach — and a stage that decided on such a record, then restored its state
 * from the committed records only, would decide the committed copy again. The client's data
 * streams fetch through this method, so every record they deliver passed this filter.
 */
export class ReadCommittedConsumer extends Consumer<string, string, string, string> {
  override fetch(options: Options, callback: CallbackWithPromise<FetchResponse>): void;
  override fetch(options: Options): Promise<FetchResponse>;
  override fetch(options: Options, callback?: CallbackWithPromise<FetchResponse>): void | Promise<FetchResponse> {
    if (callback === undefined) return super.fetch(options).then(keepCommitted);
    super.fetch(options, (err, response) => callback(err, err === null && response !== undefined ? keepCommitted(response) : response));
  }
}

/** Without aborted batches; a read_uncommitted response lists no aborted transactions and is left whole. */
function keepCommitted(response: FetchResponse): FetchResponse {
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records !== undefined && partition.abortedTransactions.length > 0) partition.records = committedBatches(partition.records, partition.abortedTransactions);
    }
  }
  return response;
}
