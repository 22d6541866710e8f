import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths that may hold secrets anywhere in a log object. Tokens, API keys and client states are
 * redacted even when a caller logs a whole request or document by mistake.
 */
const redactPaths = [
  'apiKey', '*.apiKey', 'token', '*.token', 'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken',
  'clientState', '*.clientState', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'password', '*.password', 'secret', '*.secret', 'webhookToken', '*.webhookToken',
];

/** `destination` receives the JSON lines instead of stdout (tests read them to check redaction). */
export function createLogger(options: { level: string; name?: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  const pretty = !options.destination && (options.pretty ?? Boolean(process.stdout.isTTY));
  const settings = {
    name: options.name ?? 'deskbridge',
    level: options.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } : undefined,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

export type { Logger };
