import type { z } from 'zod';
import { fromZod } from './problem';

/** Parses a request part with its schema; failures become a 400 problem listing every issue. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw fromZod(result.error);
  return result.data;
}
