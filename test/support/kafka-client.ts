/**
 * A Kafka producer and reader for the tests, run as a child process through tsx (`@platformatic/kafka` is an ES
 * module that jest's CommonJS transform cannot load): test/collector/kafka-support.ts calls it.
 *
 *   kafka-client.ts produce BOOTSTRAP TOPIC FILE   FILE: NDJSON of {key?, value? | valueBase64?, headers?}; value
 *                                                  absent = a null value (tombstone); acks from every replica
 *   kafka-client.ts read BOOTSTRAP TOPIC COUNT     prints COUNT messages from the beginning as NDJSON
 *                                                  {key, valueBase64, headers, partition, offset}
 */
import { readFileSync } from 'node:fs';
import '../../src/server/collector/kafka/node-compat';
import { Consumer, Producer } from '@platformatic/kafka';

interface LineRecord {
  key?: string;
  value?: string;
  valueBase64?: string;
  headers?: Record<string, string>;
}

async function produce(bootstrap: string, topic: string, file: string): Promise<void> {
  const records = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LineRecord);
  const producer = new Producer({ clientId: 'mlmon-test-producer', bootstrapBrokers: [bootstrap], acks: -1 });
  try {
    for (let first = 0; first < records.length; first += 2000) {
      await producer.send({
        messages: records.slice(first, first + 2000).map((record) => ({
          topic,
          key: record.key === undefined ? undefined : Buffer.from(record.key),
          value:
            record.valueBase64 !== undefined
              ? Buffer.from(record.valueBase64, 'base64')
              : record.value === undefined
                ? undefined
                : Buffer.from(record.value),
          headers: new Map(Object.entries(record.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

async function read(bootstrap: string, topic: string, count: number): Promise<void> {
  const consumer = new Consumer({
    groupId: `reader-${process.pid}-${Date.now()}`,
    clientId: 'mlmon-test-reader',
    bootstrapBrokers: [bootstrap],
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
  let seen = 0;
  await new Promise<void>((resolve) =>
    stream.on('data', (message) => {
      if (seen++ >= count) {
        return;
      }
      process.stdout.write(
        JSON.stringify({
          key: message.key?.toString(),
          valueBase64: message.value?.toString('base64'),
          headers: Object.fromEntries([...message.headers].map(([k, v]) => [k.toString(), v.toString()])),
          partition: message.partition,
          offset: String(message.offset),
        }) + '\n'
      );
      if (seen >= count) {
        resolve();
      }
    })
  );
  await consumer.close(true);
}

const [command, bootstrap, topic, arg] = process.argv.slice(2);
(command === 'produce' ? produce(bootstrap, topic, arg) : read(bootstrap, topic, Number(arg))).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`kafka-client: ${(err as Error).stack}\n`);
    process.exit(1);
  }
);
