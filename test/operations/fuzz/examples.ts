import type { z } from 'zod';

/**
 * A value a zod schema accepts, derived from the schema itself so routes added later get
 * near-valid fuzzing without anyone writing an example. Strings behind formats, regexes and
 * refinements are found by trying typical values; `overrides` (by dotted path) cover fields
 * whose valid value depends on the test's world (a base URL the emulator answers, a real id).
 */
export function validExample(schema: z.ZodType, overrides: Record<string, unknown> = {}): unknown {
  const value = derive(schema, '', overrides);
  const checked = schema.safeParse(value);
  if (!checked.success) throw new Error(`no valid example found: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return value;
}

/** Keys a schema declares at the top level of its object (empty for non-objects). */
export function declaredKeys(schema: z.ZodType): Set<string> {
  const def = defOf(schema);
  if (def.type === 'object') return new Set(Object.keys(def.shape));
  if (def.type === 'pipe') return declaredKeys(def.in);
  if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'prefault') return declaredKeys(def.innerType);
  return new Set();
}

/** Whether unknown keys pass through the schema's output (z.looseObject / catchall). */
export function passesUnknownKeys(schema: z.ZodType): boolean {
  const def = defOf(schema);
  if (def.type === 'object') return def.catchall !== undefined && defOf(def.catchall).type !== 'never';
  if (def.type === 'pipe') return passesUnknownKeys(def.in);
  if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'prefault') return passesUnknownKeys(def.innerType);
  return false;
}

// Ordered from most to least specific so a format-constrained field gets a value of its format.
const stringCandidates = [
  'a@example.com',
  'https://example.com',
  'example.com',
  '507f1f77bcf86cd799439011',
  '2024-01-15',
  'abc',
  'a',
  'A'.repeat(16),
  'true',
  '1',
];
const numberCandidates = [1, 0, 50, -1, 0.5];

function defOf(schema: z.ZodType): any {
  return (schema as any)._zod.def;
}

function derive(schema: z.ZodType, path: string, overrides: Record<string, unknown>): unknown {
  if (path in overrides) return overrides[path];
  const def = defOf(schema);
  const firstAccepted = (candidates: unknown[]) => candidates.find((c) => schema.safeParse(c).success);
  switch (def.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        out[key] = derive(field, path ? `${path}.${key}` : key, overrides);
      }
      return out;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return derive(def.innerType, path, overrides);
    case 'pipe': {
      // A query string often becomes something else (`a,b` → ['a', 'b']): try the output's shape as text too.
      const output = derive(def.out, path, overrides);
      return firstAccepted([derive(def.in, path, overrides), output, Array.isArray(output) ? output.join(',') : String(output)]) ?? derive(def.in, path, overrides);
    }
    case 'array': {
      const element = derive(def.element, `${path}[]`, overrides);
      return firstAccepted([[], [element]]) ?? [element];
    }
    case 'union':
      for (const option of def.options as z.ZodType[]) {
        const candidate = derive(option, path, overrides);
        if (schema.safeParse(candidate).success) return candidate;
      }
      return derive(def.options[0], path, overrides);
    case 'enum':
      return Object.values(def.entries)[0];
    case 'literal':
      return def.values[0];
    case 'boolean':
      return true;
    case 'number':
    case 'int':
      return firstAccepted(numberCandidates) ?? 1;
    case 'bigint':
      return 1n;
    case 'date':
      return new Date(0);
    case 'record':
      return {};
    case 'string':
      return firstAccepted(stringCandidates) ?? 'abc';
    default:
      return 'x';
  }
}
