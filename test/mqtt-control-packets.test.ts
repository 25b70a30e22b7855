import t from 'tap';
import { readConnack, readSuback } from '../src/producers/mqtt/control-packets.js';

t.test('CONNACK: the return code', async (t) => {
  t.equal(readConnack(0, Buffer.from([0, 0])), 0);
  t.equal(readConnack(0, Buffer.from([1, 5])), 5, 'session present, not authorized');
  t.equal(readConnack(0, Buffer.from([0, 0x87])), 0x87, 'an MQTT 5 code answered to a 3.1.1 client is kept');
  t.throws(() => readConnack(0, Buffer.from([0])), /malformed CONNACK from broker/);
  t.throws(() => readConnack(0, Buffer.from([2, 0])), /malformed CONNACK from broker: Invalid connack flags/);
});

t.test('SUBACK: packet id and one code per filter', async (t) => {
  t.same(readSuback(0, Buffer.from([0, 7, 1])), { packetId: 7, codes: [1] });
  t.same(readSuback(0, Buffer.from([1, 2, 0, 0x80])), { packetId: 258, codes: [0, 0x80] });
  t.throws(() => readSuback(0, Buffer.from([0, 7])), /SUBACK from broker without a return code/);
  t.throws(() => readSuback(0, Buffer.from([0])), /malformed SUBACK from broker/);
  t.throws(() => readSuback(0, Buffer.from([0, 7, 3])), /malformed SUBACK from broker: Invalid suback QoS/);
});
