import { FleetTelemetryError } from '../errors.js';

type StartCode = 'start_failed' | 'fleet_token_unreadable' | 'fleet_token_short';

/** A start that cannot succeed as configured: reported in one line, exit 2, no stack trace. */
export class StartError extends FleetTelemetryError {
  declare readonly code: StartCode;
  /** `code` names what went wrong when there is a more precise name than start_failed. */
  constructor(message: string, opts: { code?: StartCode; cause?: unknown } = {}) {
    super(opts.code ?? 'start_failed', message, opts.cause === undefined ? undefined : { cause: opts.cause });
  }
}

/** A listener that could not bind, said with the config key that chose its address. */
export function bindError(err: unknown, key: string, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const at = `${host}:${port}`;
  if (code === 'EADDRINUSE') return new StartError(`${at} (${key}) is already in use by another process; choose another ${key} or stop that process`);
  if (code === 'EADDRNOTAVAIL') return new StartError(`${at} (${key}): this machine has no address ${host}`);
  if (code === 'EACCES') return new StartError(`${at} (${key}): not permitted (ports below 1024 need privileges)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new StartError(`${at} (${key}): host ${host} does not resolve`);
  return err instanceof Error ? err : new StartError(`${at} (${key}): ${String(err)}`, { cause: err });
}
