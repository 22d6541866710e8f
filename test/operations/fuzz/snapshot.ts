import { BSON, type Db } from 'mongodb';

/**
 * Every document of every collection, serialised canonically, so "nothing was written" is a
 * byte comparison and not a list of collections someone has to keep up to date.
 */
export async function snapshotDatabase(db: Db): Promise<Map<string, string>> {
  const snapshot = new Map<string, string>();
  const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of collections) {
    const docs = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
    snapshot.set(name, BSON.EJSON.stringify(docs, { relaxed: false }));
  }
  return snapshot;
}

/** Names of the collections whose documents differ (added, removed or changed). */
export function changedCollections(before: Map<string, string>, after: Map<string, string>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((name) => before.get(name) !== after.get(name)).sort();
}
