import t from 'tap';
import { kafkaFailureText } from '../src/producers/kafka/failure.js';

// What an operator reads when the producer cannot connect: a TLS verification failure names the
// kafka key that decides it; anything else keeps the client's own words.

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

t.test('TLS verification codes, on the error or on one it wraps, name the kafka key', async (t) => {
  t.match(
    kafkaFailureText(coded('Connection error: self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN')),
    /^the broker's TLS certificate is not trusted \(Connection error: self-signed certificate in certificate chain\): kafka\.ssl\.ca\.location/,
  );
  const wrapped = Object.assign(new Error('retries exceeded'), { originalError: coded('Connection error: certificate has expired', 'CERT_HAS_EXPIRED') });
  t.equal(kafkaFailureText(wrapped), "the broker's TLS certificate is not valid now (retries exceeded)");
  t.match(kafkaFailureText(coded('altnames', 'ERR_TLS_CERT_ALTNAME_INVALID')), /ssl\.endpoint\.identification\.algorithm none/);
});

t.test('other failures keep their message', async (t) => {
  t.equal(kafkaFailureText(coded('Connection error: connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED')), 'Connection error: connect ECONNREFUSED 127.0.0.1:9');
  t.equal(kafkaFailureText(new Error('SASL PLAIN authentication failed')), 'SASL PLAIN authentication failed');
  t.equal(kafkaFailureText('plain text'), 'plain text');
});
