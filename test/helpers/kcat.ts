import { execFile } from 'node:child_process';

/** A message as kcat (librdkafka's command-line client) read it. */
export interface KafkaRead {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer;
  value: Buffer;
  headers: Record<string, string>;
}

// Lengths first, so binary keys and values are cut exactly.
const FORMAT = 'MSG %t %p %o %K %S %h\n%k%s';

function parse(out: Buffer): KafkaRead[] {
  const msgs: KafkaRead[] = [];
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    if (nl < 0) throw new Error(`kcat output ends inside a header line: ${out.subarray(at).toString('utf8')}`);
    const line = out.subarray(at, nl).toString('utf8');
    const m = /^MSG (\S+) (\d+) (\d+) (-?\d+) (-?\d+) ?(.*)$/.exec(line);
    if (!m) throw new Error(`kcat printed ${JSON.stringify(line)}`);
    const keyLen = Math.max(0, Number(m[4]));
    const valueLen = Math.max(0, Number(m[5]));
    const headers: Record<string, string> = {};
    for (const pair of m[6] ? m[6].split(',') : []) {
      const eq = pair.indexOf('=');
      headers[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const key = out.subarray(nl + 1, nl + 1 + keyLen);
    const value = out.subarray(nl + 1 + keyLen, nl + 1 + keyLen + valueLen);
    msgs.push({ topic: m[1], partition: Number(m[2]), offset: Number(m[3]), key: Buffer.from(key), value: Buffer.from(value), headers });
    at = nl + 1 + keyLen + valueLen;
  }
  return msgs;
}

/** Every message of `topic` from the beginning to its end now, by kcat. */
export function kcatRead(bootstrap: string, topic: string): Promise<KafkaRead[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'kcat',
      ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', FORMAT],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`kcat -C -t ${topic}: ${err.message} ${stderr.toString('utf8')}`));
        try {
          resolve(parse(stdout));
        } catch (e) {
          reject(e);
        }
      },
    );
  });
}

/** Produces one keyed message with kcat (librdkafka's default partitioner); resolves with where it landed. */
export async function kcatProduce(bootstrap: string, topic: string, key: string, value: string): Promise<KafkaRead> {
  await new Promise<void>((resolve, reject) => {
    const p = execFile('kcat', ['-b', bootstrap, '-P', '-t', topic, '-k', key], { timeout: 30_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`kcat -P: ${err.message} ${stderr}`)) : resolve(),
    );
    p.stdin!.end(value);
  });
  const all = await kcatRead(bootstrap, topic);
  const found = all.find((m) => m.key.toString() === key && m.value.toString() === value);
  if (!found) throw new Error(`kcat did not read back its own message on ${topic}`);
  return found;
}
