import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { REDIS_DEFAULT_PUBLISH_TIMEOUT_NS, REDIS_PASSWORD_ENV, type RedisConfig } from './config.js';

interface RedisNode {
  host: string;
  port: number;
}

/** Everything the link needs, read from the `redis` block once (files included). */
export interface RedisEndpoint {
  nodes: RedisNode[];
  cluster: boolean;
  username?: string;
  password?: string;
  database: number;
  /** Present: TLS, with these options (CA, client certificate, fixed server name). */
  tls?: ConnectionOptions;
  publishTimeoutMs: number;
}

/** `host:port`, `[v6]:port`, `redis://host:port` or `rediss://host:port` (which asks for TLS). */
function parseRedisAddr(addr: string): RedisNode & { secure: boolean } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(addr) ? addr : `redis://${addr}`;
  const u = new URL(withScheme);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis address ${addr}: unsupported scheme ${u.protocol} (use host:port)`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error(`redis address ${addr}: no host`);
  return { host, port: u.port ? Number(u.port) : 6379, secure: u.protocol === 'rediss:' };
}

/**
 * The name every node's certificate is checked against with override_tls_server_name: the host
 * of the first address, as Tesla's server takes it.
 */
function overrideServerName(addrs: readonly string[]): string | undefined {
  return addrs.length ? parseRedisAddr(addrs[0]).host : undefined;
}

/**
 * Reads the `redis` block: `file` resolves a path from the config, `env` may hold
 * REDIS_PASSWORD (it takes the place of redis.password when not empty, as in Tesla's server).
 */
export function redisEndpoint(cfg: RedisConfig, file: (p: string) => string, env: NodeJS.ProcessEnv = process.env): RedisEndpoint {
  const addrs = cfg.addrs ?? [];
  const parsed = addrs.map(parseRedisAddr);
  const secure = cfg.tls !== undefined || parsed.some((a) => a.secure);
  let tls: ConnectionOptions | undefined;
  if (secure) {
    const t = cfg.tls ?? {};
    tls = {};
    if (t.ca_file) tls.ca = readFileSync(file(t.ca_file));
    if (t.server_cert && t.server_key) {
      tls.cert = readFileSync(file(t.server_cert));
      tls.key = readFileSync(file(t.server_key));
    }
    if (cfg.override_tls_server_name) {
      const name = overrideServerName(addrs);
      // Node sends no SNI for an IP address but still checks the certificate against it.
      if (name) tls.servername = isIP(name) ? undefined : name;
      if (name) tls.checkServerIdentity = identityFor(name);
    }
  }
  const ns = cfg.publish_timeout ?? 0;
  return {
    nodes: parsed.map(({ host, port }) => ({ host, port })),
    cluster: cfg.cluster_mode,
    username: cfg.username,
    password: env[REDIS_PASSWORD_ENV] || cfg.password,
    database: cfg.db,
    tls,
    publishTimeoutMs: Math.max(1, Math.round((ns === 0 ? REDIS_DEFAULT_PUBLISH_TIMEOUT_NS : ns) / 1e6)),
  };
}

/** Checks a certificate against one fixed name, whatever address was dialled. */
function identityFor(name: string): ConnectionOptions['checkServerIdentity'] {
  return (_host, cert) => checkServerIdentity(name, cert);
}
