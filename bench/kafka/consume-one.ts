/**
 * One candidate client consuming `records` records of `topic` from the beginning in a fresh consumer group, alone
 * in this process; prints {client, records, bytes, wallSeconds, cpuSeconds} (CPU of the whole process: user +
 * system, every thread — librdkafka's own threads included). Run by clients.ts.
 *
 *   consume-one.ts platformatic|confluent BOOTSTRAP TOPIC RECORDS [CONFLUENT_PACKAGE_DIR]
 */
import { Consumer } from '@platformatic/kafka';

interface Tally {
  records: number;
  bytes: number;
}

async function platformatic(bootstrap: string, topic: string, records: number, tally: Tally): Promise<void> {
  const consumer = new Consumer({
    groupId: `clients-${process.pid}`,
    clientId: 'bench',
    bootstrapBrokers: [bootstrap],
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  await new Promise<void>((resolve) =>
    stream.on('data', (message) => {
      tally.records += 1;
      tally.bytes += message.value.length;
      if (tally.records >= records) {
        resolve();
      }
    })
  );
  await consumer.close(true);
}

async function confluent(bootstrap: string, topic: string, records: number, tally: Tally, dir: string) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KafkaJS } = require(dir);
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: [bootstrap], logLevel: KafkaJS.logLevel.ERROR } });
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `clients-${process.pid}`, fromBeginning: true, autoCommit: false },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await new Promise<void>((resolve) =>
    consumer.run({
      eachBatch: async ({ batch }: { batch: { messages: Array<{ value: Buffer | null }> } }) => {
        for (const message of batch.messages) {
          tally.records += 1;
          tally.bytes += message.value?.length ?? 0;
        }
        if (tally.records >= records) {
          resolve();
        }
      },
    })
  );
  await consumer.disconnect();
}

async function main() {
  const [client, bootstrap, topic, count, dir] = process.argv.slice(2);
  const records = Number(count);
  const tally: Tally = { records: 0, bytes: 0 };
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  if (client === 'platformatic') {
    await platformatic(bootstrap, topic, records, tally);
  } else {
    await confluent(bootstrap, topic, records, tally, dir);
  }
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    JSON.stringify({
      client,
      ...tally,
      wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      cpuSeconds: (used.user + used.system) / 1e6,
    }) + '\n'
  );
  process.exit(0);
}

void main();
