/**
 * A local emulator of the Teamwork.com (Projects) API for tests, benchmarks and the demo mode.
 * See README.md beside this file for the wire formats it chose where Teamwork.com's docs are silent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TeamworkControl } from './control';
import { createApp } from './http/app';
import { EmulatorState, type TeamworkEmulatorOptions } from './state';

export interface TeamworkEmulator {
  /** e.g. `http://127.0.0.1:40123`; an installation's base URL is `${url}/${name}`. */
  url: string;
  control: TeamworkControl;
  close(): Promise<void>;
}

export async function startTeamworkEmulator(options: TeamworkEmulatorOptions = {}): Promise<TeamworkEmulator> {
  const state = new EmulatorState(options);
  let url = '';
  const control = new TeamworkControl(state, () => url);
  const server = createServer(createApp(state, control));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        state.dispatcher.cancelAll();
        server.close((error) => (error ? reject(error) : resolve()));
        // Clients keep connections alive; without this, close would wait for them to time out.
        server.closeAllConnections();
      }),
  };
}

export { TeamworkControl, type InstallationHandle } from './control';
export type { FaultSpec, FailRequestFault, FaultTrigger } from './faults';
export type { RequestLogEntry } from './request-log';
export type { SeedOptions, SeedResult } from './seed';
export type { TeamworkEmulatorOptions } from './state';
export type * from './types';
export { signBody } from './webhooks';
export type { DeliveryLogEntry, DeliveryOutcome } from './webhooks';
export { EmulatorError } from './errors';
