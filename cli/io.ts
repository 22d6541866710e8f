import type { OutputStream } from './progress';

/** Where a command writes; tests pass recording streams. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Waits between polls; tests may shorten it. */
  sleep(ms: number): Promise<void>;
}

/** A failure to report to the user as one message (no stack), with the process exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
});
