import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Batch, type MqttLink } from '../src/producers/mqtt/link.js';
import { Nudger } from '../src/producers/mqtt/nudge.js';
import type { Publish } from '../src/publish/plan.js';
import { createCa, issueCert } from '../src/tls/dev-certs.js';
import { makeLink, PINGRESP, puback, ScriptedBroker } from './helpers/nudge.js';
import { waitUntil } from './helpers/ports.js';

// The nudge's rule (src/producers/mqtt/nudge.ts), step by step: a broker played by the test
// chooses every read the link sees, and a read after which the link writes nothing while the
// broker still owes acknowledgements is a stall (a real broker with Nagle on would wait ~40 ms
// for our delayed ACK). Nothing here is timed but the waits for a write, which a passing link
// answers at once: the latency is bench-sparse's (bench/README.md).

/** How long a read may go unanswered before it counts as left to the delayed ACK. */
const NO_WRITE_MS = 1000;
/** How long the link must stay quiet where it should not nudge. */
const QUIET_MS = 300;

function record(link: MqttLink, tag: string): Promise<Error | undefined> {
  const pubs: Publish[] = Array.from({ length: 20 }, (_, k) => ({ topic: `rule/${tag}/${k}`, payload: String(k), qos: 1, retain: false }));
  return new Promise((resolve) => link.send(new Batch(pubs, resolve, Date.now() + 30_000)));
}

async function connected(t: Test, tls: boolean) {
  let cert: { certPem: string; keyPem: string } | undefined;
  let caFile: string | undefined;
  if (tls) {
    const ca = await createCa({ commonName: 'nudge rule CA' });
    cert = await issueCert(ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
    caFile = `${t.testdir()}/ca.pem`;
    writeFileSync(caFile, ca.certPem);
  }
  const broker = await ScriptedBroker.start(cert);
  t.teardown(() => broker.close());
  const { link } = makeLink(t, broker.url, caFile ? { caFile } : {});
  await waitUntil(() => link.connected, 10_000, 'connected to the scripted broker');
  return { broker, link };
}

for (const tls of [false, true]) {
  t.test(`${tls ? 'TLS' : 'TCP'}: PINGRESP-only reads ahead of the PUBACKs still draw a nudge (the capture of issue #29)`, async (t) => {
    const { broker, link } = await connected(t, tls);

    // One record, its PUBACKs one segment at a time: the link nudges after each but the last;
    // the broker keeps those PINGREQs' PINGRESPs back, as Nagle does once the record is acked.
    const first = record(link, 'a');
    await broker.publishesReach(20);
    let unanswered = 0;
    for (let i = 0; i < 20; i++) {
      const step = broker.send(puback(broker.publishes[i]));
      if (i < 19 && !(await step.wrote(NO_WRITE_MS))) unanswered++;
    }
    t.equal(await first, undefined, 'first record acked');
    t.equal(unanswered, 0, 'every PUBACK read while more were owed drew a write');
    const held = broker.pingreqs;
    t.ok(held >= 4, `${held} PINGREQs whose PINGRESPs are held back`);

    // The next record: the held PINGRESPs come first, one small segment per segment of ours, then
    // two in one, and only then the PUBACKs. Every read must draw a write: the broker owes 20.
    const second = record(link, 'b');
    await broker.publishesReach(40);
    const stalled: string[] = [];
    const pongReads = [[PINGRESP], [PINGRESP], [PINGRESP, PINGRESP], [PINGRESP]];
    for (const [i, pongs] of pongReads.entries()) {
      if (!(await broker.send(...pongs).wrote(NO_WRITE_MS))) stalled.push(`PINGRESP read ${i + 1}`);
    }
    for (let i = 20; i < 40; i++) {
      const step = broker.send(puback(broker.publishes[i]));
      if (i < 39 && !(await step.wrote(NO_WRITE_MS))) stalled.push(`PUBACK read ${i - 19}`);
    }
    t.equal(await second, undefined, 'second record acked');
    t.same(stalled, [], 'no read left to the delayed ACK while PUBACKs were owed');
  });
}

t.test('a broker that acks late: a PINGRESP answering the last nudge ends the chain, acks restart it', async (t) => {
  const { broker, link } = await connected(t, false);
  const done = record(link, 'late');
  await broker.publishesReach(20);
  const ids = broker.publishes.slice(0, 20);

  t.ok(await broker.send(...ids.slice(0, 5).map(puback)).wrote(NO_WRITE_MS), 'acks read: nudged');
  const before = broker.pingreqs;
  // The broker has read all we wrote and answers our PINGREQ before the acks it still owes.
  t.notOk(await broker.send(PINGRESP).wrote(QUIET_MS), 'its PINGRESP: no ping-pong while the broker works');
  t.equal(broker.pingreqs, before, 'no PINGREQ');

  t.ok(await broker.send(...ids.slice(5, 10).map(puback)).wrote(NO_WRITE_MS), 'later acks: nudged again');
  t.notOk(await broker.send(PINGRESP).wrote(QUIET_MS), 'and its PINGRESP ends the chain again');

  t.ok(await broker.send(...ids.slice(10, 15).map(puback)).wrote(NO_WRITE_MS), 'more acks: nudged');
  t.ok(await broker.send(puback(ids[15])).wrote(NO_WRITE_MS), 'and again, two PINGREQs unanswered');
  t.notOk(await broker.send(PINGRESP).wrote(QUIET_MS), 'a PINGRESP of either ends the chain: both came after our last PUBLISH');

  broker.send(...ids.slice(16).map(puback));
  t.equal(await done, undefined, 'record acked');
  t.equal(link.nudges, broker.pingreqs, 'every PINGREQ the broker read was a nudge');
});

/** A socket that only counts what is written to it. */
function fakeSocket() {
  const s = { bytesWritten: 0, writes: 0, write: (b: Buffer) => ((s.bytesWritten += b.length), s.writes++, true) };
  return s;
}
// Past the check, whether it runs next turn or a millisecond later (PINGREQs unanswered).
const turn = () => new Promise((r) => setTimeout(r, 5));

t.test('Nudger: when a read draws a nudge and when it does not', async (t) => {
  const s = fakeSocket();
  let inFlight = 20;
  let pending = false;
  let nudged = 0;
  const n = new Nudger(s as unknown as Socket, { inFlight: () => inFlight, writePending: () => pending, live: () => true, nudged: () => nudged++ });
  const read = async (acks: number, pongs: number, during?: () => void) => {
    n.readBegins();
    n.acks += acks;
    for (let i = 0; i < pongs; i++) n.pong();
    during?.();
    n.readEnds();
    await turn();
  };

  s.bytesWritten = 1262; // a record's PUBLISHes
  await read(1, 0);
  t.equal(nudged, 1, 'a read of acks, more owed: nudge');
  await read(0, 0);
  t.equal(nudged, 2, 'a read of nothing of ours while acks are owed: nudge');
  await read(0, 1);
  t.equal(nudged, 2, 'the PINGRESP of the last nudge, nothing written since: the chain ends');
  await read(0, 0, () => (s.bytesWritten += 40));
  t.equal(nudged, 2, 'a write since the read began carried the ACK: none');
  pending = true;
  await read(3, 0);
  t.equal(nudged, 2, 'a flush about to write: none');
  pending = false;
  await read(3, 0);
  await read(2, 0);
  t.equal(nudged, 4, 'acks again: nudges');
  s.bytesWritten += 1262; // the next record: both PINGREQs now older than our last write
  for (let i = 0; i < 2; i++) await read(0, 1);
  t.equal(nudged, 6, 'PINGRESPs of PINGREQs older than our last write: each read nudges');
  await read(0, 2);
  t.equal(nudged, 6, 'a PINGRESP of a PINGREQ written after our last write: the chain ends');
  inFlight = 0;
  await read(1, 0);
  t.equal(nudged, 6, 'nothing owed: none');
  t.equal(s.writes, 6, 'one PINGREQ per nudge');
});

t.test("Nudger: the keep-alive's PINGREQ is answered by its own PINGRESP, not an earlier nudge's", async (t) => {
  const s = fakeSocket();
  const n = new Nudger(s as unknown as Socket, { inFlight: () => 20, writePending: () => false, live: () => true, nudged: () => undefined });
  n.readBegins();
  n.acks++;
  n.readEnds();
  await turn();
  t.equal(s.writes, 1, 'a nudge went out');
  n.ping(true);
  t.equal(s.writes, 2, 'then the keep-alive PINGREQ');
  t.notOk(n.pong(), "the first PINGRESP answers the nudge: the keep-alive's still awaits");
  t.ok(n.pong(), 'the second answers the keep-alive');
  t.ok(n.pong(), 'one more (unasked) changes nothing');
});
