/**
 * Tesla's reasons for skipping a VIN in a fleet_telemetry_config answer, in words an owner
 * can act on. `domain` is the application's domain, for the pairing link.
 */
export function skipReasonWords(reason: string, domain?: string): string {
  switch (reason) {
    case 'missing_key':
      return `the car does not have this application's key: open ${domain ? `https://tesla.com/_ak/${domain}` : 'https://tesla.com/_ak/<your domain>'} on the phone with the Tesla app, approve the key, then push again`;
    case 'unsupported_firmware':
      return "the car's firmware is too old for Fleet Telemetry (2024.26 or later is needed): update the car, then push again";
    case 'unsupported_hardware':
      return 'this car cannot stream Fleet Telemetry (e.g. a pre-2021 Model S or X)';
    case 'max_configs':
      return 'the car already holds as many Fleet Telemetry configs as it can take (other applications): remove one, then push again';
    default:
      return `skipped by Tesla (${reason})`;
  }
}
