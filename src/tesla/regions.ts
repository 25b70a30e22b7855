/** Tesla's documented Fleet API hosts by region (developer.tesla.com, "Base URLs by Region"). */
const FLEET_API_HOSTS = {
  na: 'https://fleet-api.prd.na.vn.cloud.tesla.com',
  eu: 'https://fleet-api.prd.eu.vn.cloud.tesla.com',
  cn: 'https://fleet-api.prd.cn.vn.cloud.tesla.cn',
} as const;

type Region = keyof typeof FLEET_API_HOSTS;

/**
 * The Fleet API base URL: --api-base, else --region, else TESLA_API_BASE; or why there is
 * none. An https URL only: the bearer token must not cross the network in the clear.
 */
export function fleetApiBase(o: { apiBase?: string; region?: string; env?: string }): { base: string } | { problem: string } {
  if (o.apiBase !== undefined && o.region !== undefined) return { problem: 'give --region or --api-base, not both' };
  let raw = o.apiBase;
  if (raw === undefined && o.region !== undefined) {
    if (!(o.region in FLEET_API_HOSTS)) return { problem: `--region ${o.region}: one of ${Object.keys(FLEET_API_HOSTS).join(', ')}` };
    raw = FLEET_API_HOSTS[o.region as Region];
  }
  raw ??= o.env;
  if (!raw) return { problem: `give --region ${Object.keys(FLEET_API_HOSTS).join('|')} (where the car's account is), --api-base URL or TESLA_API_BASE` };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: `${raw}: not a URL` };
  }
  if (u.protocol !== 'https:') return { problem: `${raw}: the Fleet API is https only (the bearer token must not go in the clear)` };
  return { base: `${u.origin}${u.pathname.replace(/\/+$/, '')}` };
}
