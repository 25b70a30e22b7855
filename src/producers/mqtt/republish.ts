import type { Publish } from '../../publish/plan.js';

/** Configs per batch of a republish; the next batch goes once the broker acknowledged this one. */
const REPUBLISH_CHUNK = 500;

/**
 * Publishes every discovery config again (Home Assistant's birth message, a broker that lost its
 * retained messages) a chunk at a time: with 10,000 vehicles of 50 fields that is half a million
 * configs, which at once would be hundreds of MB of publishes queued ahead of every vehicle's
 * records. Chunk by chunk, records interleave and memory holds one chunk. A newer republish
 * supersedes the one under way; a chunk that fails (the connection went) ends it, since the
 * reconnect starts a new one.
 */
export class Republisher {
  private generation = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    /** Hands a chunk to the link; `done` is called once the broker took it, or with the failure. */
    private readonly send: (pubs: Publish[], done: (err?: Error) => void) => void,
    private readonly chunk = REPUBLISH_CHUNK,
  ) {}

  /** Republishes what `configs` yields (read lazily, as chunks go), after `delayMs`. */
  start(configs: () => Iterable<Publish>, delayMs = 0): void {
    const gen = ++this.generation;
    clearTimeout(this.timer);
    const run = () => {
      const it = configs()[Symbol.iterator]();
      const next = (err?: Error) => {
        if (err || gen !== this.generation) return;
        const pubs: Publish[] = [];
        while (pubs.length < this.chunk) {
          const r = it.next();
          if (r.done) break;
          pubs.push(r.value);
        }
        if (pubs.length) this.send(pubs, next);
      };
      next();
    };
    if (delayMs > 0) this.timer = setTimeout(run, delayMs).unref();
    else run();
  }

  stop(): void {
    this.generation++;
    clearTimeout(this.timer);
  }
}
