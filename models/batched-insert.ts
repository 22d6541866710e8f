import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';

type Outcome = 'inserted' | 'duplicate';

interface Pending {
  doc: Document;
  resolve(outcome: Outcome): void;
  reject(err: unknown): void;
}

/**
 * Inserts documents that many concurrent requests write one at a time as few `insertMany`
 * commands: whatever arrives while one batch is on its way goes out together in the next. One
 * insert costs FerretDB about as much as a batch of twenty, so under load this is most of the
 * database's work per webhook (bench/webhook-ingest.ts). Unordered, so a duplicate `_id` only
 * fails its own document, and callers learn which of theirs was a duplicate.
 */
export class BatchedInsert {
  private queued: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly collection: () => Collection<Document>,
    private readonly maxBatch = 500,
  ) {}

  insert(doc: Document): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.queued.push({ doc, resolve, reject });
      // The first caller waits one turn of the event loop for others arriving in the same burst.
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0, this.maxBatch);
      const failed = new Map<number, { code?: number }>();
      let whole: unknown;
      try {
        await this.collection().insertMany(batch.map((p) => p.doc), { ordered: false });
      } catch (err) {
        if (err instanceof MongoBulkWriteError && err.writeErrors) {
          for (const writeError of [err.writeErrors].flat()) failed.set(writeError.index, { code: writeError.code });
        } else {
          whole = err;
        }
      }
      batch.forEach((p, i) => {
        const error = failed.get(i);
        if (whole !== undefined) p.reject(whole);
        else if (!error) p.resolve('inserted');
        else if (error.code === 11000) p.resolve('duplicate');
        else p.reject(Object.assign(new Error(`insert failed with code ${error.code}`), { code: error.code }));
      });
    }
    this.flushing = false;
  }
}
