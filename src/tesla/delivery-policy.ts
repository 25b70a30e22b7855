/**
 * `"delivery_policy": "latest"` in a vehicle config. Tesla's maintainers state
 * (teslamotors/fleet-telemetry#318) that from firmware 2025.2.6 / 2024.45.32.20 a car acts on
 * the server's acks for V records only with it: without it the car does not resend what got
 * no ack, and this server's promise (nothing acked is lost, nothing unacked is dropped) stops
 * at the car.
 */
export const DELIVERY_POLICY = 'latest';

/** Why a vehicle config's delivery_policy breaks the ack promise, or undefined when it keeps it. */
export function deliveryPolicyProblem(config: Record<string, unknown>): string | undefined {
  const p = config.delivery_policy;
  if (p === DELIVERY_POLICY) return undefined;
  const what = p === undefined ? 'no delivery_policy' : `delivery_policy ${JSON.stringify(p)}`;
  return `${what}: the car ignores this server's acks and does not resend what got none (firmware 2025.2.6 / 2024.45.32.20 and later); set "delivery_policy": "latest" (vehicle-config does by default)`;
}
