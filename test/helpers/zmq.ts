import { Subscriber } from 'zeromq';

export interface ZmqMessage {
  topic: string;
  value: Buffer;
}

export interface ZmqSubscriber {
  /** What arrived, in order (empty with `keep: false`). */
  got: ZmqMessage[];
  /** Messages received so far, kept or not. */
  count(): number;
  close(): void;
}

/** A CURVE client: the server's public key it trusts, and its own key pair (all z85). */
export interface ZmqCurveClient {
  serverKey: string;
  publicKey: string;
  secretKey: string;
}

/**
 * A SUB socket of the zeromq package, subscribed to every topic of the PUB socket on `port`:
 * [topic, value] messages as Tesla's zmq consumers read them. `keep: false` only counts;
 * `curve` connects with CURVE.
 */
export function subscribeZmq(port: number, opts: { keep?: boolean; curve?: ZmqCurveClient } = {}): ZmqSubscriber {
  const c = opts.curve;
  const sub = new Subscriber({ linger: 0, ...(c ? { curveServerKey: c.serverKey, curvePublicKey: c.publicKey, curveSecretKey: c.secretKey } : {}) });
  sub.connect(`tcp://127.0.0.1:${port}`);
  sub.subscribe();
  const keep = opts.keep ?? true;
  const got: ZmqMessage[] = [];
  let received = 0;
  void (async () => {
    try {
      for await (const [topic, value] of sub) {
        received++;
        if (keep) got.push({ topic: topic.toString(), value });
      }
    } catch {
      // closed
    }
  })();
  return { got, count: () => received, close: () => sub.close() };
}
