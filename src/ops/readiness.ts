import type { Producer } from '../producers/types.js';

export interface Readiness {
  ready: boolean;
  producers: Record<string, boolean>;
  reason?: string;
}

/** Ready: every producer can take records now (ready() absent counts as ready) and the server is not shutting down. */
export function readinessOf(producers: Map<string, Producer>, accepting: boolean): Readiness {
  const out: Record<string, boolean> = {};
  let ready = true;
  for (const [name, p] of producers) {
    const ok = p.ready?.() !== false;
    out[name] = ok;
    if (!ok) ready = false;
  }
  if (!accepting) return { ready: false, producers: out, reason: 'shutting down' };
  return ready ? { ready, producers: out } : { ready, producers: out, reason: 'a producer cannot take records' };
}
