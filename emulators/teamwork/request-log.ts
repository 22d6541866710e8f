/** What the connector asked of the emulated sites: benchmarks count list requests with it. */
export interface RequestLogEntry {
  at: string;
  installation: string;
  method: string;
  /** Path below the installation's base URL, e.g. `/projects/api/v3/companies.json`. */
  path: string;
  query: Record<string, unknown>;
  status: number;
}

/** Ids in a path are folded into `{id}` so every call of one route counts together. */
export function routeKey(method: string, path: string): string {
  return `${method} ${path.replace(/\/\d+(?=\/|\.json|$)/g, '/{id}')}`;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];

  record(entry: RequestLogEntry): void {
    this.entries.push(entry);
  }

  list(installation?: string): RequestLogEntry[] {
    return this.entries.filter((entry) => installation === undefined || entry.installation === installation);
  }

  clear(): void {
    this.entries = [];
  }

  /** Requests per route, e.g. `{"GET /projects/api/v3/companies.json": 21}`. */
  counts(installation?: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const entry of this.list(installation)) {
      const key = routeKey(entry.method, entry.path);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }
}
