import type { FleetListing, FleetVehicle } from '../../src/cli/fleet-listing.js';

/** The moment the fixture's server answered; every relative time is measured from it. */
export const AT = 1_764_530_000_000;

const none = { soc: null, speed: null, gear: null, charging: null, location: null };

/** A row of GET /api/fleet as the contract (fleet-api.md) shapes it. */
export function row(vin: string, over: Partial<FleetVehicle> = {}): FleetVehicle {
  return { vin, name: null, connected: true, since: AT - 60_000, last_frame_at: null, frames: 0, fields: 0, key: { ...none }, trip_score: null, ...over };
}

/** Three vehicles: one driving, one disconnected five minutes ago with a long name, one silent. */
export function fleetFixture(): FleetListing {
  return {
    at: AT,
    health: {
      vehicles_connected: 2,
      vehicles_known: 3,
      frames_per_s: 12.5,
      fields_per_s: 250,
      frames_acked_total: 1234,
      frames_unanswered_total: 2,
      frames_error_total: 0,
      broker_connected: true,
      ready: true,
      records_in_flight: 4,
      workers: 1,
    },
    vehicles: [
      row('5YJ3E7EB2NF000001', {
        name: 'Red Car',
        since: AT - 10_000,
        last_frame_at: AT - 1_000,
        frames: 42,
        fields: 840,
        key: { soc: 81.5, speed: 52, gear: 'ShiftStateD', charging: 'DetailedChargeStateDisconnected', location: { lat: 37.4, lon: -122.1 } },
        trip_score: 92,
      }),
      row('5YJ3E7EB2NF000002', {
        name: 'A very long vehicle name that goes on and on',
        connected: false,
        since: AT - 310_000,
        last_frame_at: AT - 320_000,
        frames: 7,
        fields: 70,
        key: { ...none, charging: 'Charging' },
      }),
      row('5YJ3E7EB2NF000003', { since: AT - 2 * 3600_000 }),
    ],
  };
}
