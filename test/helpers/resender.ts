import type { VehicleClient } from './vehicle.js';
import { sleep } from './ports.js';

export interface ResendResult {
  acked: Set<string>;
  errors: number;
  resent: number;
}

/**
 * Sends frames the way a car does: a frame with no response after `resendMs` goes again with
 * the same txid, until every frame is acked or `totalMs` passes.
 */
export async function sendUntilAcked(
  v: VehicleClient,
  frames: Map<string, Uint8Array>,
  opts: { resendMs: number; totalMs: number; spacingMs?: number },
): Promise<ResendResult> {
  const sentAt = new Map<string, number>();
  for (const [txid, f] of frames) {
    v.send(f);
    sentAt.set(txid, Date.now());
    if (opts.spacingMs) await sleep(opts.spacingMs);
  }
  return resendUntilAcked(v, frames, sentAt, opts);
}

/**
 * For frames already sent (`sentAt`: when each went last, updated here): each one still unacked
 * `resendMs` after it went goes again with the same txid, until every frame is acked or
 * `totalMs` passes.
 */
export async function resendUntilAcked(
  v: VehicleClient,
  frames: Map<string, Uint8Array>,
  sentAt: Map<string, number>,
  opts: { resendMs: number; totalMs: number },
): Promise<ResendResult> {
  let resent = 0;
  const end = Date.now() + opts.totalMs;
  const acked = new Set<string>();
  while (Date.now() < end) {
    for (const r of v.responses) if (r.kind === 'ack' && frames.has(r.txid)) acked.add(r.txid);
    if (acked.size === frames.size) break;
    const now = Date.now();
    for (const [txid, f] of frames) {
      if (acked.has(txid) || now - (sentAt.get(txid) ?? 0) < opts.resendMs) continue;
      v.send(f);
      sentAt.set(txid, now);
      resent++;
    }
    await sleep(50);
  }
  return { acked, errors: v.responses.filter((r) => r.kind === 'error').length, resent };
}
