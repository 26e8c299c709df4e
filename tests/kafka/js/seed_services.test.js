// The seed's kafkajs services (/work/shared/seed, "Service communication (Sync vs Async)") against a
// real brokerd's Kafka listener, with their Kafka calls unchanged. The classes between the
// "seed code" markers are copied as written in the seed; this file supplies only what the seed
// leaves out: the `kafka` object (a connected kafkajs producer and kafkajs' consumer factory,
// pointed at brokerd), an in-memory `db`, a card charge and an email provider that record their
// calls, and a responder for the request-reply class. Run by ctest (label kafka) with
// BROKERD_BIN set; `npm ci` in this directory (scripts/install-deps.sh) installs kafkajs 2.2.4.
'use strict';

const assert = require('node:assert');
const { test, before, after } = require('node:test');
const { startBrokerd, waitFor } = require('./brokerd');

// ---- What the seed leaves out ------------------------------------------------------------------
let kafka;  // { producer, consumer(config) }: the seed's `kafka.producer.send` / `kafka.consumer`
const crypto = require('crypto');
const orders = new Map();
const db = {
  orders: {
    async create(data) {
      const order = { ...data, id: `order-${orders.size + 1}` };
      orders.set(order.id, order);
      return order;
    },
  },
};
const charges = [];  // every chargeCard call
const emails = [];   // every emailProvider.send call
const emailProvider = {
  async send(mail) {
    emails.push(mail);
  },
};

// ---- Seed code, copied as written (section 3 and 5 of the seed) ----------------------------------
const { Kafka } = require('kafkajs');

// Publisher (Order Service)
class OrderService {
  async createOrder(orderData) {
    // Create order immediately
    const order = await db.orders.create({
      ...orderData,
      status: 'pending'
    });
    
    // Publish event asynchronously
    await kafka.producer.send({
      topic: 'orders',
      messages: [{
        key: order.id,
        value: JSON.stringify({
          eventType: 'order.created',
          orderId: order.id,
          userId: orderData.userId,
          total: orderData.total
        })
      }]
    });
    
    // Return immediately (don't wait for payment)
    return order;
  }
}

// Consumer (Payment Service)
class PaymentService {
  async start() {
    const consumer = kafka.consumer({ groupId: 'payment-service' });
    await consumer.subscribe({ topic: 'orders' });
    
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value.toString());
        
        if (event.eventType === 'order.created') {
          await this.processPayment(event);
        }
      }
    });
  }
  
  async processPayment(event) {
    try {
      // Process payment asynchronously
      const payment = await this.chargeCard(event.total);
      
      // Publish payment success event
      await kafka.producer.send({
        topic: 'payments',
        messages: [{
          value: JSON.stringify({
            eventType: 'payment.succeeded',
            orderId: event.orderId,
            paymentId: payment.id
          })
        }]
      });
    } catch (err) {
      // Publish payment failed event
      await kafka.producer.send({
        topic: 'payments',
        messages: [{
          value: JSON.stringify({
            eventType: 'payment.failed',
            orderId: event.orderId,
            error: err.message
          })
        }]
      });
    }
  }
}

// Async request with reply
class AsyncRequestReply {
  async callServiceAsync(request) {
    const correlationId = crypto.randomUUID();
    
    // Publish request
    await kafka.producer.send({
      topic: 'payment-requests',
      messages: [{
        key: correlationId,
        value: JSON.stringify({
          correlationId,
          amount: request.amount
        })
      }]
    });
    
    // Wait for reply (with timeout)
    return new Promise((resolve, reject) => {
      const timeout = setTimeout(() => {
        reject(new Error('Request timeout'));
      }, 5000);
      
      // Listen for reply
      this.replyHandlers.set(correlationId, (reply) => {
        clearTimeout(timeout);
        resolve(reply);
      });
    });
  }
  
  async handleReply(message) {
    const reply = JSON.parse(message.value.toString());
    const handler = this.replyHandlers.get(reply.correlationId);
    
    if (handler) {
      handler(reply);
      this.replyHandlers.delete(reply.correlationId);
    }
  }
}

// Email service consumes events asynchronously
class EmailService {
  async start() {
    const consumer = kafka.consumer({ groupId: 'email-service' });
    
    await consumer.subscribe({ topic: 'orders' });
    await consumer.subscribe({ topic: 'users' });
    
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const event = JSON.parse(message.value.toString());
        
        switch (event.eventType) {
          case 'order.completed':
            await this.sendOrderConfirmation(event);
            break;
          case 'user.registered':
            await this.sendWelcomeEmail(event);
            break;
        }
      }
    });
  }
  
  async sendOrderConfirmation(event) {
    // Send email asynchronously
    // If fails, will retry via Kafka consumer groups
    await emailProvider.send({
      to: event.userEmail,
      subject: 'Order Confirmation',
      body: `Your order ${event.orderId} is confirmed`
    });
  }
}
// ---- End of seed code --------------------------------------------------------------------------

// The card charge the seed's PaymentService calls but does not define: records the call and
// declines totals above 1000.
class RecordingPaymentService extends PaymentService {
  async chargeCard(total) {
    charges.push(total);
    if (total > 1000) throw new Error(`card declined for ${total}`);
    return { id: `payment-${charges.length}` };
  }
}

let brokerd;
let client;
let admin;
const consumers = [];

// A consumer of the test's own (fromBeginning), calling `onMessage` for each message.
async function observe(groupId, topic, onMessage) {
  const consumer = client.consumer({ groupId });
  consumers.push(consumer);
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => onMessage(message) });
  return consumer;
}

// The committed offsets of `groupId` on `topic` summed over partitions (-1 counts as 0).
async function committedTotal(groupId, topic) {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets[0].partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

before(async () => {
  brokerd = await startBrokerd();
  client = new Kafka({ clientId: 'seed-test', brokers: [brokerd.kafka], logLevel: 1 });
  admin = client.admin();
  await admin.connect();
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: 'orders', numPartitions: 3 },
      { topic: 'payments', numPartitions: 1 },
      { topic: 'users', numPartitions: 1 },
      { topic: 'payment-requests', numPartitions: 2 },
      { topic: 'payment-replies', numPartitions: 1 },
    ],
  });
  assert.strictEqual(created, true);
  const producer = client.producer();
  await producer.connect();
  kafka = { producer, consumer: (config) => client.consumer(config) };
});

after(async () => {
  for (const c of consumers) await c.disconnect();
  if (kafka) await kafka.producer.disconnect();
  if (admin) await admin.disconnect();
  if (brokerd) await brokerd.stop();
});

test('admin sees the topics it created with their partitions', async () => {
  const { topics } = await admin.fetchTopicMetadata({ topics: ['orders', 'payment-requests'] });
  assert.deepStrictEqual(
    topics.map((t) => [t.name, t.partitions.length]).sort(),
    [['orders', 3], ['payment-requests', 2]]);
});

test('every order.created reaches both groups and payments come back', async () => {
  // The services' consumers start where the topic ends (kafkajs' default without fromBeginning),
  // so they must be positioned before any order exists: run() returns once the group is joined,
  // and the first completed fetch (kafkajs' FETCH event) comes after the position was resolved.
  const realConsumer = kafka.consumer;
  const positioned = [];
  kafka.consumer = (config) => {
    const c = realConsumer(config);
    consumers.push(c);
    positioned.push(new Promise((resolve) => c.on(c.events.FETCH, resolve)));
    return c;
  };
  await new RecordingPaymentService().start();
  await new EmailService().start();
  kafka.consumer = realConsumer;
  await Promise.all(positioned);

  const payments = [];
  await observe('payments-observer', 'payments', (m) => payments.push(JSON.parse(m.value)));

  const service = new OrderService();
  const totals = [120, 2500, 40, 999, 1001, 15];
  for (let i = 0; i < totals.length; ++i) {
    const order = await service.createOrder({ userId: `user-${i}`, total: totals[i] });
    assert.strictEqual(order.status, 'pending');
  }
  // An order.completed event for the email service (the seed's EmailService acts on it).
  await kafka.producer.send({
    topic: 'orders',
    messages: [{ key: 'order-1', value: JSON.stringify({
      eventType: 'order.completed', orderId: 'order-1', userEmail: 'a@example.com' }) }],
  });

  await waitFor(() => payments.length >= totals.length, 60000, 'payment events');
  const byOrder = new Map(payments.map((p) => [p.orderId, p]));
  assert.strictEqual(byOrder.size, totals.length, 'one payment event per order');
  totals.forEach((total, i) => {
    const event = byOrder.get(`order-${i + 1}`);
    assert.strictEqual(event.eventType, total > 1000 ? 'payment.failed' : 'payment.succeeded',
                       JSON.stringify(event));
  });
  assert.deepStrictEqual([...charges].sort((a, b) => a - b), [...totals].sort((a, b) => a - b),
                         'each order charged once');

  await waitFor(() => emails.length >= 1, 60000, 'the order confirmation email');
  assert.deepStrictEqual(emails, [{ to: 'a@example.com', subject: 'Order Confirmation',
                                    body: 'Your order order-1 is confirmed' }]);
  // Both groups consumed (and committed) every event on orders: 6 created + 1 completed.
  for (const group of ['payment-service', 'email-service']) {
    let total = 0;
    await waitFor(async () => (total = await committedTotal(group, 'orders')) >= 7, 60000,
                  `${group}'s commits`);
    assert.strictEqual(total, 7, group);
  }
});

test('request-reply gets its reply by correlation id and times out without a responder',
     async () => {
  const rr = new AsyncRequestReply();
  rr.replyHandlers = new Map();  // the seed's class leaves its construction out
  await observe('requester-replies', 'payment-replies', (m) => rr.handleReply(m));
  let answering = true;
  await observe('payment-responder', 'payment-requests', async (m) => {
    const request = JSON.parse(m.value.toString());
    if (!answering) return;
    await kafka.producer.send({
      topic: 'payment-replies',
      messages: [{ value: JSON.stringify({ correlationId: request.correlationId,
                                           approved: request.amount < 100 }) }],
    });
  });

  const [small, large] = await Promise.all([
    rr.callServiceAsync({ amount: 5 }), rr.callServiceAsync({ amount: 500 })]);
  assert.strictEqual(small.approved, true);
  assert.strictEqual(large.approved, false);
  assert.strictEqual(rr.replyHandlers.size, 0);

  answering = false;
  await assert.rejects(rr.callServiceAsync({ amount: 7 }), /Request timeout/);
});
