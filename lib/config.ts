import { z } from 'zod';

const duration = z.coerce.number().int().positive();
const optionalUrl = z.string().url().optional();

/**
 * Every variable deskbridge reads, parsed once at boot. `.env.example` lists the same names;
 * a test keeps the two in step.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_BASE_URL: optionalUrl,
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('deskbridge'),
  MONGODB_URI: z.string().startsWith('mongodb').optional(),
  DESKBRIDGE_DATA_DIR: z.string().default('.data'),
  DESKBRIDGE_TOOL_CACHE: z.string().optional(),
  /** `auto`: start the local Teamwork.com/Gmail/Graph emulators when no provider endpoints are set. */
  DESKBRIDGE_EMULATORS: z.enum(['auto', 'off']).default('auto'),
  /** `keyId:base64key[,keyId:base64key...]`; the first is used to encrypt, all to decrypt. */
  TOKEN_ENCRYPTION_KEYS: z.string().optional(),
  RECONCILE_INTERVAL_SECONDS: duration.default(300),
  /** A link workflow with no change for this long ends; the next change starts it again. */
  LINK_IDLE_SECONDS: duration.default(600),
  /** Webhook changes the API sends to Temporal at once; more wait in the outbox and coalesce (api/webhook-forwarder.ts). */
  WEBHOOK_HANDOVER_CONCURRENCY: duration.default(4),
  /** How soon an initial-sync page whose worker died is retried elsewhere; the workflow's default when unset. */
  INITIAL_SYNC_HEARTBEAT_TIMEOUT_SECONDS: duration.optional(),
  GMAIL_API_ROOT_URL: optionalUrl,
  GOOGLE_OAUTH_AUTH_URL: optionalUrl,
  GOOGLE_OAUTH_TOKEN_URL: optionalUrl,
  GOOGLE_JWKS_URL: optionalUrl,
  GOOGLE_CLIENT_ID: z.string().optional(),
  GOOGLE_CLIENT_SECRET: z.string().optional(),
  GOOGLE_PUBSUB_TOPIC: z.string().optional(),
  GOOGLE_PUBSUB_AUDIENCE: z.string().optional(),
  GRAPH_BASE_URL: optionalUrl,
  MS_IDENTITY_BASE_URL: optionalUrl,
  MS_TENANT: z.string().default('common'),
  MS_CLIENT_ID: z.string().optional(),
  MS_CLIENT_SECRET: z.string().optional(),
  /** PEM file of an extra CA trusted for Graph and Microsoft identity calls (the local emulator's). */
  GRAPH_CA_FILE: z.string().optional(),
  /** Mailbox import (I3): how often new mail is polled when no push arrives, and push renewal. */
  MAILBOX_POLL_INTERVAL_SECONDS: duration.default(60),
  MAILBOX_PUSH_RENEW_INTERVAL_SECONDS: duration.default(86_400),
  MAILBOX_SUBSCRIPTION_MINUTES: duration.default(4_230),
  MAILBOX_IMPORT_DAYS: duration.default(30),
  MAILBOX_BATCH_SIZE: duration.default(50),
  MAILBOX_CONCURRENT_BATCHES: duration.default(4),
  /** How soon a mailbox batch whose worker died is retried elsewhere; the workflow's default when unset. */
  MAILBOX_HEARTBEAT_TIMEOUT_SECONDS: duration.optional(),
  /** The worker process's Prometheus endpoint (`/metrics` on HOST); unset: the worker serves no metrics. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Where the Temporal worker's own (Core) metrics exporter listens; its metrics are also appended to WORKER_METRICS_PORT's. */
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze(result.data);
}
