/**
 * Runs the emulator as its own process (demo mode, or a parent process driving it over
 * `/_emulator`). `tsx emulators/teamwork/main.ts [--port 4010] [--rate-limit 150]`; prints the URL.
 */
import { parseArgs } from 'node:util';
import { startTeamworkEmulator } from './index';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'rate-limit': { type: 'string' },
    },
  });
  const emulator = await startTeamworkEmulator({
    host: values.host,
    port: values.port === undefined ? undefined : Number(values.port),
    rateLimitPerMinute: values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']),
  });
  console.log(`Teamwork.com emulator listening on ${emulator.url} (control: ${emulator.url}/_emulator)`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
