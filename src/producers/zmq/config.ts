/** The `zmq` block: Tesla's keys with Tesla's meaning (datastore/zmq). */

const tesla = 'tesla' as const;

export const zmqSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    "The zmq producer (Tesla's): a PUB socket bound to addr sends each record as two frames, the topic `<namespace>_<record type>` and the record's message. " +
    'ZeroMQ has no delivery report: a frame is acked once the socket took the message, whether or not a subscriber was connected to receive it. Needed when records route to zmq.',
  'x-origin': tesla,
  properties: {
    addr: {
      type: 'string',
      pattern: '^(tcp|ipc|inproc)://\\S+$',
      description: 'Endpoint the PUB socket binds, e.g. "tcp://*:5284" or "ipc:///run/fleet-telemetry.sock".',
      'x-allowed': 'a ZeroMQ endpoint such as "tcp://*:5284"',
      'x-origin': tesla,
    },
    server_key_json_path: {
      type: 'string',
      minLength: 1,
      description:
        'JSON file `{"secret": <z85>, "public": <z85>}` with the socket\'s CURVE key pair (40-character z85 keys). The socket then speaks only CURVE: traffic is encrypted and ' +
        'subscribers must connect with CURVE, giving this public key as the server key. "public" may be left out (only the secret is used); when present it must be the secret\'s pair. ' +
        'A file that cannot be read or used fails check-config and the start.',
      'x-origin': tesla,
    },
    allowed_public_keys_json_path: {
      type: 'string',
      minLength: 1,
      description:
        'JSON list of the z85 CURVE public keys of the subscribers allowed to connect; used only with server_key_json_path. ' +
        "Absent: any subscriber that connects with CURVE and the server's public key (Tesla's server, with a server key and no list, refuses every subscriber).",
      'x-origin': tesla,
    },
    verbose: {
      type: 'boolean',
      default: false,
      description: "Log the socket's events (listening, accepted, disconnected, handshake failures) at debug level.",
      'x-origin': tesla,
    },
  },
} as const;

export interface ZmqConfig {
  addr?: string;
  server_key_json_path?: string;
  allowed_public_keys_json_path?: string;
  verbose: boolean;
}
