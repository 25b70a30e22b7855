/**
 * Baseline (a): the stock mqtt.js client publishing the server's topics and payloads at the same
 * QoS, keeping `--window` publishes unacknowledged. Run as a child of bench/e2e.ts.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { arg, loadPublishes, servePublisher } from './publisher-child.js';

const url = arg('url');
const qos = Number(arg('qos')) as 0 | 1 | 2;
const window = Number(arg('window'));
const pubs = loadPublishes();
const counts = { done: 0, errors: 0, sent: 0 };
let client: MqttClient;
let running = false;
let outstanding = 0;
let i = 0;

function publishOne(): void {
  const p = pubs[i];
  i = i + 1 === pubs.length ? 0 : i + 1;
  outstanding++;
  counts.sent++;
  client.publish(p.topic, p.payload, { qos }, (err) => {
    outstanding--;
    if (err) counts.errors++;
    else counts.done++;
    if (running) publishOne();
  });
}

servePublisher({
  counts,
  async connect() {
    client = await mqtt.connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0, clientId: `bench-mqttjs-${process.pid}` });
    // mqtt.js adds a 'drain' listener per publish while the socket is full: with a large window
    // that trips Node's leak warning, which is noise here.
    client.stream.setMaxListeners(0);
  },
  start() {
    running = true;
    for (let k = 0; k < window; k++) publishOne();
  },
  async stop(ms) {
    running = false;
    const end = Date.now() + ms;
    while (outstanding > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return outstanding;
  },
  async close() {
    await client.endAsync(true);
  },
});
