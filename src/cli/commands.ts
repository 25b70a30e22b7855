import type { Command } from './command.js';

/** Sub-commands by name; each module is loaded only when its command runs. */
export const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).default,
  certs: async () => (await import('./certs.js')).default,
  'check-config': async () => (await import('./check-config.js')).default,
  'vehicle-config': async () => (await import('./vehicle-config.js')).default,
  'check-endpoint': async () => (await import('./check-endpoint.js')).default,
  emulate: async () => (await import('./emulate.js')).default,
  subscribe: async () => (await import('./subscribe.js')).default,
  vehicles: async () => (await import('./vehicles.js')).default,
  tesla: async () => (await import('./tesla.js')).default,
};
