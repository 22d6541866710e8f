import type { Request } from 'express';
import { EmulatorError } from '../errors';

/** The numeric `:id` of a route; anything else names no record, so it is a 404 like a missing id. */
export function recordId(req: Request): number {
  const id = Number(req.params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new EmulatorError('not_found', `No record ${req.params.id}`);
  return id;
}
