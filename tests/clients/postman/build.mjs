// Builds the Postman collection from Nimbus's OpenAPI document with openapi-to-postmanv2,
// then makes it runnable from top to bottom (with newman, or Postman's runner):
// - a collection pre-request script signs in (registering the account on a fresh install) and
//   keeps the bearer token in {{accessToken}}; every request inherits that auth;
// - the ids a create returns are kept in collection variables ({{project_id}}, {{bug_id}}, ...)
//   that path variables and request bodies refer to;
// - deletions (and sign-out) move to a last "cleanup" folder, newest resource first;
// - every request tests that its status is one the document declares for it, that errors are
//   problem+json, that a success body matches its documented schema, and that the requests of
//   the main flow succeed.
//
// usage: node build.mjs OPENAPI.json COLLECTION.json

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Converter from 'openapi-to-postmanv2';

const here = dirname(fileURLToPath(import.meta.url));
const [specPath, outPath] = process.argv.slice(2);
if (!specPath || !outPath) {
  console.error('usage: node build.mjs OPENAPI.json COLLECTION.json');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specPath, 'utf8'));

// Which collection variable a create fills, and from which field of its response.
const CAPTURES = {
  'projects-create': { project_id: 'id' },
  'users-create': { user_id: 'id' },
  'users-create-token': { token_id: 'id' },
  'bugs-create': { bug_id: 'key' },
  'bugs-create-comment': { comment_id: 'id' },
  'attachments-upload': { attachment_id: 'id' },
  'webhooks-create': { webhook_id: 'id' },
  'jobs-create': { job_id: 'id' },
  'categories-create-category': { category_id: 'id' },
  'expenses-create': { expense_id: 'id' },
  'auth-token': { refresh_token: 'refresh_token' },
  'auth-refresh': { refresh_token: 'refresh_token' },
};
// Path variables and body fields that name a resource, and the variable that holds it.
const REFERENCES = {
  project_id: 'project_id',
  user_id: 'user_id',
  token_id: 'token_id',
  bug_id: 'bug_id',
  comment_id: 'comment_id',
  attachment_id: 'attachment_id',
  webhook_id: 'webhook_id',
  job_id: 'job_id',
  category_id: 'category_id',
  expense_id: 'expense_id',
  notification_id: 'notification_id',
  assignee_id: 'user_id',
  refresh_token: 'refresh_token',
};
// Requests whose example-built input is valid on a fresh install: they must succeed.
const MUST_SUCCEED = new Set([
  'auth-token',
  'users-read-me',
  'users-create',
  'users-list',
  'roles-list',
  'projects-create',
  'projects-read',
  'projects-add-member',
  'bugs-create',
  'bugs-read',
  'bugs-list',
  'bugs-transition',
  'bugs-create-comment',
  'attachments-upload',
  'jobs-create',
  'jobs-read',
  'runtimes-list',
  'categories-create-category',
  'expenses-create',
  'expenses-read',
  'expenses-summarize',
  'budgets-set',
  'ops-healthz',
]);
// Request bodies the document has no example for, or whose example depends on earlier steps.
const BODIES = {
  'bugs-transition': { to: 'in_progress' },
  'users-update-me': { full_name: 'Ada Lovelace' },
  'categories-create-category': { name: 'Team events' },
};
const CSV = 'spent_on,amount,currency,category\n2026-03-01,12.30,EUR,Meals\n';
const isCleanup = (method, opId) =>
  method === 'DELETE' || ['auth-logout', 'users-delete'].includes(opId);

const PRE_REQUEST = `
// Sign in once per run: register the account first (the first account of a fresh install is
// the admin; an existing one answers 409), then take a token with the OAuth2 password form.
if (!pm.collectionVariables.get('accessToken')) {
  const base = pm.variables.get('baseUrl');
  const email = pm.variables.get('email');
  const password = pm.variables.get('password');
  pm.sendRequest({
    url: base + '/api/v1/auth/register',
    method: 'POST',
    header: { 'Content-Type': 'application/json' },
    body: { mode: 'raw', raw: JSON.stringify({ email, password, full_name: pm.variables.get('fullName') }) },
  }, () => {
    pm.sendRequest({
      url: base + '/api/v1/auth/token',
      method: 'POST',
      body: { mode: 'urlencoded', urlencoded: [
        { key: 'username', value: email },
        { key: 'password', value: password },
      ] },
    }, (err, res) => {
      if (err || res.code !== 200) {
        throw new Error('sign-in failed: ' + (err || res.code + ' ' + res.text()));
      }
      pm.collectionVariables.set('accessToken', res.json().access_token);
    });
  });
}
`;

// The reproduction's result is written to the bug when its job ends; a write to the bug that
// overlaps it fails with 412 even without If-Match, so the run waits for the job here.
const WAIT_FOR_JOB = `
if (pm.response.code === 202) {
  const url = pm.variables.get('baseUrl') + '/api/v1/jobs/' + pm.response.json().id;
  const header = { Authorization: 'Bearer ' + pm.collectionVariables.get('accessToken') };
  const poll = (left) => pm.sendRequest({ url, header }, (err, res) => {
    const status = err ? 'unknown' : res.json().status;
    if (left > 0 && ['queued', 'running'].includes(status)) setTimeout(() => poll(left - 1), 100);
  });
  poll(200);
}
`;

// The response schema of each success status, with the components it refers to.
function responseSchemas(op) {
  const schemas = {};
  for (const [code, response] of Object.entries(op.responses)) {
    const schema = response.content?.['application/json']?.schema;
    if (!code.startsWith('2') || !schema) continue;
    const needed = {};
    const visit = (node) => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node && typeof node === 'object') {
        const name = typeof node.$ref === 'string' ? node.$ref.split('/').pop() : null;
        if (name && !(name in needed)) {
          needed[name] = spec.components.schemas[name];
          visit(needed[name]);
        }
        Object.values(node).forEach(visit);
      }
    };
    visit(schema);
    schemas[code] = { ...schema, components: { schemas: needed } };
  }
  return schemas;
}

function testScript(op, documented, captures) {
  const opId = op.operationId;
  const lines = [
    `const documented = ${JSON.stringify(documented)};`,
    `pm.test('${opId}: status ' + pm.response.code + ' is declared in the API document', () =>`,
    `  pm.expect(documented).to.include(pm.response.code));`,
    `if (pm.response.code >= 400) {`,
    `  pm.test('${opId}: errors are problem+json with a code', () => {`,
    `    pm.expect(pm.response.headers.get('Content-Type')).to.include('application/problem+json');`,
    `    pm.expect(pm.response.json().code).to.be.a('string');`,
    `  });`,
    `}`,
  ];
  const schemas = responseSchemas(op);
  if (Object.keys(schemas).length > 0) {
    lines.push(
      `const schemas = ${JSON.stringify(schemas)};`,
      `if (pm.response.code in schemas) {`,
      `  pm.test('${opId}: the body matches the documented schema', () =>`,
      `    pm.response.to.have.jsonSchema(schemas[pm.response.code], { strict: false, validateFormats: false }));`,
      `}`,
    );
  }
  if (MUST_SUCCEED.has(opId)) {
    lines.push(
      `pm.test('${opId}: succeeds', () => pm.expect(pm.response.code, pm.response.text()).to.be.below(300));`,
    );
  }
  if (opId === 'bugs-create-reproduction') lines.push(...WAIT_FOR_JOB.trim().split('\n'));
  for (const [variable, field] of Object.entries(captures || {})) {
    lines.push(
      `if (pm.response.code < 300) pm.collectionVariables.set('${variable}', pm.response.json()['${field}']);`,
    );
  }
  return lines.join('\n').split('\n');
}

// The request body from the document's own example (openapi-to-postmanv2 reads OpenAPI 3.0's
// `example`, not JSON Schema's `examples`, and fakes values instead).
function exampleBody(op) {
  const schema = op.requestBody?.content?.['application/json']?.schema;
  const name = schema?.$ref?.split('/').pop();
  return spec.components.schemas[name]?.examples?.[0];
}

// The JSON body with references to earlier steps: "project_id": 1 becomes {{project_id}}.
function linkBody(raw, op) {
  const opId = op.operationId;
  let body = BODIES[opId] ?? exampleBody(op) ?? JSON.parse(raw);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return raw;
  const marks = {};
  for (const [field, variable] of Object.entries(REFERENCES)) {
    if (field in body) {
      marks[field] = `__${variable}__`;
      body = { ...body, [field]: marks[field] };
    }
  }
  let text = JSON.stringify(body, null, 2);
  for (const [field, mark] of Object.entries(marks)) {
    const variable = REFERENCES[field];
    // ids are numbers in JSON; bug keys and tokens are strings
    const quoted = ['bug_id', 'refresh_token'].includes(variable);
    text = text.replace(`"${mark}"`, quoted ? `"{{${variable}}}"` : `{{${variable}}}`);
  }
  return text;
}

function operationOf(request) {
  const path = '/' + request.url.path.map((p) => (p.startsWith(':') ? `{${p.slice(1)}}` : p)).join('/');
  const op = spec.paths[path]?.[request.method.toLowerCase()];
  if (!op) throw new Error(`no operation for ${request.method} ${path}`);
  return op;
}

function prepare(item) {
  const request = item.request;
  const op = operationOf(request);
  const opId = op.operationId;
  item.name = `${opId}: ${item.name}`;
  delete request.auth; // inherit the collection's bearer token
  for (const variable of request.url.variable || []) {
    if (variable.key in REFERENCES) variable.value = `{{${REFERENCES[variable.key]}}}`;
    if (variable.key === 'path') variable.value = 'out/report.txt';
  }
  for (const query of request.url.query || []) query.disabled = true; // only what is required
  const body = request.body;
  if (opId === 'expenses-import') {
    request.body = { mode: 'raw', raw: CSV };
    request.header = (request.header || []).filter((h) => h.key !== 'Content-Type');
    request.header.push({ key: 'Content-Type', value: 'text/csv' });
  } else if (body?.mode === 'raw' && body.raw) {
    body.raw = linkBody(body.raw, op);
  } else if (body?.mode === 'urlencoded' && opId === 'auth-token') {
    body.urlencoded = [
      { key: 'username', value: '{{email}}' },
      { key: 'password', value: '{{password}}' },
    ];
  } else if (body?.mode === 'formdata') {
    // OpenAPI 3.1 marks uploads with contentMediaType, which the converter takes for text.
    const schema = op.requestBody.content['multipart/form-data'].schema;
    const fields = spec.components.schemas[schema.$ref?.split('/').pop()]?.properties ?? {};
    for (const part of body.formdata) {
      const field = fields[part.key] ?? {};
      if (part.type === 'file' || field.format === 'binary' || field.contentMediaType) {
        Object.assign(part, { type: 'file', src: resolve(here, 'fixtures', 'note.txt') });
        delete part.value;
      }
    }
  }
  if (opId === 'webhooks-create') {
    // Deliveries go to this same server (loopback), never to an example address.
    body.raw = JSON.stringify({ url: '{{baseUrl}}/healthz', events: ['bug.created'] }, null, 2);
  }
  const documented = Object.keys(op.responses).map(Number);
  item.event = [
    { listen: 'test', script: { type: 'text/javascript', exec: testScript(op, documented, CAPTURES[opId]) } },
  ];
  return { item, opId, method: request.method };
}

function convert() {
  const options = {
    folderStrategy: 'Tags',
    parametersResolution: 'Example',
    requestNameSource: 'Fallback',
    enableOptionalParameters: false,
    alwaysInheritAuthentication: true,
  };
  return new Promise((ok, fail) =>
    // The converter rewrites the document it is given (e.g. drops {type: 'null'}): give it a copy.
    Converter.convertV2({ type: 'json', data: structuredClone(spec) }, options, (err, res) => {
      if (err) fail(err);
      else if (!res.result) fail(new Error(res.reason));
      else ok(res.output[0].data);
    }),
  );
}

const collection = await convert();
const cleanup = [];
for (const folder of collection.item) {
  const kept = [];
  for (const entry of folder.item.map(prepare)) {
    (isCleanup(entry.method, entry.opId) ? cleanup : kept).push(entry.item);
  }
  folder.item = kept;
}
// Expenses need a category made first; deletions go newest first: comments before bugs before
// projects, tokens and sign-out last of all.
const order = (folder) => (folder.name === 'categories' ? 'expenses' : folder.name);
const tags = spec.tags.map((tag) => tag.name);
collection.item = collection.item
  .filter((folder) => folder.item.length > 0)
  .sort((a, b) => tags.indexOf(order(a)) - tags.indexOf(order(b)) || (a.name === 'categories' ? -1 : 1));
collection.item.push({ name: 'cleanup', item: cleanup.reverse() });
collection.info.name = 'Nimbus';
collection.info.description = 'Generated from the Nimbus OpenAPI document by tests/clients/postman/build.mjs';
collection.auth = { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }] };
collection.event = [{ listen: 'prerequest', script: { type: 'text/javascript', exec: PRE_REQUEST.trim().split('\n') } }];
collection.variable = [
  { key: 'accessToken', value: '' },
  ...[...new Set(Object.values(REFERENCES))].map((key) => ({ key, value: '0' })),
];
mkdirSync(dirname(resolve(outPath)), { recursive: true });
writeFileSync(outPath, JSON.stringify(collection, null, 2) + '\n');
console.log(`wrote ${outPath}: ${collection.item.reduce((n, f) => n + f.item.length, 0)} requests`);
