import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bodyHash, validateEvent, type EventTimeBounds } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline, Processor, type EventClaims, type PipelineResult, type ProcessorOutput } from '../../src/process/index.ts';
import { RulesOnlyScorer } from '../../src/score/index.ts';
import type { ClaimHolder, ClaimRequest } from '../../src/store/index.ts';
import { PartitionedLog } from '../../src/transport/embedded/partitioned-log.ts';
import type { BatchHandler, EdgeValidated, LogRecord } from '../../src/transport/log.ts';

// The clock of these tests: now, since the processor bounds event time against its own clock.
const NOW = Date.now();
const timeBounds: EventTimeBounds = { maxAgeMs: 86_400_000, maxAheadMs: 60_000 };
const root = mkdtempSync(path.join(tmpdir(), 'rtds-edge-validated-'));
after(() => rmSync(root, { recursive: true, force: true }));

const pipeline = (): DecisionPipeline =>
  new DecisionPipeline({
    scorers: [new RulesOnlyScorer(DEFAULT_FEATURE_SET)],
    engine: new DecisionEngine(defaultRuleSet(0.7)),
    features: DEFAULT_FEATURE_SET,
    eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 },
    validation: { timeBounds },
  });

/** The HTTP edge's validation of a body received at `receivedAt` by a clock reading `edgeNow`, as the log would carry it. */
function atEdge(value: Record<string, unknown>, receivedAt: number, edgeNow = receivedAt): EdgeValidated {
  const checked = validateEvent(value, { timeBounds, receivedAt, now: edgeNow });
  assert.ok(checked.ok, `the edge accepts ${JSON.stringify(value)}`);
  return { event: checked.event, bodyHash: bodyHash(value) };
}

const body = (id: string, user: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event_id: id, event_type: 'withdrawal', user_id: user, amount: 1500, channel: 'atm', country: 'DE', ...extra });

/** Records of one partition: timestamped, untimed (taking the record's time), and one old enough to be refused now although its edge took it a day earlier. */
function records(): { value: Record<string, unknown>; acceptedAt: number; edge: EdgeValidated }[] {
  const stale = NOW - timeBounds.maxAgeMs - 60_000;
  return [
    { value: body('a', 'u1', { timestamp: new Date(NOW - 2000).toISOString() }), acceptedAt: NOW - 1500.25, edge: atEdge(body('a', 'u1', { timestamp: new Date(NOW - 2000).toISOString() }), NOW - 1500.25) },
    // The edge validated it 3 ms before the log took it: its time is the log's, as after a re-read.
    { value: body('b', 'u1'), acceptedAt: NOW - 1000.5, edge: atEdge(body('b', 'u1'), NOW - 1003.75) },
    { value: body('c', 'u2', { timestamp: stale, metadata: { why: 'old' } }), acceptedAt: NOW - 900, edge: atEdge(body('c', 'u2', { timestamp: stale, metadata: { why: 'old' } }), NOW - 900, stale + 1000) },
    { value: body('d', 'u2', { timestamp: NOW - 800 }), acceptedAt: NOW - 800, edge: atEdge(body('d', 'u2', { timestamp: NOW - 800 }), NOW - 800) },
  ];
}

const asLog = (withEdge: boolean): LogRecord[] => records().map((r, offset) => ({ partition: 0, offset, key: String(r.value.user_id), value: r.value, acceptedAt: r.acceptedAt, validated: withEdge ? r.edge : undefined }));

describe('a record the embedded log carries validated by its edge', () => {
  it('is decided as if the processor validated it: the same events, features, decisions and dead letters', () => {
    const decidedAt = (): number => NOW;
    const again = pipeline().processBatch(asLog(false), decidedAt);
    const carried = pipeline().processBatch(asLog(true), decidedAt);
    assert.deepEqual(carried, again);
    assert.deepEqual(
      again.map((r) => r.kind),
      ['decided', 'decided', 'dead_letter', 'decided'],
    );
    const untimed = again[1] as Extract<PipelineResult, { kind: 'decided' }>;
    assert.equal(untimed.event.event_time, Math.floor(NOW - 1000.5), "an untimed event takes the log's time, not its edge's");
    assert.equal(untimed.event.event_time_source, 'received');
    const stale = again[2] as Extract<PipelineResult, { kind: 'dead_letter' }>;
    assert.equal(stale.letter.event_id, 'c');
    assert.deepEqual(stale.letter.errors.map((e) => e.field), ['timestamp']);
    assert.match(stale.letter.errors[0]!.reason, /more than 1 days in the past/);
  });

  it('is not validated again: its decision is about the very event its edge made, unless its time was taken from the log', () => {
    const logged = asLog(true);
    const results = pipeline().processBatch(logged);
    const decided = (i: number): Extract<PipelineResult, { kind: 'decided' }> => results[i] as Extract<PipelineResult, { kind: 'decided' }>;
    assert.equal(decided(0).event, logged[0]!.validated!.event);
    assert.equal(decided(3).event, logged[3]!.validated!.event);
    assert.notEqual(decided(1).event, logged[1]!.validated!.event, 'a copy with the time received');
    assert.equal(logged[1]!.validated!.event.event_time, Math.floor(NOW - 1003.75), "the edge's event is left as it was");
  });

  it("is claimed with its edge's body hash", async () => {
    const asked: ClaimRequest[] = [];
    const claims: EventClaims = {
      claim: async (requests): Promise<ClaimHolder[]> => {
        asked.push(...requests);
        return requests.map((r) => ({ body_hash: r.body_hash, position: r.position }));
      },
    };
    const hashes = new Map<string, string | undefined>();
    const output: ProcessorOutput = {
      decided: (r) => void hashes.set(r.event.event_id, r.body_hash),
      forward: () => assert.fail('one stage'),
      deadLetter: () => undefined,
      duplicate: () => assert.fail('no re-send'),
      conflict: () => assert.fail('no conflict'),
      ready: async () => undefined,
    };
    const logged = asLog(true);
    // A hash the processor could not compute from the body: only the edge's can be it.
    logged[0]!.validated = { ...logged[0]!.validated!, bodyHash: 'edge-hash' };
    const source = { start: async (handler: BatchHandler) => void (await handler(logged)), stop: async () => undefined, lag: () => 0, progress: () => ({ member: null, partitions: [], problem: null }) };
    await new Processor(source, pipeline(), output, { claims }).start();
    assert.deepEqual(asked.map((r) => [r.event_id, r.body_hash]), [
      ['a', 'edge-hash'],
      ['b', bodyHash(logged[1]!.value as object)],
      ['d', bodyHash(logged[3]!.value as object)],
    ]);
    assert.deepEqual([...hashes], [['a', 'edge-hash'], ['b', bodyHash(logged[1]!.value as object)], ['d', bodyHash(logged[3]!.value as object)]]);
  });

  it('keeps its validation in memory only: read back from the log folder, the record is validated again', async () => {
    const dir = path.join(root, 'log');
    const first = await PartitionedLog.open(1, { dir, fsync: false, newName: () => 'embedded@test' });
    const [r] = records();
    await first.append('u1', r!.value, undefined, r!.edge);
    assert.equal(first.read(0, 0, 1)[0]!.validated, r!.edge);
    await first.close();
    const second = await PartitionedLog.open(1, { dir, fsync: false, newName: () => 'embedded@test' });
    const [reread] = second.read(0, 0, 1);
    assert.deepEqual(reread!.value, r!.value);
    assert.equal(reread!.validated, undefined);
    await second.close();
  });
});
