import t from 'tap';
import { readFrame, UnreadableFrame } from '../src/envelope/index.js';
import { DecodeError, decodeRecord, recordDecoders } from '../src/record/decode.js';
import { defaultPlanOptions, planPublishes } from '../src/publish/plan.js';
import { canonicalJson, loadConformance } from './helpers/fixtures.js';

// Every public golden frame through codec → decode → publish plan, as the server would with
// V, alerts and errors routed to a producer and nothing configured for other record types.
const conformance = loadConformance();
const routed = new Set(['V', 'alerts', 'errors']);

for (const c of conformance.cases) {
  t.test(c.name, async (t) => {
    let f;
    try {
      f = readFrame(Buffer.from(c.frame_b64, 'base64'));
    } catch (err) {
      t.type(err, UnreadableFrame, 'an unreadable frame, nothing else');
      t.equal(c.expect.response, 'error', 'an unreadable frame is answered with an error');
      t.equal(c.expect.txid, '', 'unreadable frames answer with an empty txid');
      return;
    }
    t.equal(f.txid, c.expect.txid, 'txid');
    if (!routed.has(f.recordType) || !recordDecoders().has(f.recordType)) {
      t.equal(c.expect.response, 'ack', 'unrouted record type is acked');
      t.equal(f.recordType, c.expect.topic);
      t.same(c.expect.publishes, [], 'and publishes nothing');
      return;
    }
    let publishes;
    try {
      const record = decodeRecord(f.recordType, f.stream!.payload, c.vin, f.txid);
      publishes = planPublishes(record, defaultPlanOptions(conformance.topic_base));
    } catch (err) {
      t.ok(err instanceof DecodeError, 'decode failure is a DecodeError');
      t.equal(c.expect.response, 'error', `expected ${c.expect.response}, decode failed: ${(err as Error).message}`);
      return;
    }
    t.equal(c.expect.response, 'ack');
    t.equal(f.recordType, c.expect.topic);
    t.same(
      publishes.map((p) => p.topic),
      c.expect.publishes.map((p) => p.topic),
      'topics, in order',
    );
    for (let i = 0; i < c.expect.publishes.length; i++) {
      const exp = c.expect.publishes[i];
      const got = publishes[i];
      if (!got) break;
      t.equal(canonicalJson(got.payload), canonicalJson(exp.payload), `payload of ${exp.topic}`);
    }
  });
}
