/**
 * What Tesla's own dispatchers (its `kafka`, `kinesis`, `redis` and `zmq`) send for a record, as
 * pure functions, so that each producer here sends the same bytes under the same names.
 *
 * - `dispatchTopic(namespace, recordType)` → `"<namespace>_<recordType>"`: Tesla's BuildTopicName,
 *   the Kafka topic, the ZMQ topic frame and the default Kinesis stream.
 * - `kinesisStream(namespace, recordType, streams?, env?)` → the stream: env
 *   `KINESIS_STREAM_<TYPE>`, else `kinesis.streams[type]`, else `dispatchTopic`.
 * - `redisVinChannel(namespace, recordType, vin)` → `"<namespace>_<recordType>_{<vin>}"` and
 *   `redisSubscriberSetKey(prefix, namespace, recordType, vin)` → `"<prefix>_" + that channel`.
 * - `dispatchMessage(record, { decoded })` → `{ key, headers, value }`:
 *   - `key`: the VIN (Kafka key, Kinesis partition key);
 *   - `headers`: `vin`, `receivedat` (epoch ms), `timestamp` ("0"), `txid` (a connectivity
 *     record's connection id), `txtype`, `version` ("0"), `device_client_version` (the
 *     connection's `Version` header): Tesla's Kafka headers;
 *   - `value`: the record's protobuf message re-encoded with `vin` set to the certificate's VIN
 *     and Tesla's transforms applied (V: first Location string → location_value, scientific
 *     strings → five decimals; alerts: millisecond timestamps), or with `decoded: true`
 *     (`transmit_decoded_records`) Tesla's protojson text of that message, UTF-8.
 * - `teslaMessage(record)`, `encodeTeslaMessage(m)`, `teslaJson(m)`: the steps of `value`, for a
 *   producer that sends one record to several places and wants to decode it once.
 * - `InFlightRecords(max, timeoutMs, tally)`: `run(work)` bounds a producer's records in flight
 *   (refusing past the bound, so a slow server holds only its own records) and answers each by
 *   its deadline; `DispatchError` (code = the metrics' reason; transient) is what it rejects with.
 * - `LinkHealth(log, lines, tally)`: a batching link's up/down as its requests tell (Kafka's and
 *   Kinesis's links), one log line per change and a reconnect counted on each return.
 * - `DispatchTally` (a producer's `tally`, with `connected()`): what /metrics shows for it, as
 *   `fleet_telemetry_dispatch_*{producer=…}` series (sent, bytes, failures, in flight, connected).
 *
 * Differences from Tesla's bytes that no consumer can see through a protobuf or JSON parser:
 * fields are written in .proto order (Go: field-number order, the same for these messages),
 * unknown fields are dropped (Go keeps them), and the JSON has no random spaces.
 */
export { dispatchTopic, kinesisStream, redisSubscriberSetKey, redisVinChannel } from './topic.js';
export { dispatchMessage } from './message.js';
export { TESLA_MESSAGE_TYPES } from './proto.js';
export { parseGoLocation } from './location.js';
export { DispatchTally } from './tally.js';
export { DispatchError } from './errors.js';
export { InFlightRecords } from './in-flight.js';
