import fs from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from './child-process';
import { ferretDb, findOnPath, resolveGoTool } from './tools';

export interface MongoEndpoint {
  uri: string;
  source: 'MONGODB_URI' | 'mongod' | 'FerretDB' | 'mongodb-memory-server';
  /** Stops the server for good (tests and shutdown). */
  stop(): Promise<void>;
  /** Present for embedded servers: stop now, start again on the same port and data (outage tests). */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
}

export interface MongoOptions {
  /** Data directory; embedded servers keep their files here. */
  dataDir: string;
  log: (msg: string) => void;
}

export async function resolveMongo(options: MongoOptions): Promise<MongoEndpoint> {
  if (process.env.MONGODB_URI) {
    return { uri: process.env.MONGODB_URI, source: 'MONGODB_URI', stop: async () => undefined };
  }
  return startEmbeddedMongo(options);
}

/** A database server of our own on a loopback port, whatever MONGODB_URI says. */
export async function startEmbeddedMongo(options: MongoOptions): Promise<MongoEndpoint> {
  const mongod = findOnPath('mongod');
  if (mongod) {
    return startEmbedded('mongod', options, (port, dir) => ({
      command: mongod,
      args: ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dir, '--quiet'],
    }));
  }
  const ferret = await resolveGoTool(ferretDb, options.log);
  if (ferret) {
    return startEmbedded('FerretDB', options, (port, dir) => ({
      command: ferret,
      args: [
        '--handler=sqlite',
        `--sqlite-url=file:${dir}/`,
        `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`,
        // Its debug listener defaults to a fixed port, which two instances would fight over.
        '--debug-addr=127.0.0.1:0',
        '--telemetry=disable',
        '--log-level=error',
      ],
    }));
  }
  return startMemoryServer(options);
}

type Launch = (port: number, dataDir: string) => { command: string; args: string[] };

async function startEmbedded(source: 'mongod' | 'FerretDB', options: MongoOptions, launch: Launch): Promise<MongoEndpoint> {
  const dir = path.join(options.dataDir, source.toLowerCase());
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const uri = `mongodb://127.0.0.1:${port}/deskbridge`;
  let proc: ManagedProcess | undefined;
  const start = async () => {
    const { command, args } = launch(port, dir);
    proc = startProcess({ name: source, command, args });
    await waitUntilReady(proc, () => ping(uri), 30_000);
  };
  await start();
  return {
    uri,
    source,
    stop: async () => proc?.stop(),
    pause: async () => proc?.stop(),
    resume: start,
  };
}

async function startMemoryServer(options: MongoOptions): Promise<MongoEndpoint> {
  options.log('no mongod and no Go toolchain: falling back to mongodb-memory-server (downloads mongod)');
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const server = await MongoMemoryServer.create({ instance: { ip: '127.0.0.1', dbPath: options.dataDir } });
  return { uri: server.getUri('deskbridge'), source: 'mongodb-memory-server', stop: async () => void (await server.stop()) };
}

export async function ping(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}
