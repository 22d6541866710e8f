/**
 * v3 list mechanics: query parsing, stable ordering (every order ends with the id, so pages never
 * overlap or skip) and `meta.page`. Sorted views are cached per collection revision, which keeps
 * paging through 50,000 people linear instead of re-sorting on every page.
 */
import { EmulatorError } from './errors';

export type Query = Record<string, unknown>;
type SortKey<T> = (item: T) => string | number;

export interface PageRequest {
  page: number;
  pageSize: number;
  skipCounts: boolean;
}

export interface PageMeta {
  page: { pageOffset: number; pageSize: number; count: number; hasMore: boolean };
}

const DEFAULT_PAGE_SIZE = 50;

export function queryString(query: Query, name: string): string | undefined {
  const value = query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

export function queryFlag(query: Query, name: string): boolean {
  const value = queryString(query, name);
  return value === 'true' || value === '1';
}

export function queryList(query: Query, name: string): string[] | undefined {
  const value = queryString(query, name);
  return value === undefined ? undefined : value.split(',').map((part) => part.trim()).filter(Boolean);
}

export function queryIds(query: Query, name: string): Set<number> | undefined {
  const values = queryList(query, name);
  if (!values) return undefined;
  const ids = values.map(Number);
  if (ids.some((id) => !Number.isInteger(id))) throw new EmulatorError('bad_request', `${name} must list numeric ids`);
  return new Set(ids);
}

/** Parses an ISO 8601 query value into the stored timestamp format, so string comparison works. */
export function queryTimestamp(query: Query, name: string): string | undefined {
  const value = queryString(query, name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new EmulatorError('bad_request', `${name} must be an ISO 8601 date-time`);
  return new Date(ms).toISOString();
}

/** Out-of-range page sizes are clamped rather than refused, as Teamwork.com does. */
export function parsePageRequest(query: Query, maxPageSize: number): PageRequest {
  const page = Number(queryString(query, 'page') ?? 1);
  const pageSize = Number(queryString(query, 'pageSize') ?? DEFAULT_PAGE_SIZE);
  return {
    page: Number.isInteger(page) && page >= 1 ? page : 1,
    pageSize: Number.isInteger(pageSize) && pageSize >= 1 ? Math.min(pageSize, maxPageSize) : DEFAULT_PAGE_SIZE,
    skipCounts: queryFlag(query, 'skipCounts'),
  };
}

/** With `skipCounts`, `count` is only the documented lower bound while more pages follow. */
export function paginate<T>(items: readonly T[], request: PageRequest): { items: T[]; meta: PageMeta } {
  const start = (request.page - 1) * request.pageSize;
  const pageItems = items.slice(start, start + request.pageSize);
  const hasMore = start + request.pageSize < items.length;
  const count = request.skipCounts && hasMore ? request.page * request.pageSize + 1 : items.length;
  return {
    items: pageItems,
    meta: { page: { pageOffset: request.page - 1, pageSize: request.pageSize, count, hasMore } },
  };
}

export interface Ordering<T> {
  keys: Record<string, SortKey<T>>;
  defaultKey: string;
}

export class SortedViews {
  private readonly cache = new Map<string, { revision: number; items: unknown[] }>();

  /** The collection ordered by `orderBy`/`orderMode`, rebuilt only when `revision` moved. */
  sorted<T extends { id: number }>(
    collection: string,
    revision: number,
    source: Iterable<T>,
    ordering: Ordering<T>,
    query: Query,
  ): T[] {
    const orderBy = (queryString(query, 'orderBy') ?? ordering.defaultKey).toLowerCase();
    const key = ordering.keys[orderBy];
    if (!key) {
      throw new EmulatorError('bad_request', `orderBy must be one of ${Object.keys(ordering.keys).join(', ')}`);
    }
    const orderMode = (queryString(query, 'orderMode') ?? 'asc').toLowerCase();
    if (orderMode !== 'asc' && orderMode !== 'desc') throw new EmulatorError('bad_request', 'orderMode must be asc or desc');
    const cacheKey = `${collection}:${orderBy}:${orderMode}`;
    const cached = this.cache.get(cacheKey);
    if (cached && cached.revision === revision) return cached.items as T[];
    const items = sortBy([...source], key, orderMode === 'desc');
    this.cache.set(cacheKey, { revision, items });
    return items;
  }
}

function sortBy<T extends { id: number }>(items: T[], key: SortKey<T>, descending: boolean): T[] {
  const direction = descending ? -1 : 1;
  const keyed = items.map((item) => ({ item, key: key(item) }));
  keyed.sort((a, b) => direction * (a.key < b.key ? -1 : a.key > b.key ? 1 : a.item.id - b.item.id));
  return keyed.map((entry) => entry.item);
}
