import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { searchAttributeTypes } from '../../infra/search-attributes';
import { configSchema, parseConfig } from '../../lib/config';
import { generateKeyringSpec, parseKeyring } from '../../lib/secrets';
import { startTestSystem } from '../support/system';

const repoRoot = path.resolve(__dirname, '../..');
const composeFile = path.join(repoRoot, 'docker-compose.yml');

interface Healthcheck {
  test: string[] | string;
}
interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Healthcheck;
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  restart?: string;
}
interface ComposeModel {
  services: Record<string, Service>;
}

const dockerCompose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;

/**
 * The model as Docker Compose resolves it: by `docker compose config` where the client has the
 * compose plugin, else by parsing the file and interpolating `${...}` the way Compose does for
 * the forms the file uses. Only the given variables are visible, as on a clean deployment host.
 */
function resolveCompose(variables: Record<string, string>): ComposeModel {
  if (dockerCompose) {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...variables };
    const result = spawnSync('docker', ['compose', '-f', composeFile, 'config', '--format', 'json'], { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as ComposeModel;
  }
  return interpolate(YAML.parse(fs.readFileSync(composeFile, 'utf8'))) as ComposeModel;

  function interpolate(value: unknown): unknown {
    if (typeof value === 'string') return value.replace(/\$(?:\$|\{(\w+)(?:(:?)([-?])([^}]*))?\})/g, substitute);
    if (Array.isArray(value)) return value.map(interpolate);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, interpolate(inner)]));
    return value;
  }
  function substitute(match: string, name?: string, colon?: string, operator?: string, operand?: string): string {
    if (match === '$$') return '$';
    const current = variables[name!];
    const missing = current === undefined || (colon === ':' && current === '');
    if (!missing) return current!;
    if (operator === '-') return operand!;
    if (operator === '?') throw new Error(`required variable ${name} is missing a value: ${operand}`);
    return '';
  }
}

const deployment = { TOKEN_ENCRYPTION_KEYS: generateKeyringSpec('k1'), PUBLIC_BASE_URL: 'https://desk.example.com' };
const deskbridgeServices = ['api', 'worker'] as const;

const commandLine = (value: string[] | string | undefined) => (Array.isArray(value) ? value.join(' ') : (value ?? ''));
const environmentOf = (service: Service) =>
  Object.fromEntries(Object.entries(service.environment ?? {}).filter((entry): entry is [string, string] => entry[1] !== null));
const imageTag = (service: Service) => service.image?.split(':')[1];
const buildContext = (service: Service) => {
  const context = typeof service.build === 'string' ? service.build : service.build?.context;
  return context === undefined ? undefined : path.resolve(repoRoot, context);
};
const publishedPorts = (service: Service) =>
  (service.ports ?? []).map((port) => {
    if (typeof port !== 'string') return { hostIp: port.host_ip, published: String(port.published), target: port.target };
    const parts = port.split(':');
    return { hostIp: parts.length === 3 ? parts[0] : undefined, published: parts.at(-2)!, target: Number(parts.at(-1)) };
  });

describe('docker-compose.yml', () => {
  const compose = resolveCompose(deployment);
  const { services } = compose;

  test(`O4 When the compose file is resolved (${dockerCompose ? 'docker compose config' : 'parsed, no compose plugin here'}), Then it runs the database, Temporal with its UI and deskbridge's API and worker on pinned images`, () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['mongodb', 'mongodb-init', 'postgresql', 'temporal-schema', 'temporal', 'temporal-namespace', 'temporal-ui', 'api', 'worker']),
    );
    expect(services.mongodb!.image).toMatch(/^mongo:7(\.|$)/);
    expect(services.postgresql!.image).toMatch(/^postgres:\d+/);
    expect(services.temporal!.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    for (const name of ['temporal-schema', 'temporal-namespace']) {
      expect(services[name]!.image).toBe(`temporalio/admin-tools:${imageTag(services.temporal!)}`);
    }
    for (const service of Object.values(services)) expect(service.image).not.toMatch(/:latest$|^[^:]+$/);
    for (const name of deskbridgeServices) {
      expect(buildContext(services[name]!)).toBe(repoRoot);
      expect(services[name]!.image).toBe(services.api!.image);
    }
    expect(fs.existsSync(path.join(repoRoot, 'Dockerfile'))).toBe(true);
  });

  test('O4 When MongoDB starts, Then it is a replica set that an init step initiates, and deskbridge connects to it by that set', () => {
    const replicaSet = /--replSet[ =](\S+)/.exec(commandLine(services.mongodb!.command))?.[1];
    expect(replicaSet).toBeDefined();
    const init = commandLine(services['mongodb-init']!.command);
    expect(init).toContain('rs.initiate(');
    expect(init).toContain(`_id: '${replicaSet}'`);
    expect(init).toContain("host: 'mongodb:27017'");
    expect(services['mongodb-init']!.depends_on).toEqual({ mongodb: expect.objectContaining({ condition: 'service_healthy' }) });
    for (const name of deskbridgeServices) {
      const uri = new URL(environmentOf(services[name]!).MONGODB_URI!);
      expect(uri.protocol).toBe('mongodb:');
      expect(uri.host).toBe('mongodb:27017');
      expect(uri.searchParams.get('replicaSet')).toBe(replicaSet);
      expect(uri.pathname).toBe('/deskbridge');
    }
  });

  test('O4 When Temporal starts, Then it runs on the PostgreSQL service with its schema set up first, and the UI, the namespace step and deskbridge all reach it', () => {
    const temporal = environmentOf(services.temporal!);
    expect(temporal.DB).toBe('postgres12');
    expect(services[temporal.POSTGRES_SEEDS!]?.image).toBe(services.postgresql!.image);
    const password = environmentOf(services.postgresql!).POSTGRES_PASSWORD;
    expect(temporal.POSTGRES_PWD).toBe(password);
    expect(environmentOf(services['temporal-schema']!).SQL_PASSWORD).toBe(password);
    const schemaScript = commandLine(services['temporal-schema']!.command);
    for (const database of ['temporal', 'temporal_visibility']) expect(schemaScript).toContain(database);
    expect(schemaScript).toContain('setup-schema');
    expect(schemaScript).toContain('update-schema');
    expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': expect.objectContaining({ condition: 'service_completed_successfully' }) });
    expect(services['temporal-schema']!.depends_on).toEqual({ postgresql: expect.objectContaining({ condition: 'service_healthy' }) });

    expect(environmentOf(services['temporal-ui']!).TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(commandLine(services['temporal-namespace']!.command)).toContain('address=temporal:7233');
    for (const name of deskbridgeServices) expect(environmentOf(services[name]!).TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  test('O4 When TEMPORAL_NAMESPACE is chosen, Then the namespace step creates exactly the namespace the API, the worker and the UI use', () => {
    for (const [namespace, variables] of [['default', deployment], ['desk-prod', { ...deployment, TEMPORAL_NAMESPACE: 'desk-prod' }]] as const) {
      const resolved = resolveCompose(variables).services;
      expect(environmentOf(resolved['temporal-namespace']!).NAMESPACE).toBe(namespace);
      expect(commandLine(resolved['temporal-namespace']!.command)).toMatch(/namespace create --namespace "\$\$?NAMESPACE"/);
      expect(environmentOf(resolved['temporal-ui']!).TEMPORAL_DEFAULT_NAMESPACE).toBe(namespace);
      for (const name of deskbridgeServices) expect(environmentOf(resolved[name]!).TEMPORAL_NAMESPACE).toBe(namespace);
    }
  });

  test("O4 When the API and worker start, Then their environment is a valid production config of deskbridge's own variables, with the deployment's keys and public URL", () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const name of deskbridgeServices) {
      const environment = environmentOf(services[name]!);
      expect(Object.keys(environment).filter((variable) => !known.has(variable))).toEqual([]);
      const config = parseConfig(environment);
      expect(config.NODE_ENV).toBe('production');
      expect(config.TOKEN_ENCRYPTION_KEYS).toBe(deployment.TOKEN_ENCRYPTION_KEYS);
      expect(parseKeyring(config.TOKEN_ENCRYPTION_KEYS!).size).toBe(1);
      expect(config.PUBLIC_BASE_URL).toBe(deployment.PUBLIC_BASE_URL);
    }
    const api = parseConfig(environmentOf(services.api!));
    expect(api.HOST).toBe('0.0.0.0');
    expect(publishedPorts(services.api!).map((port) => port.target)).toContain(api.PORT);
  });

  test('O4 When the containers run, Then the API and worker commands start files that exist, and the API is healthy only while /readyz answers', () => {
    expect(commandLine(services.api!.command)).toMatch(/--import tsx api\/server\.ts$/);
    expect(commandLine(services.worker!.command)).toMatch(/--import tsx workers\/main\.ts$/);
    for (const entry of ['api/server.ts', 'workers/main.ts']) expect(fs.existsSync(path.join(repoRoot, entry))).toBe(true);
    const port = parseConfig(environmentOf(services.api!)).PORT;
    expect(commandLine(services.api!.healthcheck?.test)).toContain(`http://127.0.0.1:${port}/readyz`);
    expect(commandLine(services.api!.healthcheck?.test)).toContain('r.ok ? 0 : 1');
  });

  test('O4 When services depend on each other, Then deskbridge waits for an elected MongoDB primary, a healthy Temporal and its namespace, and every awaited health has a check', () => {
    for (const name of deskbridgeServices) {
      expect(services[name]!.depends_on).toEqual({
        'mongodb-init': expect.objectContaining({ condition: 'service_completed_successfully' }),
        temporal: expect.objectContaining({ condition: 'service_healthy' }),
        'temporal-namespace': expect.objectContaining({ condition: 'service_completed_successfully' }),
      });
    }
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, dependency, exists: dependency in services }).toEqual({ name, dependency, exists: true });
        if (condition === 'service_healthy') expect({ dependency, healthcheck: Boolean(services[dependency]!.healthcheck) }).toEqual({ dependency, healthcheck: true });
        if (condition === 'service_completed_successfully') expect({ dependency, restart: services[dependency]!.restart }).toEqual({ dependency, restart: expect.stringMatching(/^(no|on-failure(:\d+)?)$/) });
      }
    }
    expect(() => startOrder(services)).not.toThrow();
  });

  test('O4 When TOKEN_ENCRYPTION_KEYS is not set, Then the compose file refuses to resolve, naming it', () => {
    expect(() => resolveCompose({ PUBLIC_BASE_URL: deployment.PUBLIC_BASE_URL })).toThrow(/TOKEN_ENCRYPTION_KEYS/);
  });

  test('O4 When the image is built, Then it is a glibc Node 20 image with production dependencies only, and the runtime the commands import is one of them', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-(bookworm|bullseye)(-slim)?$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    const { dependencies } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of deskbridgeServices) {
      const imported = /--import (\S+)/.exec(commandLine(services[name]!.command))?.[1];
      expect(Object.keys(dependencies)).toContain(imported);
    }
    const bundle = /^ENV DESKBRIDGE_WORKFLOW_BUNDLE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(bundle).toBe('/app/dist/workflows.js');
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toContain("writeFileSync('dist/workflows.js'");
    const ignored = fs.readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').filter((line) => line && !line.startsWith('#'));
    for (const needed of ['api', 'workers', 'workflows', 'activities', 'lib', 'models', 'infra', 'package-lock.json']) expect(ignored).not.toContain(needed);
  });
});

/** Topological order of the services by depends_on; throws on a cycle. */
function startOrder(services: Record<string, Service>): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`depends_on cycle through ${name}`);
    visiting.add(name);
    for (const dependency of Object.keys(services[name]?.depends_on ?? {})) visit(dependency);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of Object.keys(services)) visit(name);
  return order;
}

describe('connecting to an existing Temporal cluster', () => {
  test('O1 When deskbridge starts against a namespace that lacks its search attributes, Then it registers them', async () => {
    const namespace = `deskbridge-fresh-${Date.now().toString(36)}`;
    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
      const customAttributes = async () => Object.keys((await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {});
      expect(await customAttributes()).not.toEqual(expect.arrayContaining(Object.keys(searchAttributeTypes)));

      const system = await startTestSystem({ worker: false, env: { TEMPORAL_NAMESPACE: namespace } });
      await system.stop();

      // The server caches namespaces briefly, so a just-written attribute may take a moment to list.
      const deadline = Date.now() + 20_000;
      let registered = await customAttributes();
      while (!Object.keys(searchAttributeTypes).every((name) => registered.includes(name)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        registered = await customAttributes();
      }
      expect(registered).toEqual(expect.arrayContaining(Object.keys(searchAttributeTypes)));
    } finally {
      await connection.close();
    }
  });
});
