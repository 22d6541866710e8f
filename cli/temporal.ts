import { Client, Connection } from '@temporalio/client';
import type { TemporalTarget } from './args';
import { CliError } from './io';

/** A Temporal client for one command; the caller closes the connection. */
export async function connectTemporal(target: TemporalTarget): Promise<{ client: Client; close(): Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: target.address, connectTimeout: '5 seconds' });
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${target.address} (${err instanceof Error ? err.message : String(err)}); set --temporal-address or TEMPORAL_ADDRESS`);
  }
  return { client: new Client({ connection, namespace: target.namespace }), close: () => connection.close() };
}
