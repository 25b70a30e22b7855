import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { KinesisClient, CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { accepting, deadline, freePort, trackChild, waitUntil } from './ports.js';

/** What the AWS SDK needs to sign requests; kinesalite checks that they are signed, not by whom. */
export const KINESALITE_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };

export interface Kinesalite {
  port: number;
  endpoint: string;
  pid(): number | undefined;
  /** SIGKILL: gone at once, its LevelDB store left as it was. */
  kill(): Promise<void>;
  /** Starts again on the same port and store. */
  start(): Promise<void>;
  stop(): Promise<void>;
  client(): KinesisClient;
  createStream(name: string, shards: number): Promise<void>;
  /** Every record of a stream from its start, shard by shard. */
  read(stream: string): Promise<{ partitionKey: string; data: Buffer; shardId: string }[]>;
}

/** kinesalite (a Kinesis API server) on a free loopback port, its data in `dir` so it survives a restart. */
export async function startKinesalite(dir: string): Promise<Kinesalite> {
  const port = await freePort();
  const main = createRequire(import.meta.url).resolve('kinesalite');
  const script =
    `require(${JSON.stringify(main)})({ path: ${JSON.stringify(dir)}, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 })` +
    `.listen(${port}, '127.0.0.1', () => console.log('listening'))`;
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = (proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
    trackChild(p);
    // Loading LevelDB and its modules takes a while on a loaded machine.
    await waitUntil(
      async () => {
        if (p.exitCode !== null) throw new Error(`kinesalite exited (${p.exitCode}): ${stderr}`);
        return accepting(port);
      },
      60_000,
      `kinesalite on port ${port}`,
    );
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await Promise.race([exited, deadline(5000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await waitUntil(async () => !(await accepting(port)), 5000, 'kinesalite to stop');
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new KinesisClient({
      endpoint,
      region: KINESALITE_ENV.AWS_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    });
  return {
    port,
    endpoint,
    pid: () => proc?.pid,
    kill: () => stopWith('SIGKILL'),
    start,
    stop: () => stopWith('SIGTERM'),
    client,
    async createStream(name, shards) {
      const c = client();
      await c.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitUntil(
        async () => (await c.send(new DescribeStreamCommand({ StreamName: name }))).StreamDescription?.StreamStatus === 'ACTIVE',
        10_000,
        `stream ${name} active`,
      );
      c.destroy();
    },
    async read(stream) {
      const c = client();
      const out: { partitionKey: string; data: Buffer; shardId: string }[] = [];
      const d = await c.send(new DescribeStreamCommand({ StreamName: stream }));
      for (const shard of d.StreamDescription?.Shards ?? []) {
        let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
        while (it) {
          const r = await c.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
          for (const rec of r.Records ?? []) out.push({ partitionKey: rec.PartitionKey!, data: Buffer.from(rec.Data!), shardId: shard.ShardId! });
          if (!r.Records?.length || r.MillisBehindLatest === 0) break;
          it = r.NextShardIterator;
        }
      }
      c.destroy();
      return out;
    },
  };
}
