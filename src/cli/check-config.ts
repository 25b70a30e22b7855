import { loadConfigForCommand } from './config-file.js';
import { parseArgs, UsageError, type Command } from './command.js';
import { checkTls, configChecks, formatLine } from '../tls/check.js';
import { brokerTlsFileChecks, onlineChecks, pluginChecks } from './doctor/online.js';
import { teslaChecks } from '../tesla/checks.js';
import { zmqKeyChecks } from './doctor/zmq-keys.js';

const checkConfig: Command = {
  summary: 'validate a config file, check its TLS material and load its plugins (what serve checks at start)',
  usage: [
    'usage: fleet-telemetry check-config [--config] FILE [--hostname NAME ...] [--online]',
    '',
    '  FILE             the config file (default config.json)',
    '  --hostname NAME  a name vehicles connect to; the server certificate must cover it (repeatable)',
    '  --online         also what serve meets on this machine: binds each configured port and releases it',
    '                   (port, status_port, monitoring.prometheus_metrics_port, mqtt.embedded_port), resolves',
    '                   host, connects to the broker with the configured credentials (client id + "-check"),',
    '                   PINGs Redis (redis routed; a cluster: reaches every primary) and binds zmq.addr (zmq routed)',
    '',
    'Each plugin under producers is imported as serve imports it (its factory is not called).',
    'Prints one line per check (ok, warn or fail). Without --online nothing touches the network.',
    'Exit status: 0 when nothing fails, 1 when a check fails, 2 when the config itself is invalid',
    '(its problems go to stderr).',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config'], multi: ['hostname'], booleans: ['online'] });
    if (positionals.length > 1 || (positionals.length === 1 && flags.config !== undefined)) {
      throw new UsageError('give one config file');
    }
    const file = positionals[0] ?? (flags.config as string | undefined) ?? 'config.json';
    const config = loadConfigForCommand(file);
    if (config === 2) return 2;
    // A reader that went away (`| head`) is not an error of the checks.
    process.stdout.on('error', () => {});
    const lines = [
      ...configChecks(config, file),
      ...checkTls(config, { hostnames: (flags.hostname as string[] | undefined) ?? [] }),
      ...brokerTlsFileChecks(config),
      ...teslaChecks(config),
      ...zmqKeyChecks(config),
      ...(await pluginChecks(config)),
    ];
    process.stdout.write(lines.map(formatLine).join('\n') + '\n');
    if (flags.online === true) {
      const online = await onlineChecks(config);
      process.stdout.write(online.map(formatLine).join('\n') + '\n');
      lines.push(...online);
    }
    const failed = lines.filter((l) => l.status === 'fail').length;
    const warned = lines.filter((l) => l.status === 'warn').length;
    process.stdout.write(
      failed ? `${failed} check${failed === 1 ? '' : 's'} failed\n` : `all checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}\n`,
    );
    return failed ? 1 : 0;
  },
};

export default checkConfig;
