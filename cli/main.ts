import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseCli, UsageError, usage, type CliCommand } from './args';
import { inboxImport } from './commands/inbox-import';
import { replay } from './commands/replay';
import { resync } from './commands/resync';
import { signup } from './commands/signup';
import { syncStatus } from './commands/sync-status';
import { CliError, processIo, type CliIo } from './io';

/** Runs one parsed command; answers the process exit code. */
export async function runCommand(command: CliCommand, io: CliIo): Promise<number> {
  switch (command.command) {
    case 'help':
      io.stdout.write(`${command.text}\n`);
      return 0;
    case 'signup':
      return signup(io, command.api, command.signup, command.follow);
    case 'sync-status':
      return syncStatus(io, command.api, command.polling);
    case 'inbox-import':
      return inboxImport(io, command.api, command.inboxId, command.polling);
    case 'resync':
      return resync(io, command.kind, command.id, command.temporal, command.follow);
    case 'replay':
      return replay(io, command.temporal, command);
  }
}

/** The `deskbridge` command: usage mistakes exit 2, reported failures 1. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    const command = parseCli(argv);
    // The replayer's own logs would bury the one line the user asked for.
    if (command.command === 'replay') Runtime.install({ logger: new DefaultLogger('ERROR') });
    return await runCommand(command, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`deskbridge: ${err.message}\n\n${usage}\n`);
      return 2;
    }
    if (err instanceof CliError) {
      io.stderr.write(`deskbridge: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`deskbridge failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
