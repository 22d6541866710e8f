import type { Polling } from './args';
import type { CliIo } from './io';
import { LiveDisplay } from './progress';

/**
 * Polls `read` and redraws its frame until `finished` says the work ended (or once, with
 * --once); answers the last snapshot so the command can choose its exit code.
 */
export async function follow<S>(io: CliIo, polling: Polling, read: () => Promise<S>, frame: (snapshot: S) => string[], finished: (snapshot: S) => boolean): Promise<S> {
  const display = new LiveDisplay(io.stdout);
  for (;;) {
    const snapshot = await read();
    display.show(frame(snapshot));
    if (polling.once || finished(snapshot)) return snapshot;
    await io.sleep(polling.intervalMs);
  }
}
