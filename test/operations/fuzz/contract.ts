import type { z } from 'zod';
import type { RouteSpec } from '../../../api/routing';
import { parse } from '../../../api/validation';
import { Problem } from '../../../api/problem';
import { declaredKeys, passesUnknownKeys } from './examples';

export type RequestPart = 'params' | 'query' | 'body';
export const requestParts: RequestPart[] = ['params', 'query', 'body'];

export interface SchemaTarget {
  schema: z.ZodType;
  part: RequestPart;
  /** Every route part validated by this very schema object (idParams is shared, for one). */
  usedBy: string[];
}

export const routeName = (route: RouteSpec) => `${route.method.toUpperCase()} ${route.path}`;

/** Each distinct schema of the route table once, with the route parts that use it. */
export function schemaTargets(routes: RouteSpec[]): SchemaTarget[] {
  const byIdentity = new Map<z.ZodType, SchemaTarget>();
  for (const route of routes) {
    for (const part of requestParts) {
      const schema = route[part];
      if (!schema) continue;
      const target = byIdentity.get(schema) ?? { schema, part, usedBy: [] };
      target.usedBy.push(`${routeName(route)} ${part}`);
      byIdentity.set(schema, target);
    }
  }
  return [...byIdentity.values()];
}

/**
 * The contract every route relies on: `parse` either returns a value the schema accepts, with no
 * key the schema does not declare (unless it deliberately passes unknown keys through), or throws
 * a 400 validation problem that can be serialised. Anything else would surface as a 500.
 */
export function checkParse(schema: z.ZodType, input: unknown): 'accepted' | 'rejected' {
  let output: unknown;
  try {
    output = parse(schema, input);
  } catch (err) {
    if (!(err instanceof Problem)) throw new Error(`parse threw ${describe(err)} instead of a problem`);
    if (err.status !== 400 || err.type !== 'validation-error') throw new Error(`parse threw a ${err.status} ${err.type} problem`);
    const errors = err.extra.errors;
    if (!Array.isArray(errors) || errors.length === 0) throw new Error('a validation problem lists no error');
    JSON.stringify({ detail: err.detail, ...err.extra });
    return 'rejected';
  }
  if (!schema.safeParse(input ?? {}).success) throw new Error('parse accepted a value the schema rejects');
  if (output !== null && typeof output === 'object' && !Array.isArray(output) && !passesUnknownKeys(schema)) {
    const declared = declaredKeys(schema);
    const smuggled = Object.keys(output).filter((key) => !declared.has(key));
    if (smuggled.length) throw new Error(`parse let undeclared keys through: ${smuggled.join(', ')}`);
  }
  return 'accepted';
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}
