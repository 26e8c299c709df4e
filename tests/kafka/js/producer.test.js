// kafkajs producers against a real brokerd's Kafka listener: plain and idempotent (InitProducerId,
// sequence numbers); every message is acknowledged once, at dense offsets, and reads back. Then
// kafkajs' admin moves the reading group's committed offsets once the group is empty.
'use strict';

const assert = require('node:assert');
const { test, before, after } = require('node:test');
const { Kafka } = require('kafkajs');
const { startBrokerd, waitFor } = require('./brokerd');

let brokerd;
let client;
let admin;

before(async () => {
  brokerd = await startBrokerd();
  client = new Kafka({ clientId: 'producer-test', brokers: [brokerd.kafka], logLevel: 1 });
  admin = client.admin();
  await admin.connect();
});

after(async () => {
  if (admin) await admin.disconnect();
  if (brokerd) await brokerd.stop();
});

async function produceAndReadBack(topic, producerConfig) {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
  const producer = client.producer(producerConfig);
  await producer.connect();
  const offsets = { 0: [], 1: [] };
  for (let batch = 0; batch < 10; ++batch) {
    const messages = [];
    for (let i = 0; i < 10; ++i) {
      const n = batch * 10 + i;
      messages.push({ key: `k${n}`, value: `v${n}`, partition: n % 2 });
    }
    const results = await producer.send({ topic, acks: -1, messages });
    for (const r of results) offsets[r.partition].push(Number(r.baseOffset));
  }
  await producer.disconnect();
  const ends = await admin.fetchTopicOffsets(topic);
  assert.deepStrictEqual(ends.map((p) => [p.partition, p.high]).sort(), [[0, '50'], [1, '50']],
                         'every message appended once');
  assert.deepStrictEqual(offsets[0], [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);

  const consumer = client.consumer({ groupId: `${topic}-reader` });
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value.toString()); } });
  await waitFor(() => seen.size >= 100, 60000, 'all 100 messages');
  await consumer.disconnect();
  assert.strictEqual(seen.size, 100);
}

test('a plain producer appends every message once', async () => {
  await produceAndReadBack('plain', {});
});

test('an idempotent producer appends every message once', async () => {
  await produceAndReadBack('idempotent', { idempotent: true, maxInFlightRequests: 1 });
});

test('admin sets and resets an empty group\'s offsets', async () => {
  const groupId = 'plain-reader';  // read every message of 'plain' above, then left
  const committed = async () => (await admin.fetchOffsets({ groupId, topics: ['plain'] }))[0]
    .partitions.map((p) => [p.partition, p.offset]).sort();
  assert.deepStrictEqual(await committed(), [[0, '50'], [1, '50']]);
  const [group] = (await admin.describeGroups([groupId])).groups;
  assert.strictEqual(group.state, 'Empty', 'the last member left');

  await admin.setOffsets({ groupId, topic: 'plain', partitions: [{ partition: 1, offset: '20' }] });
  assert.deepStrictEqual(await committed(), [[0, '50'], [1, '20']], 'partition 1 moved back');
  await admin.resetOffsets({ groupId, topic: 'plain', earliest: true });
  assert.deepStrictEqual(await committed(), [[0, '0'], [1, '0']]);
});
