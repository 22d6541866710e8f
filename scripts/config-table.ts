import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../lib/config';

/**
 * Prints the README's configuration table: types and defaults come from the config schema,
 * meanings from the comments in `.env.example`. `--write` replaces the table in README.md.
 *
 *   npx tsx scripts/config-table.ts [--write]
 */

const repoRoot = path.resolve(__dirname, '..');
const tableStart = '<!-- config-table:start -->';
const tableEnd = '<!-- config-table:end -->';

export interface EnvExampleEntry {
  name: string;
  /** The default or an example value, as written. */
  value: string;
  description: string;
}

/** Each variable is a `# NAME=value` (or `NAME=value`) line, described by the comment lines just above it. */
export function readEnvExample(file = path.join(repoRoot, '.env.example')): EnvExampleEntry[] {
  const entries: EnvExampleEntry[] = [];
  let comment: string[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const assignment = /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (assignment) {
      entries.push({ name: assignment[1]!, value: assignment[2]!, description: comment.join(' ') });
      comment = [];
    } else if (line.startsWith('#')) {
      comment.push(line.replace(/^#\s?/, ''));
    } else {
      comment = [];
    }
  }
  return entries;
}

interface JsonSchemaProperty {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

function describeAccepted(property: JsonSchemaProperty): string {
  if (property.enum) return property.enum.map((value) => `\`${String(value)}\``).join(', ');
  if (property.type === 'integer') {
    if (property.exclusiveMinimum === 0 && (property.maximum ?? Infinity) >= Number.MAX_SAFE_INTEGER) return 'positive integer';
    if (property.minimum !== undefined && property.maximum !== undefined) return `integer ${property.minimum}–${property.maximum}`;
    return 'integer';
  }
  if (property.format === 'uri') return 'URL';
  const prefix = property.pattern && /^\^([\w+:/]+)\.\*$/.exec(property.pattern);
  if (prefix) return `starts with \`${prefix[1]}\``;
  return 'text';
}

export function configTable(entries = readEnvExample()): string {
  const meanings = new Map(entries.map((entry) => [entry.name, entry.description]));
  const properties = (z.toJSONSchema(configSchema) as { properties: Record<string, JsonSchemaProperty> }).properties;
  const rows = Object.entries(properties).map(([name, property]) => {
    const fallback = property.default === undefined ? '' : `\`${String(property.default)}\``;
    const meaning = (meanings.get(name) ?? '(missing from .env.example)').replaceAll('|', '\\|');
    return `| \`${name}\` | ${fallback} | ${describeAccepted(property)} | ${meaning} |`;
  });
  return ['| Variable | Default | Accepts | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The table as it stands in README.md, between its markers. */
export function readmeTable(readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')): string | undefined {
  const start = readme.indexOf(tableStart);
  const end = readme.indexOf(tableEnd);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + tableStart.length, end).trim();
}

function writeReadmeTable(table: string): void {
  const file = path.join(repoRoot, 'README.md');
  const readme = fs.readFileSync(file, 'utf8');
  if (readmeTable(readme) === undefined) throw new Error(`README.md has no ${tableStart} … ${tableEnd} block`);
  const start = readme.indexOf(tableStart) + tableStart.length;
  fs.writeFileSync(file, `${readme.slice(0, start)}\n${table}\n${readme.slice(readme.indexOf(tableEnd))}`);
}

if (require.main === module) {
  const table = configTable();
  if (process.argv.includes('--write')) writeReadmeTable(table);
  else process.stdout.write(`${table}\n`);
}
