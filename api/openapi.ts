import { z } from 'zod';
import type { RouteAuth, RouteSpec } from './routing';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  tags: string[];
  security: Record<string, string[]>[];
  'x-deskbridge-auth': RouteAuth;
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

const problemContentType = 'application/problem+json';

const authDescriptions: Record<RouteAuth, string> = {
  none: 'No authentication.',
  user: 'A user\'s bearer token (from signup); the token\'s site scopes every read and write.',
  webhook: 'Called by a provider: authenticated by its signature or token as described in the summary, not by a bearer token.',
  oauth: 'The provider\'s OAuth redirect: authenticated by the single-use `state` issued when the connection started.',
};

/** `/api/companies/:id` → `/api/companies/{id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

/**
 * The OpenAPI 3.1 document of every route in the table, generated from the same zod schemas
 * that validate requests, so the document cannot drift from what the API accepts. Requests are
 * described as the API accepts them (zod input), responses as it sends them (zod output);
 * anything JSON Schema cannot express (transforms, custom checks) is left unconstrained.
 */
export function buildOpenApiDocument(routes: readonly RouteSpec[], options: { serverUrl: string; version: string }): OpenApiDocument {
  const schemas = new SchemaConverter();
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const operationId = operationIdOf(route);
    const operation: OpenApiOperation = {
      operationId,
      summary: route.summary,
      tags: [route.tag],
      security: route.auth === 'user' ? [{ bearerAuth: [] }] : [],
      'x-deskbridge-auth': route.auth,
      responses: responsesOf(route, schemas, operationId),
    };
    const parameters = (['path', 'query', 'header'] as const).flatMap((location) => parametersOf(route, location, schemas, operationId));
    if (parameters.length) operation.parameters = parameters;
    if (route.body) {
      operation.requestBody = {
        required: !route.body.safeParse(undefined).success,
        content: { 'application/json': { schema: schemas.convert(route.body, 'input', `${operationId}Body`) } },
      };
    }
    (paths[path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'deskbridge',
      version: options.version,
      description:
        'Teamwork Desk side of cross-product contact sync with Teamwork.com and of individual inboxes. ' +
        'Errors are RFC 9457 problem details (`application/problem+json`) with a stable `type`. ' +
        `Authentication per operation is in \`x-deskbridge-auth\`: ${Object.entries(authDescriptions).map(([auth, text]) => `\`${auth}\`: ${text}`).join(' ')}`,
    },
    servers: [{ url: options.serverUrl }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: authDescriptions.user } },
    },
  };
}

function operationIdOf(route: RouteSpec): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `by-${segment.slice(1)}` : segment))
    .flatMap((segment) => segment.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return route.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const parameterSources = { path: ['params', 'Params'], query: ['query', 'Query'], header: ['headers', 'Headers'] } as const;

/**
 * Path parameters come from the path itself (documented even without a params schema, since
 * Express matches them regardless), query and header parameters from their schema's properties.
 */
function parametersOf(route: RouteSpec, location: keyof typeof parameterSources, schemas: SchemaConverter, operationId: string): JsonSchema[] {
  const [field, suffix] = parameterSources[location];
  const source = route[field];
  const json = source ? schemas.convert(source, 'input', `${operationId}${suffix}`) : {};
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  const names = location === 'path' ? [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!) : Object.keys(properties);
  return names.map((name) => {
    const { description, ...schema } = properties[name] ?? { type: 'string' };
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema,
    };
  });
}

/**
 * The declared responses, plus the ones the table itself produces: a 400 problem when the
 * request has a schema to fail, and a 401 problem for routes that need a user's token.
 */
function responsesOf(route: RouteSpec, schemas: SchemaConverter, operationId: string): OpenApiOperation['responses'] {
  const declared = { ...route.responses };
  if ((route.params || route.query || route.body || route.headers) && !declared[400]) declared[400] = { description: 'Invalid request' };
  if (route.auth === 'user' && !declared[401]) declared[401] = { description: 'Missing or unknown token' };
  const responses: OpenApiOperation['responses'] = {};
  for (const [status, response] of Object.entries(declared)) {
    const isError = Number(status) >= 400;
    const contentType = response.contentType ?? (isError ? problemContentType : 'application/json');
    const schema = response.schema
      ? schemas.convert(response.schema, 'output', `${operationId}${status}`)
      : isError
        ? { $ref: '#/components/schemas/Problem' }
        : response.contentType
          ? { type: 'string' }
          : undefined;
    responses[status] = { description: response.description, ...(schema ? { content: { [contentType]: { schema } } } : {}) };
  }
  return responses;
}

/**
 * zod → JSON Schema 2020-12 for embedding in the document. A converted schema's own `$defs`
 * (schemas with a registered id) and self-references (`#`, recursive schemas) would resolve
 * against the OpenAPI document's root, so they are moved to `components.schemas`.
 */
class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details',
      properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' } },
      required: ['type', 'title', 'status'],
    },
  };

  convert(schema: z.ZodType, io: 'input' | 'output', nameIfRecursive: string): JsonSchema {
    let json: JsonSchema;
    try {
      json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io }) as JsonSchema;
    } catch {
      // A schema zod cannot describe at all (e.g. a cycle it cannot break) is documented as "any value".
      return {};
    }
    const { $schema: _dialect, $defs, ...root } = json as JsonSchema & { $defs?: Record<string, JsonSchema> };
    const defNames = new Map(Object.entries($defs ?? {}).map(([key, def]) => [key, this.nameFor(key, def)]));
    let rootName: string | undefined;
    const rewrite = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rewrite);
      if (!node || typeof node !== 'object') return node;
      const out: JsonSchema = {};
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && value === '#') out.$ref = `#/components/schemas/${(rootName ??= this.nameFor(nameIfRecursive))}`;
        else if (key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/')) out.$ref = `#/components/schemas/${defNames.get(value.slice(8)) ?? value.slice(8)}`;
        else out[key] = rewrite(value);
      }
      return out;
    };
    const rewritten = rewrite(root) as JsonSchema;
    for (const [key, def] of Object.entries($defs ?? {})) this.components[defNames.get(key)!] = rewrite(def) as JsonSchema;
    if (!rootName) return rewritten;
    this.components[rootName] = rewritten;
    return { $ref: `#/components/schemas/${rootName}` };
  }

  /** The wanted name when it is free or already holds this very schema; otherwise a numbered one. */
  private nameFor(wanted: string, schema?: JsonSchema): string {
    const base = wanted.replace(/[^A-Za-z0-9._-]/g, '_');
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}_${n}`;
      const existing = this.components[name];
      if (!existing || (schema && JSON.stringify(existing) === JSON.stringify(schema))) return name;
    }
  }
}
