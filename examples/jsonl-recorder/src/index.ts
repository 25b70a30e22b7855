import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidRecord, rateLimitedLog, type Producer, type ProducerContext, type VehicleRecord } from 'fleet-telemetry/plugin';
import { recordLine } from './line.js';
import { recorderOptions } from './options.js';

export { recorderOptions, type RecorderOptions } from './options.js';
export { recordLine } from './line.js';

// A VIN names a file: anything but letters and digits could leave the folder.
const SAFE_VIN = /^[A-Za-z0-9]{1,32}$/;

/**
 * The recorder: each record appended as one JSON line to `<dir>/<VIN>.jsonl`. produce()
 * resolves once the line is written (and synced, with `sync`), so the vehicle's frame is acked
 * only then; a failed write rejects and the vehicle resends. Writes to one file go one after
 * another, and no file stays open between them.
 */
export default function createProducer(ctx: ProducerContext): Producer {
  const o = recorderOptions(ctx.options);
  const log = rateLimitedLog(ctx.logger.child({ producer: ctx.name }));
  // The last write queued per vehicle: the next one waits for it.
  const tails = new Map<string, Promise<void>>();

  const append = async (file: string, line: string) => {
    const fh = await open(file, 'a');
    try {
      await fh.write(line);
      if (o.sync) await fh.datasync();
    } finally {
      await fh.close();
    }
  };

  return {
    name: ctx.name,
    produce(record: VehicleRecord) {
      if (!SAFE_VIN.test(record.vin)) return Promise.reject(new InvalidRecord(`jsonl-recorder: VIN ${JSON.stringify(record.vin)} cannot name a file`));
      const prev = tails.get(record.vin) ?? Promise.resolve();
      const done = prev.then(() => append(join(o.dir, `${record.vin}.jsonl`), recordLine(record)));
      const tail = done.catch((err: unknown) => {
        log.warn('write_failed', { event: 'write_failed', vin: record.vin, err: (err as Error).message }, 'record not written');
      });
      tails.set(record.vin, tail);
      // Forget the vehicle's queue once nothing follows this write.
      void tail.then(() => {
        if (tails.get(record.vin) === tail) tails.delete(record.vin);
      });
      return done;
    },
    async close() {
      await Promise.all(tails.values());
    },
  };
}
