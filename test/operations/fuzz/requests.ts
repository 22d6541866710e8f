import fc from 'fast-check';
import request from 'supertest';
import type { RouteSpec } from '../../../api/routing';
import { arbitraryJson, hostileBody, hostileLeaf, isPlainRecord, jsonSafe, nearValid, protectedKeys } from './arbitraries';
import { validExample } from './examples';

export interface FuzzRequest {
  /** Path parameters, decoded (they are encoded when the URL is built). */
  params: Record<string, string>;
  query: Record<string, string | string[]>;
  /** The exact bytes sent and their content type; undefined sends no body. */
  body?: { text: string; contentType: string };
}

export interface ClassifiedRequest extends FuzzRequest {
  /**
   * The route must refuse it with a 4xx and write nothing: a part its schema rejects, a body
   * the JSON parser refuses, or an id that is not one of the site's records.
   */
  mustReject: boolean;
}

export interface RouteWorld {
  /** Ids of the site's own records per collection name (`companies`, `inboxes`, ...). */
  realIds: Map<string, string[]>;
  /** Field values that must be real to be valid here (the emulator's base URL, for one). */
  overrides: Record<string, unknown>;
}

const BODY_LIMIT_BYTES = 256 * 1024;
const hex24 = fc.stringMatching(/^[0-9a-f]{24}$/);
const paramNames = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
/** `/api/companies/:id/...` → `companies`: the collection whose documents the id names. */
export const collectionOfIdRoute = (path: string) => /^\/api\/([a-z-]+)\/:id/.exec(path)?.[1];

/** Requests for one route: near-valid and hostile parts, real and fake ids, raw non-JSON bodies. */
export function requestsFor(route: RouteSpec, world: RouteWorld): fc.Arbitrary<ClassifiedRequest> {
  const realIds = world.realIds.get(collectionOfIdRoute(route.path) ?? '') ?? [];
  const paramsExample = route.params ? (validExample(route.params, world.overrides) as Record<string, unknown>) : {};
  const paramArbs = Object.fromEntries(
    paramNames(route.path).map((name) => {
      if (name === 'id') {
        const ids = [hex24, fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('null', '..', '0', '-1', '{"$ne":null}', 'ﬀ', '%', 'a/b')];
        return [name, realIds.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...realIds) }, ...ids) : fc.oneof(...ids)];
      }
      const example = String(paramsExample[name] ?? 'x');
      return [name, fc.oneof({ weight: 2, arbitrary: fc.constant(example) }, fc.string({ minLength: 1, maxLength: 30 }))];
    }),
  ) as Record<string, fc.Arbitrary<string>>;

  const queryArb = route.query ? queryArbitrary(validExample(route.query, world.overrides)) : fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }));
  const bodyArb = bodyArbitrary(route, world);

  return fc.record({ params: fc.record(paramArbs), query: queryArb, body: bodyArb }).map((req) => ({ ...req, mustReject: mustReject(route, req, realIds) }));
}

function queryArbitrary(example: unknown): fc.Arbitrary<Record<string, string | string[]>> {
  const toQuery = (value: unknown): Record<string, string | string[]> =>
    isPlainRecord(value)
      ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Array.isArray(v) ? v.map(queryString) : queryString(v)]))
      : { q: queryString(value) };
  return fc.oneof(
    fc.constant(toQuery(example)),
    nearValid(example).map(toQuery),
    fc.dictionary(fc.oneof(fc.constantFrom(...protectedKeys, '__proto__', 'constructor', ...Object.keys(isPlainRecord(example) ? example : {})), fc.string({ maxLength: 10 })), fc.oneof(fc.string({ maxLength: 30 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })), { maxKeys: 4 }),
  );
}

/** Node refuses request heads over 16 KB (431) before the app sees them, so values stay short. */
const QUERY_VALUE_MAX = 1_000;
function queryString(value: unknown): string {
  return (typeof value === 'string' ? value : (JSON.stringify(value, jsonSafe) ?? '')).slice(0, QUERY_VALUE_MAX);
}

function bodyArbitrary(route: RouteSpec, world: RouteWorld): fc.Arbitrary<FuzzRequest['body']> {
  const json = (value: unknown) => {
    const text = JSON.stringify(value, jsonSafe);
    return text === undefined ? undefined : { text, contentType: 'application/json' };
  };
  const raw = fc.oneof(
    fc.string({ maxLength: 200 }).map((text) => ({ text, contentType: 'application/json' })),
    fc.constantFrom('NaN', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', '\u0000', '{"__proto__":{"polluted":true},"__proto__":1}', 'null', '"string"', '123').map((text) => ({ text, contentType: 'application/json' })),
    fc.constant({ text: JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT_BYTES) }), contentType: 'application/json' }),
    fc.string({ maxLength: 100 }).map((text) => ({ text, contentType: 'text/plain' })),
    fc.string({ maxLength: 100 }).map((text) => ({ text, contentType: 'application/x-www-form-urlencoded' })),
  );
  if (!route.body) return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, arbitraryJson.map(json), raw);
  const example = validExample(route.body, world.overrides);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(json(example)) },
    { weight: 6, arbitrary: nearValid(example).map(json) },
    { weight: 3, arbitrary: hostileBody(example).map(json) },
    { weight: 2, arbitrary: arbitraryJson.map(json) },
    { weight: 1, arbitrary: hostileLeaf.map(json) },
    { weight: 2, arbitrary: raw },
  );
}

/** What the server will see for the body, mirroring express.json({strict: true, limit: 256kb}) on /api. */
type ServerBody = { refused: true } | { refused: false; value: unknown };
function serverBody(route: RouteSpec, body: FuzzRequest['body']): ServerBody {
  if (!body || !route.path.startsWith('/api/')) return { refused: false, value: undefined };
  if (!/json/.test(body.contentType)) return { refused: false, value: undefined };
  if (Buffer.byteLength(body.text) > BODY_LIMIT_BYTES) return { refused: true };
  if (body.text === '') return { refused: false, value: undefined };
  try {
    const value = JSON.parse(body.text);
    return value !== null && typeof value === 'object' ? { refused: false, value } : { refused: true };
  } catch {
    return { refused: true };
  }
}

function mustReject(route: RouteSpec, req: FuzzRequest, realIds: string[]): boolean {
  const body = serverBody(route, req.body);
  if (body.refused) return true;
  if (route.params && !route.params.safeParse(req.params).success) return true;
  if (route.query && !route.query.safeParse(serverQuery(req.query)).success) return true;
  if (route.body && !route.body.safeParse(body.value ?? {}).success) return true;
  return 'id' in req.params && !realIds.includes(req.params.id!);
}

/** As the 'simple' query parser hands it over: absent, one string, or an array of two or more. */
function serverQuery(query: FuzzRequest['query']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of Object.entries(query)) {
    const values = [value].flat();
    if (values.length) out[key] = values.length === 1 ? values[0]! : values;
  }
  return out;
}

export function urlOf(route: RouteSpec, req: FuzzRequest): string {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(req.params[name] ?? ''));
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(req.query)) for (const item of [value].flat()) search.append(key, item);
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

export async function send(baseUrl: string, route: RouteSpec, req: FuzzRequest, headers: Record<string, string>): Promise<request.Response> {
  let call = request(baseUrl)[route.method](urlOf(route, req)).set(headers);
  if (req.body) call = call.set('content-type', req.body.contentType).send(req.body.text);
  return call;
}

/** A body whose mutation introduced an address outside this machine: deskbridge would call it. */
export function callsOutside(req: FuzzRequest, example: unknown): boolean {
  if (!req.body) return false;
  const known = new Set<string>();
  collectStrings(example, known);
  const found = new Set<string>();
  try {
    collectStrings(JSON.parse(req.body.text), found);
  } catch {
    return false;
  }
  return [...found].some((s) => !known.has(s) && /^https?:\/\//i.test(s) && !/^https?:\/\/(127\.0\.0\.1|localhost)(:|\/|$)/i.test(s));
}

function collectStrings(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') into.add(value);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) collectStrings(item, into);
}

/** Runs `run` over the items, a few at a time: enough to keep the server busy, not to starve a 2-core machine. */
export async function inParallel<T>(items: T[], run: (item: T) => Promise<void>, concurrency = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}
