import crypto from 'node:crypto';
import { z } from 'zod';
import { version } from '../../package.json';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi';
import type { RouteTable } from '../routing';
import type { AppDeps } from '../deps';

const openApiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.looseObject({ operationId: z.string(), responses: z.record(z.string(), z.unknown()) }))),
  components: z.looseObject({}),
});

/**
 * GET /openapi.json and GET /docs (O4). The document is generated from the route table when
 * first asked for (every route is registered by then) and again only if the public base URL
 * changes. The docs page renders it in the browser with no external assets: deployments and
 * this machine may have no internet access.
 */
export function addDocsRoutes(routes: RouteTable, deps: Pick<AppDeps, 'publicBaseUrl'>): void {
  let cached: { serverUrl: string; document: OpenApiDocument } | undefined;
  const documentFor = (serverUrl: string): OpenApiDocument => {
    if (cached?.serverUrl !== serverUrl) cached = { serverUrl, document: buildOpenApiDocument(routes.routes, { serverUrl, version }) };
    return cached.document;
  };

  routes.add({
    method: 'get', path: '/openapi.json', tag: 'operations', auth: 'none', summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'The API description', schema: openApiDocumentSchema } },
  }, ({ res }) => {
    res.json(documentFor(deps.publicBaseUrl()));
  });

  routes.add({
    method: 'get', path: '/docs', tag: 'operations', auth: 'none', summary: 'Browsable API reference, rendered from /openapi.json',
    responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
  }, ({ res }) => {
    res.set('content-security-policy', docsPage.contentSecurityPolicy).type('html').send(docsPage.html);
  });
}

const styles = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}header p{margin:6px 0 0;color:#c9d1e0;max-width:70em}
main{padding:16px 24px;max-width:1100px}input{font:inherit;padding:6px 10px;width:320px;border:1px solid #c5cbd6;border-radius:4px}
h2{margin:24px 0 8px;text-transform:capitalize}details{background:#fff;border:1px solid #dde1e8;border-radius:4px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
.method{font:bold 12px monospace;text-transform:uppercase;min-width:56px;text-align:center;padding:2px 0;border-radius:3px;color:#fff;background:#6b7385}
.get{background:#2f7d4f}.post{background:#2b62b0}.patch{background:#a86a12}.put{background:#7a4fb0}.delete{background:#b03a2e}
.path{font-family:monospace;font-weight:600}.auth{margin-left:auto;font-size:12px;color:#6b7385}
.body{padding:4px 16px 12px;border-top:1px solid #eef0f4}h4{margin:12px 0 4px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f4;vertical-align:top;font-size:14px}
code,.type{font-family:monospace;font-size:13px}.type{color:#7a4fb0}.req{color:#b03a2e}ul.schema{margin:2px 0;padding-left:18px;list-style:none}
pre{background:#f6f7f9;padding:8px;overflow:auto;font-size:12px}.hidden{display:none}
`;

/* The page script builds every element with textContent: no document text is parsed as HTML. */
const script = `
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) if (child != null) node.append(child);
  return node;
};
let components = {};
const resolve = (schema, seen) => {
  while (schema && schema.$ref) {
    const name = schema.$ref.split('/').pop();
    if (seen.has(name)) return { recursive: name };
    seen = new Set(seen).add(name);
    schema = components[name];
  }
  return { schema: schema || {}, seen };
};
const typeOf = (s) => {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map((o) => typeOf(resolve(o, new Set()).schema || {})).join(' | ');
  if (s.type === 'array') return typeOf(resolve(s.items || {}, new Set()).schema || {}) + '[]';
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type || (s.properties ? 'object' : 'any');
};
const renderSchema = (input, seen = new Set(), depth = 0) => {
  const { schema, recursive, seen: inner } = resolve(input, seen);
  if (recursive) return el('span', { class: 'type' }, recursive + ' (recursive)');
  const wrap = el('div');
  wrap.append(el('span', { class: 'type' }, typeOf(schema)));
  if (schema.description) wrap.append(' — ' + schema.description);
  const constraints = ['format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'default']
    .filter((k) => schema[k] !== undefined && Math.abs(schema[k]) !== Number.MAX_SAFE_INTEGER).map((k) => k + ': ' + JSON.stringify(schema[k]));
  if (constraints.length) wrap.append(el('span', { class: 'type' }, '  (' + constraints.join(', ') + ')'));
  const nested = schema.type === 'array' ? resolve(schema.items || {}, inner).schema : schema;
  if (nested && nested.properties && depth < 6) {
    const list = el('ul', { class: 'schema' });
    const required = new Set(nested.required || []);
    for (const [name, prop] of Object.entries(nested.properties)) {
      list.append(el('li', {}, el('code', {}, name), required.has(name) ? el('span', { class: 'req' }, ' *') : null, ': ', renderSchema(prop, inner, depth + 1)));
    }
    wrap.append(list);
  }
  return wrap;
};
const renderOperation = (path, method, op) => {
  const body = el('div', { class: 'body' });
  if (op.parameters && op.parameters.length) {
    const rows = op.parameters.map((p) => el('tr', {}, el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req' }, ' *') : null), el('td', {}, p.in), el('td', {}, renderSchema(p.schema || {}), p.description || null)));
    body.append(el('h4', {}, 'Parameters'), el('table', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'schema')), ...rows));
  }
  if (op.requestBody) {
    for (const [type, media] of Object.entries(op.requestBody.content || {})) body.append(el('h4', {}, 'Request body ', el('code', {}, type)), renderSchema(media.schema || {}));
  }
  body.append(el('h4', {}, 'Responses'));
  const table = el('table');
  for (const [status, response] of Object.entries(op.responses || {})) {
    const content = Object.entries(response.content || {});
    table.append(el('tr', {}, el('td', {}, el('code', {}, status)), el('td', {}, response.description,
      ...content.map(([type, media]) => el('div', {}, el('code', {}, type), renderSchema(media.schema || {}))))));
  }
  body.append(table, el('details', {}, el('summary', {}, 'JSON'), el('pre', {}, JSON.stringify(op, null, 2))));
  const auth = op['x-deskbridge-auth'];
  return el('details', { 'data-search': (method + ' ' + path + ' ' + op.summary).toLowerCase() },
    el('summary', {}, el('span', { class: 'method ' + method }, method), el('span', { class: 'path' }, path), el('span', {}, op.summary), el('span', { class: 'auth' }, auth === 'user' ? 'bearer token' : auth)),
    body);
};
fetch('openapi.json').then((r) => r.json()).then((doc) => {
  components = (doc.components && doc.components.schemas) || {};
  document.title = doc.info.title + ' API ' + doc.info.version;
  document.querySelector('h1').textContent = document.title;
  document.querySelector('header p').textContent = doc.info.description;
  const main = document.querySelector('main');
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(tag)) byTag.set(tag, el('section', {}, el('h2', {}, tag)));
      byTag.get(tag).append(renderOperation(path, method, op));
    }
  }
  for (const section of byTag.values()) main.append(section);
  document.querySelector('input').addEventListener('input', (event) => {
    const needle = event.target.value.toLowerCase();
    for (const op of main.querySelectorAll('details[data-search]')) op.classList.toggle('hidden', !op.dataset.search.includes(needle));
  });
}).catch((err) => { document.querySelector('main').append(el('p', {}, 'Could not load openapi.json: ' + err)); });
`;

const sha256 = (text: string) => `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;

const docsPage = {
  html: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>deskbridge API</title><style>${styles}</style></head>
<body><header><h1>deskbridge API</h1><p></p></header>
<main><input type="search" placeholder="Filter operations" aria-label="Filter operations"><noscript><p>This page needs JavaScript; the raw document is at <a href="openapi.json">openapi.json</a>.</p></noscript></main>
<script>${script}</script></body></html>`,
  contentSecurityPolicy: `default-src 'none'; script-src ${sha256(script)}; style-src ${sha256(styles)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
};
