// A kafkajs group member in its own process, for group.test.js: consumes topic argv[3] in group
// argv[4] from broker argv[2] and prints one JSON line per event on stdout: {event: 'joined',
// partitions} after each rebalance, {event: 'message', partition, offset, value} per message. On
// SIGTERM it disconnects (commits and leaves the group) and exits 0.
'use strict';

const { Kafka } = require('kafkajs');

const [bootstrap, topic, groupId, name] = process.argv.slice(2);
// kafkajs logs each REBALANCE_IN_PROGRESS heartbeat answer as an error: silenced; a real failure
// ends the process with its error on stderr.
const kafka = new Kafka({ clientId: name, brokers: [bootstrap], logLevel: 0 });
const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500,
                                  maxWaitTimeInMs: 500 });
const print = (o) => process.stdout.write(`${JSON.stringify({ member: name, ...o })}\n`);

consumer.on(consumer.events.GROUP_JOIN, (e) =>
  print({ event: 'joined', partitions: e.payload.memberAssignment[topic] || [] }));

process.on('SIGTERM', () => {
  consumer.disconnect().then(() => process.exit(0), (e) => {
    console.error(e);
    process.exit(1);
  });
});

(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => print({
      event: 'message', partition, offset: Number(message.offset), value: message.value.toString(),
    }),
  });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
