import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));
// Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;

const SPECS = `
features:
  - { name: user_count_1h, entity: user_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_fraud_rate, entity: merchant_id, window: { kind: hopping, size: 30d, hop: 1d }, label_delay: 7d, aggregate: fraud_rate }
  - { name: device_merchants_1d, entity: [device_id, merchant_id], window: { kind: session, gap: 30m }, aggregate: count }
  - { name: ip_users_1d, entity: ip_address, window: { kind: hopping, size: 24h, hop: 1h }, aggregate: distinct, field: user_id }
`;

interface Stage {
  index: number;
  name: string;
  input: string;
  steps: string[];
  store: { name: string; features: string[]; labels: boolean; restoredFrom: string };
  outputs: string[];
}

describe('rtds topology', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-topology-'));
  const features = path.join(dir, 'features.yaml');
  writeFileSync(features, SPECS);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (extra: Record<string, string>, ...args: string[]): Promise<string> => (await promisify(execFile)(process.execPath, [BIN, 'topology', ...args], { env: { ...env, RTDS_FEATURES_FILE: features, ...extra } })).stdout;

  it('on Kafka: a stage per entity key, fed by its repartition topic, the last one deciding', async () => {
    const topology = JSON.parse(await run({ RTDS_KAFKA_BROKERS: '127.0.0.1:1', RTDS_KAFKA_TOPIC_PREFIX: 'shop.', RTDS_PARTITIONS: '8' }, '--json')) as { transport: string; partitions: number; stages: Stage[] };
    assert.equal(topology.transport, 'kafka');
    assert.equal(topology.partitions, 8);
    assert.deepEqual(
      topology.stages.map((s) => [s.name, s.input]),
      [
        ['user_id', 'shop.events'],
        ['merchant_id', 'shop.repartition.merchant_id'],
        ['device_id+merchant_id', 'shop.repartition.device_id-merchant_id'],
        ['ip_address', 'shop.repartition.ip_address'],
      ],
    );
    const [user, merchant, , ip] = topology.stages;
    assert.deepEqual(user!.steps, ['validate', 'claim the event id', 'skip a re-send', 'features']);
    assert.deepEqual(user!.store.features, ['user_count_1h']);
    assert.ok(user!.outputs.some((o) => o.includes('shop.events.dlq')));
    assert.ok(user!.outputs.some((o) => o.includes('shop.repartition.merchant_id')));
    assert.equal(merchant!.store.labels, true, 'the merchant stage counts fraud labels');
    assert.match(merchant!.store.restoredFrom, /its input topic shop\.repartition\.merchant_id/);
    assert.deepEqual(ip!.steps, ['features', 'derived features', 'score', 'decide']);
    assert.ok(ip!.outputs.some((o) => o.includes('shop.decisions')));
  });

  it('embedded: the same stages on in-process partitions, readable as text', async () => {
    const text = await run({});
    assert.match(text, /on the embedded log: 4 stages, 3 repartition hops/);
    assert.match(text, /stage 2: merchant_id\n {2}input: {4}in-process partitions by merchant_id/);
    assert.doesNotMatch(text, /repartition\./, 'no topic on the embedded log');
  });
});
