import type { Client } from '@temporalio/client';
import type { Mongoose } from 'mongoose';
import type { Registry } from 'prom-client';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { SecretBox } from '../lib/secrets';
import type { TeamworkClientFactory } from '../activities/teamwork/client';

/** Everything the API needs, built once per process and passed in (tests pass their own). */
export interface AppDeps {
  config: Config;
  logger: Logger;
  mongoose: Mongoose;
  temporal: Client;
  secrets: SecretBox;
  teamwork: TeamworkClientFactory;
  metrics: Registry;
  /** Where providers reach this deployment (OAuth redirects, push endpoints). */
  publicBaseUrl: () => string;
}
