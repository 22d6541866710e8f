import fs from 'node:fs';
import path from 'node:path';
import mongoose, { type Mongoose } from 'mongoose';
import { Client, Connection } from '@temporalio/client';
import { Registry } from 'prom-client';
import type { Config } from './config';
import { createLogger, type Logger } from './logger';
import { createSecretBox, generateKeyringSpec, parseKeyring, type SecretBox } from './secrets';
import { TeamworkClientFactory } from '../activities/teamwork/client';
import { ensureIndexes } from '../models';
import { registerSearchAttributes } from '../infra/temporal';

/** Connections and services shared by the API and the worker, built once per process. */
export interface Runtime {
  config: Config;
  logger: Logger;
  mongoose: Mongoose;
  temporal: Client;
  secrets: SecretBox;
  teamwork: TeamworkClientFactory;
  metrics: Registry;
  /** Where providers reach this deployment; tests learn it only after the API listens. */
  publicBaseUrl: () => string;
  setPublicBaseUrl(url: string): void;
  close(): Promise<void>;
}

export async function createRuntime(config: Config, name: string): Promise<Runtime> {
  const logger = createLogger({ level: config.LOG_LEVEL, name });
  if (!config.MONGODB_URI) throw new Error('MONGODB_URI is not set (npm start and the tests resolve it for you)');
  if (!config.TEMPORAL_ADDRESS) throw new Error('TEMPORAL_ADDRESS is not set (npm start and the tests resolve it for you)');
  mongoose.set('strictQuery', true);
  await mongoose.connect(config.MONGODB_URI, { serverSelectionTimeoutMS: 10_000, autoIndex: false });
  await ensureIndexes();
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  // A fresh external cluster lacks deskbridge's search attributes (the embedded servers start with
  // them). The API and the worker may race to add them; the loser finds them on its second look.
  const temporalAddress = config.TEMPORAL_ADDRESS;
  const register = () => registerSearchAttributes(temporalAddress, config.TEMPORAL_NAMESPACE);
  await register().catch(register);
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  let publicBaseUrl = config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.PORT}`;
  return {
    config,
    logger,
    mongoose,
    temporal,
    secrets: createSecretBox(parseKeyring(resolveKeyring(config))),
    teamwork: new TeamworkClientFactory(),
    metrics: new Registry(),
    publicBaseUrl: () => publicBaseUrl,
    setPublicBaseUrl(url) {
      publicBaseUrl = url;
    },
    async close() {
      await connection.close().catch(() => undefined);
      await mongoose.disconnect().catch(() => undefined);
    },
  };
}

/**
 * Production must bring its own keys. Local runs keep a generated keyring in the data folder so
 * secrets sealed by one run still open in the next.
 */
function resolveKeyring(config: Config): string {
  if (config.TOKEN_ENCRYPTION_KEYS) return config.TOKEN_ENCRYPTION_KEYS;
  if (config.NODE_ENV === 'production') throw new Error('TOKEN_ENCRYPTION_KEYS is required in production');
  const file = path.resolve(config.DESKBRIDGE_DATA_DIR, 'dev-keyring');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, generateKeyringSpec('dev1'), { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8').trim();
}
