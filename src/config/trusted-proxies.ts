import { BlockList, isIP } from 'node:net';

/** The parsed `tls.proxy.trusted_proxies`: which peers may speak to the plain listener. */
export interface TrustedProxies {
  has(address: string | undefined): boolean;
}

export type TrustedProxiesResult = { ok: true; trusted: TrustedProxies } | { ok: false; index: number; reason: string };

/** IPv4 peers of a dual-stack socket arrive as ::ffff:a.b.c.d; rules are written as a.b.c.d. */
function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/** Addresses and CIDRs ("127.0.0.1", "10.0.0.0/8", "fd00::/8"); the first bad entry is named. */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxiesResult {
  const list = new BlockList();
  for (const [index, raw] of entries.entries()) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    const addr = plainAddress(slash < 0 ? entry : entry.slice(0, slash));
    const family = isIP(addr);
    if (family === 0) return { ok: false, index, reason: `${JSON.stringify(raw)} is not an IP address or CIDR (host names are not resolved)` };
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      list.addAddress(addr, type);
      continue;
    }
    const bits = entry.slice(slash + 1);
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
      return { ok: false, index, reason: `${JSON.stringify(raw)}: the prefix length must be 0 to ${family === 4 ? 32 : 128}` };
    }
    list.addSubnet(addr, prefix, type);
  }
  return {
    ok: true,
    trusted: {
      has(address) {
        if (!address) return false;
        const a = plainAddress(address);
        const family = isIP(a);
        return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
      },
    },
  };
}

/**
 * Entries wider than a site's own network: a vehicle's certificate is public (it crosses every
 * handshake), so any host allowed to speak to the plain listener can present one as its own.
 */
export function broadEntries(entries: readonly string[]): string[] {
  return entries.filter((raw) => {
    const [addr, bits] = raw.trim().split('/');
    if (bits === undefined) return false;
    return isIP(plainAddress(addr)) === 4 ? Number(bits) < 16 : Number(bits) < 48;
  });
}
