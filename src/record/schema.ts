import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import Long from 'long';

// int64 fields must keep every digit: protobufjs uses long.js when it is installed.
protobuf.util.Long = Long;
protobuf.configure();

const PROTO_FILES = ['vehicle_data.proto', 'vehicle_alert.proto', 'vehicle_error.proto', 'vehicle_connectivity.proto', 'vehicle_metric.proto'];

/** protos/ ships beside dist/ in the package; tests run from build/, so look upward for it. */
export function protosDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'protos');
    if (existsSync(join(candidate, PROTO_FILES[0]))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('protos/ directory not found beside the program');
    dir = up;
  }
}

let root: protobuf.Root | undefined;

/** The vehicle schema, parsed once from protos/*.proto. */
export function vehicleSchema(): protobuf.Root {
  if (!root) {
    const dir = protosDir();
    root = new protobuf.Root().loadSync(
      PROTO_FILES.map((f) => join(dir, f)),
      { keepCase: true },
    );
    root.resolveAll();
  }
  return root;
}

export function lookupType(name: string): protobuf.Type {
  return vehicleSchema().lookupType(name);
}

export function lookupEnum(name: string): protobuf.Enum {
  return vehicleSchema().lookupEnum(name);
}
