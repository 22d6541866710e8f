import fc from 'fast-check';

/** Keys a client must never be able to set through a body: they decide ownership, role or provenance. */
export const protectedKeys = ['siteId', 'role', 'origin', 'linked', 'createdBy', '_id', 'id', 'teamworkId', 'tokenHash', 'status', 'revision', 'ownerId', 'userId'];
const pollutionKeys = ['__proto__', 'constructor', 'prototype', '$where', '$gt', '$ne', '$set', 'toString', 'hasOwnProperty', 'valueOf'];

// Built once: generating megabytes per run would dominate the suite's time.
const hugeStrings = ['x'.repeat(70_000), 'é'.repeat(40_000), `${'a'.repeat(300)}@example.com`, '0'.repeat(5_000)];

const nastyStrings = fc.constantFrom(
  '', ' ', '\u0000', '\ud800', '\u202e', '‮evil', 'NaN', 'Infinity', '-Infinity', '-0', '1e309', '9007199254740993', '0x10', ' 1 ', '1_000', '1.5', '-1',
  'true', 'false', 'null', 'undefined', '[]', '{}', '{"$gt":""}', '__proto__', 'constructor', '../../etc/passwd', '%00', '%E0%A4%A', '<script>alert(1)</script>',
  "' OR 1=1 --", 'a@b', 'a@example.com', 'https://example.com', 'javascript:alert(1)', 'file:///etc/passwd', '507f1f77bcf86cd799439011', 'ffffffffffffffffffffffff',
);

const specialValues = fc.constantFrom<unknown>(
  null, undefined, NaN, Infinity, -Infinity, -0, 0, -1, 2 ** 53 + 1, Number.MAX_VALUE, Number.MIN_VALUE, 1.5, true, false, [], {}, [null], [[[]]],
  { $gt: '' }, { $ne: null }, { $where: 'sleep(1000)' }, new Date(NaN), Object.create(null),
);

/** Nested objects and arrays deep enough to hurt naive recursion (JSON parsers, validators, loggers). */
export const deepValue = fc.integer({ min: 20, max: 600 }).map((depth) => {
  let value: unknown = 'bottom';
  for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { nested: value };
  return value;
});

/** One field's worth of trouble. */
export const hostileLeaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 4 }) },
  { weight: 3, arbitrary: nastyStrings },
  { weight: 3, arbitrary: specialValues },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double()) },
  { weight: 1, arbitrary: fc.constantFrom(...hugeStrings) },
  { weight: 1, arbitrary: deepValue },
);

/** Anything a JavaScript caller could hand over: boxed values, maps, sparse arrays, null prototypes. */
export const arbitraryValue: fc.Arbitrary<unknown> = fc.anything({
  maxDepth: 3,
  maxKeys: 6,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withObjectString: true,
});

/** Anything that survives JSON, as a body on the wire is. */
export const arbitraryJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 });

/**
 * Pollution keys as own properties, exactly as JSON.parse produces them from a request body (a
 * computed `[key]` defines an own `__proto__` instead of setting the prototype).
 */
function withOwnKey(base: unknown, key: string, value: unknown): Record<string, unknown> {
  const target = isPlainRecord(base) ? base : {};
  return JSON.parse(JSON.stringify({ ...target, [key]: value ?? null }, jsonSafe));
}

/** Whole-body attacks: pollution keys, deep nesting, huge strings, scalars and arrays instead of objects. */
export function hostileBody(example: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.tuple(fc.constantFrom(...pollutionKeys), fc.oneof(fc.constant({ polluted: true }), fc.constant({ prototype: { polluted: true } }), hostileLeaf)).map(([key, value]) => withOwnKey(example, key, value)),
    deepValue,
    fc.constantFrom(...hugeStrings),
    specialValues,
    nastyStrings,
    fc.array(fc.constant(example), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...protectedKeys, ...pollutionKeys), hostileLeaf, { maxKeys: 5 }),
  );
}

type PathStep = string | number;

/** Every path into an example (objects and arrays), the root included. */
function pathsOf(value: unknown, prefix: PathStep[] = []): PathStep[][] {
  const paths: PathStep[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...pathsOf(item, [...prefix, index])));
  else if (isPlainRecord(value)) for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function updateAt(root: unknown, path: PathStep[], update: (parent: Record<PathStep, unknown>, key: PathStep) => void): unknown {
  if (path.length === 0) return root;
  const copy = clone(root);
  let node = copy as Record<PathStep, unknown>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<PathStep, unknown>;
  update(node, path[path.length - 1]!);
  return copy;
}

/** Flips a value to a neighbouring type: numbers to strings, strings to numbers, scalars into arrays. */
function confuse(value: unknown): unknown[] {
  return [
    typeof value === 'number' ? String(value) : Number(value),
    typeof value === 'string' ? Number.parseFloat(value) : String(value),
    [value],
    { value },
    typeof value === 'boolean' ? String(value) : Boolean(value),
    null,
  ];
}

/** A valid example with exactly one thing wrong (or one thing extra) about it. */
export function nearValid(example: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(example);
  const inner = paths.filter((p) => p.length > 0);
  const objectPaths = paths.filter((p) => isPlainRecord(p.reduce<unknown>((node, step) => (node as Record<PathStep, unknown>)[step], example)));
  const pick = (candidates: PathStep[][]) => fc.constantFrom(...(candidates.length ? candidates : [[]]));
  return fc.oneof(
    fc.tuple(pick(inner), hostileLeaf).map(([path, value]) => updateAt(example, path, (parent, key) => (parent[key] = value))),
    pick(inner).map((path) => updateAt(example, path, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key]))),
    fc.tuple(pick(inner), fc.nat()).map(([path, n]) => {
      const current = path.reduce<unknown>((node, step) => (node as Record<PathStep, unknown>)[step], example);
      const options = confuse(current);
      return updateAt(example, path, (parent, key) => (parent[key] = options[n % options.length]));
    }),
    fc.tuple(pick(objectPaths), fc.constantFrom(...protectedKeys), hostileLeaf).map(([path, key, value]) =>
      path.length === 0 ? { ...(example as object), [key]: value } : updateAt(example, path, (parent, last) => (parent[last] = { ...(parent[last] as object), [key]: value })),
    ),
    fc.tuple(pick(objectPaths), fc.constantFrom(...pollutionKeys), hostileLeaf).map(([path, key, value]) =>
      path.length === 0 ? withOwnKey(example, key, value) : updateAt(example, path, (parent, last) => (parent[last] = withOwnKey(parent[last], key, value))),
    ),
  );
}

export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** JSON.stringify that does not throw on BigInt (sent as a string, as a careless client would). */
export function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Object.prototype untouched: no key was added through `__proto__` or `constructor.prototype`. */
export function prototypeIsClean(): boolean {
  return Object.getOwnPropertyNames(Object.prototype).every((name) => baselinePrototypeNames.has(name)) && !('polluted' in {});
}
const baselinePrototypeNames = new Set(Object.getOwnPropertyNames(Object.prototype));
