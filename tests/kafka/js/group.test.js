// A kafkajs consumer group of members in separate processes (group_worker.js) against a real
// brokerd: two members share the partitions; one leaves (LeaveGroup: its partitions move at once)
// and another joins. No message is lost, and none is handled twice while the group is stable:
// duplicates may only come from the rebalances themselves.
'use strict';

const assert = require('node:assert');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const { test, before, after } = require('node:test');
const { Kafka } = require('kafkajs');
const { startBrokerd, waitFor } = require('./brokerd');

const TOPIC = 'work';
const GROUP = 'workers';
const PARTITIONS = 4;

let brokerd;
let client;
let admin;
let producer;
const events = [];  // every line the workers printed, in arrival order
const workers = new Map();

function startWorker(name) {
  const child = spawn(process.execPath,
                      [path.join(__dirname, 'group_worker.js'), brokerd.kafka, TOPIC, GROUP, name],
                      { stdio: ['ignore', 'pipe', 'inherit'] });
  readline.createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line)));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  workers.set(name, { child, exited });
}

async function stopWorker(name) {
  const { child, exited } = workers.get(name);
  workers.delete(name);
  child.kill('SIGTERM');
  assert.strictEqual(await exited, 0, `${name} exits cleanly after leaving`);
}

// True once the group is Stable with exactly the running workers and their latest assignments
// cover every partition once.
async function stableWithRunningWorkers() {
  const [group] = (await admin.describeGroups([GROUP])).groups;
  if (group.state !== 'Stable' || group.members.length !== workers.size) return false;
  const owned = [];
  for (const name of workers.keys()) {
    const joins = events.filter((e) => e.member === name && e.event === 'joined');
    if (joins.length === 0) return false;
    owned.push(...joins[joins.length - 1].partitions);
  }
  return owned.length === PARTITIONS && new Set(owned).size === PARTITIONS;
}

async function produce(from, to) {
  const messages = [];
  for (let i = from; i < to; ++i) messages.push({ value: `m${i}`, partition: i % PARTITIONS });
  await producer.send({ topic: TOPIC, acks: -1, messages });
}

const handled = (value) => events.filter((e) => e.event === 'message' && e.value === value);

before(async () => {
  brokerd = await startBrokerd();
  client = new Kafka({ clientId: 'group-test', brokers: [brokerd.kafka], logLevel: 1 });
  admin = client.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true,
                             topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  producer = client.producer();
  await producer.connect();
});

after(async () => {
  for (const name of [...workers.keys()]) await stopWorker(name);
  if (producer) await producer.disconnect();
  if (admin) await admin.disconnect();
  if (brokerd) await brokerd.stop();
});

test('members join, leave and join again without losing a message', async () => {
  startWorker('a');
  startWorker('b');
  await waitFor(stableWithRunningWorkers, 60000, 'a and b sharing the partitions');
  await produce(0, 100);
  await waitFor(() => handled('m99').length > 0 && events.filter((e) => e.event === 'message').length >= 100,
                60000, 'the first 100 messages');

  await stopWorker('a');  // leaves at once: b takes its partitions without a session timeout
  await produce(100, 200);
  startWorker('c');
  await waitFor(stableWithRunningWorkers, 60000, 'b and c sharing the partitions');
  await produce(200, 300);

  for (let i = 0; i < 300; ++i) {
    await waitFor(() => handled(`m${i}`).length > 0, 60000, `m${i}`);
  }
  // Stable phases: before a left, and after c's join settled.
  for (const range of [[0, 100], [200, 300]]) {
    for (let i = range[0]; i < range[1]; ++i) {
      assert.strictEqual(handled(`m${i}`).length, 1, `m${i} handled once while the group was stable`);
    }
  }
  const members = new Set(events.filter((e) => e.event === 'message').map((e) => e.member));
  assert.deepStrictEqual([...members].sort(), ['a', 'b', 'c'], 'every member consumed');
});
