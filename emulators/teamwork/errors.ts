/** Why a domain operation was refused; each HTTP surface maps a kind to its own wire format. */
export type EmulatorErrorKind = 'bad_request' | 'not_found' | 'validation' | 'conflict' | 'forbidden';

export class EmulatorError extends Error {
  constructor(
    readonly kind: EmulatorErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}

export const HTTP_STATUS_BY_KIND: Record<EmulatorErrorKind, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  validation: 422,
};

