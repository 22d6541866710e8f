import { z } from 'zod';
import { ConfigError, configSchema, parseConfig } from '../../lib/config';
import { configTable, readEnvExample, readmeTable } from '../../scripts/config-table';

const schemaNames = Object.keys(configSchema.shape);
const schemaDefaults = Object.entries((z.toJSONSchema(configSchema) as { properties: Record<string, { default?: unknown }> }).properties)
  .filter(([, property]) => property.default !== undefined)
  .map(([name, property]) => [name, String(property.default)] as const);

function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  test('O4 When .env.example is compared with the config schema, Then both list the same variables once, each described', () => {
    const entries = readEnvExample();
    expect(entries.map((entry) => entry.name).sort()).toEqual([...schemaNames].sort());
    expect(new Set(entries.map((entry) => entry.name)).size).toBe(entries.length);
    for (const entry of entries) expect({ name: entry.name, described: entry.description.length > 0 }).toEqual({ name: entry.name, described: true });
  });

  test('O4 When a variable has a default, Then .env.example shows that default, and every value it shows parses', () => {
    const shown = new Map(readEnvExample().map((entry) => [entry.name, entry.value]));
    for (const [name, fallback] of schemaDefaults) expect({ name, shown: shown.get(name) }).toEqual({ name, shown: fallback });
    expect(() => parseConfig(Object.fromEntries(shown))).not.toThrow();
  });

  test('O4 When nothing is set, Then the defaults parse into a frozen, typed config', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ NODE_ENV: 'development', HOST: '127.0.0.1', PORT: 3000, TEMPORAL_NAMESPACE: 'default', TEMPORAL_TASK_QUEUE: 'deskbridge' });
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
    expect(config.MONGODB_URI).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(parseConfig({ PORT: '8080', RECONCILE_INTERVAL_SECONDS: '60' })).toMatchObject({ PORT: 8080, RECONCILE_INTERVAL_SECONDS: 60 });
  });

  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['NODE_ENV', 'prod'],
    ['LOG_LEVEL', 'loud'],
    ['PUBLIC_BASE_URL', 'desk.example.com'],
    ['MONGODB_URI', 'postgres://db:5432/deskbridge'],
    ['RECONCILE_INTERVAL_SECONDS', '0'],
    ['DESKBRIDGE_EMULATORS', 'yes'],
  ])('O4 When %s=%s, Then parsing fails naming that variable and no other', (name, value) => {
    const error = configErrorOf({ [name]: value });
    const named = schemaNames.filter((candidate) => new RegExp(`^\\s*${candidate}:`, 'm').test(error.message));
    expect(named).toEqual([name]);
  });

  test('O4 When the README is read, Then its configuration table is the one scripts/config-table.ts prints (npx tsx scripts/config-table.ts --write)', () => {
    expect(readmeTable()).toBe(configTable());
  });
});
