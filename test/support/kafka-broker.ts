/**
 * A Kafka broker for tests written in other languages (the Go conformance suite): starts one with startKafka
 * (test/support/kafka.ts), creates the topics named as `NAME:PARTITIONS` arguments, prints
 * `kafka bootstrap=<host:port>` on stdout once they exist, and stops the broker (removing its directory) on SIGTERM,
 * SIGINT or when stdin closes — so a test that dies takes its broker with it.
 *
 *   node --require tsx/cjs test/support/kafka-broker.ts predictions:2 labels:1
 */
import { startKafka } from './kafka';

async function main(): Promise<void> {
  const topics = process.argv.slice(2).map((arg) => {
    const match = /^([A-Za-z0-9._-]+):(\d+)$/.exec(arg);
    if (!match) {
      throw new Error(`topic argument ${JSON.stringify(arg)}: want NAME:PARTITIONS`);
    }
    return { name: match[1], partitions: Number(match[2]) };
  });
  const broker = await startKafka();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= broker.stop().finally(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.once('end', stop).once('close', stop).resume();
  try {
    for (const topic of topics) {
      await broker.createTopic(topic.name, topic.partitions);
    }
  } catch (error) {
    await broker.stop();
    throw error;
  }
  process.stdout.write(`kafka bootstrap=${broker.bootstrap}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`kafka-broker: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
