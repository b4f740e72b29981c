#!/usr/bin/env node
// Okta stand-in for groupsync's tests and benchmarks.
//
// One file, Node.js core modules only. Faithful to ../../../shared/okta/PROTOCOL.md
// (the project's notes, beside the repository) and the sample shapes in
// tests/data/okta/samples/. See README.md next to this file.
//
//   node tests/standins/okta.js --port N [--host 127.0.0.1] [--api-token T]...
//        [--hook-url URL --hook-secret VALUE] [--state FILE] [--verbose] ...
//
// Prints "okta-standin listening on http://HOST:PORT" on stdout when ready.
'use strict';

const http = require('http');
const https = require('https');
const crypto = require('crypto');
const fs = require('fs');
const { URL, URLSearchParams } = require('url');

// ---------------------------------------------------------------- options

const USAGE = `usage: node okta.js --port N [options]
  --port N                 listen port (0 = any free port)
  --host H                 listen address (default 127.0.0.1)
  --public-url URL         base URL used in links, aud and htu checks
                           (default: http://<Host header of each request>)
  --api-token T            accepted SSWS token (repeatable)
  --client ID:PEM[:dpop]   OAuth service app with its public key (repeatable)
  --token-ttl S            access token lifetime (default 3600)
  --hook-url URL           event hook endpoint (the "static" hook)
  --hook-secret VALUE      value of the hook's authentication header
  --hook-header NAME       authentication header name (default Authorization)
  --hook-custom-header 'K: V'  extra header on deliveries (repeatable)
  --hook-events LIST|all   event types for the static hook (default: groupsync's 9)
  --hook-batch-ms N        batch events for N ms into one delivery (default 0)
  --hook-timeout-ms N      delivery timeout (default 3000, as Okta)
  --hook-max-sockets N     concurrent connections to a hook (default 64)
  --hook-insecure          do not verify the hook's TLS certificate
  --hook-ca FILE           CA bundle for https hook URLs
  --rate-limits okta|unlimited  bucket sizes: Okta's published Enterprise per-minute
                           limits (default) or 10,000,000 per window for every bucket
  --bucket-limit NAME=N    size of one bucket (repeatable; names in README.md)
  --rate-window S          rate-limit window in seconds (default 60: Okta's minute)
  --max-concurrent N       answer 429 above N concurrent API requests
                           (default 75 with --rate-limits okta, 0 = off with unlimited)
  --dpop-max-age S         accepted age of a DPoP proof's iat (default 120)
  --dpop-api-error-status N  status of a rejected DPoP proof on /api/v1 (default 400)
  --bare-schema            start without the custom "customId" attribute
  --state FILE             load state from FILE at start, save it there on SIGINT/SIGTERM
  --calls-max N            API call log size (default 100000; 0 = keep none)
  --deliveries-max N       delivery log size (default 20000)
  --verbose                log every request to stderr
`;

function parseArgs(argv) {
  const o = {
    port: null, host: '127.0.0.1', publicUrl: null, apiTokens: [], clients: [], tokenTtl: 3600,
    hookUrl: null, hookSecret: null, hookHeader: 'Authorization', hookCustomHeaders: [],
    hookEvents: null, hookBatchMs: 0, hookTimeoutMs: 3000, hookMaxSockets: 64,
    hookInsecure: false, hookCa: null, rateLimits: 'okta', bucketLimits: {}, rateWindow: 60, maxConcurrent: null,
    dpopMaxAge: 120, dpopApiErrorStatus: 400, bareSchema: false, state: null,
    callsMax: 100000, deliveriesMax: 20000, verbose: false,
  };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n)) die(`${name}: not a number: ${v}`);
    return n;
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': o.port = num(next(), a); break;
      case '--host': o.host = next(); break;
      case '--public-url': o.publicUrl = next().replace(/\/+$/, ''); break;
      case '--api-token': o.apiTokens.push(next()); break;
      case '--client': o.clients.push(next()); break;
      case '--token-ttl': o.tokenTtl = num(next(), a); break;
      case '--hook-url': o.hookUrl = next(); break;
      case '--hook-secret': o.hookSecret = next(); break;
      case '--hook-header': o.hookHeader = next(); break;
      case '--hook-custom-header': o.hookCustomHeaders.push(next()); break;
      case '--hook-events': o.hookEvents = next(); break;
      case '--hook-batch-ms': o.hookBatchMs = num(next(), a); break;
      case '--hook-timeout-ms': o.hookTimeoutMs = num(next(), a); break;
      case '--hook-max-sockets': o.hookMaxSockets = num(next(), a); break;
      case '--hook-insecure': o.hookInsecure = true; break;
      case '--hook-ca': o.hookCa = next(); break;
      case '--rate-limits': o.rateLimits = next(); break;
      case '--bucket-limit': {
        const v = next();
        const eq = v.indexOf('=');
        if (eq < 1) die(`${a} ${v}: expected NAME=N`);
        o.bucketLimits[v.slice(0, eq)] = num(v.slice(eq + 1), a);
        break;
      }
      case '--rate-window': o.rateWindow = num(next(), a); break;
      case '--max-concurrent': o.maxConcurrent = num(next(), a); break;
      case '--dpop-max-age': o.dpopMaxAge = num(next(), a); break;
      case '--dpop-api-error-status': o.dpopApiErrorStatus = num(next(), a); break;
      case '--bare-schema': o.bareSchema = true; break;
      case '--state': o.state = next(); break;
      case '--calls-max': o.callsMax = num(next(), a); break;
      case '--deliveries-max': o.deliveriesMax = num(next(), a); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: die(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.port === null) die(`--port is required\n${USAGE}`);
  if (o.rateLimits !== 'okta' && o.rateLimits !== 'unlimited') die(`--rate-limits: okta or unlimited, not ${o.rateLimits}`);
  if (!(o.rateWindow > 0)) die('--rate-window must be > 0');
  if (o.maxConcurrent === null) o.maxConcurrent = o.rateLimits === 'okta' ? OKTA_CONCURRENCY : 0;
  return o;
}

function die(msg) {
  process.stderr.write(`okta-standin: ${msg}\n`);
  process.exit(2);
}

// Okta's management rate-limit buckets as this stand-in models them, with the
// per-minute sizes of the Enterprise column of developer.okta.com/docs/reference/
// rl-global-mgmt (and rl-global-enduser for the token endpoint). The request to
// bucket mapping is bucketOf(). Each bucket has its own fixed window aligned to
// epoch multiples of the window length.
const OKTA_BUCKETS = {
  'users-id-get': 1000, // GET /api/v1/users/{idOrLogin}
  'users-id-write': 600, // POST, PUT, DELETE /api/v1/users/{id}
  users: 600, // GET or POST /api/v1/users
  groups: 600, // /api/v1/groups and /api/v1/groups/{id}/...
  'groups-id': 600, // /api/v1/groups/{id}
  api: 600, // most other /api/v1 actions
  'oauth2-token': 1200, // /oauth2/v1 of the org authorization server (authentication table)
};
const UNLIMITED = 10000000;
// Concurrent requests per org for all traffic but agents and Office 365
// (Enterprise, rl-additional-limits).
const OKTA_CONCURRENCY = 75;

const OPT = parseArgs(process.argv);
for (const name of Object.keys(OPT.bucketLimits)) {
  if (!(name in OKTA_BUCKETS)) die(`--bucket-limit: unknown bucket ${name} (${Object.keys(OKTA_BUCKETS).join(', ')})`);
}

// ---------------------------------------------------------------- constants

const MAX_BODY = 1024 * 1024;
const USER_TYPE_ID = 'oty8defaultTypeId4x7';
const ADMIN_ACTOR = {
  id: '00u1adminAAAAAAAAAA7', type: 'User', alternateId: 'it.admin@example.com',
  displayName: 'IT Admin', detailEntry: null,
};
const BROWSER_CLIENT = {
  userAgent: {
    rawUserAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    os: 'Mac OS X', browser: 'CHROME',
  },
  zone: 'null', device: 'Computer', id: null, ipAddress: '198.51.100.23',
  geographicalContext: {
    city: 'Portland', state: 'Oregon', country: 'United States', postalCode: '97201',
    geolocation: { lat: 45.5, lon: -122.7 },
  },
};
// Event types groupsync handles (PROTOCOL.md): the static hook's default subscription.
const GROUPSYNC_EVENTS = [
  'group.user_membership.add', 'group.user_membership.remove', 'user.account.update_profile',
  'user.lifecycle.deactivate', 'user.lifecycle.activate', 'user.lifecycle.reactivate',
  'user.lifecycle.suspend', 'user.lifecycle.unsuspend', 'user.lifecycle.delete.initiated',
];
// Not eligible for event hooks (PROTOCOL.md).
const HOOK_INELIGIBLE = new Set(['user.lifecycle.delete.completed']);
const EVENT_META = {
  'user.account.update_profile': ['Update user profile for Okta', 'core.user.config.profile_update.success'],
  'group.user_membership.add': ['Add user to group membership', 'core.user_group_member.user_add'],
  'group.user_membership.remove': ['Remove user from group membership', 'core.user_group_member.user_remove'],
  'user.lifecycle.create': ['Create Okta user', 'core.user.config.user_creation.success'],
  'user.lifecycle.activate': ['Activate Okta user', 'core.user.config.user_activated'],
  'user.lifecycle.reactivate': ['Reactivate Okta user', 'core.user.config.user_reactivated'],
  'user.lifecycle.deactivate': ['Deactivate Okta user', 'core.user.config.user_deactivated'],
  'user.lifecycle.suspend': ['Suspend Okta user', 'core.user.config.user_suspended'],
  'user.lifecycle.unsuspend': ['Unsuspend Okta user', 'core.user.config.user_unsuspended'],
  'user.lifecycle.delete.initiated': ['Delete Okta user', 'core.user.config.user_deletion_initiated'],
  'user.lifecycle.delete.completed': ['Delete Okta user completed', 'core.user.config.user_deleted'],
  'group.lifecycle.create': ['Create Okta group', 'core.user_group.created'],
};
const USER_STATUSES = new Set(['STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY', 'PASSWORD_EXPIRED',
  'LOCKED_OUT', 'SUSPENDED', 'DEPROVISIONED']);
const BASE_ATTRS = ['login', 'firstName', 'lastName', 'middleName', 'honorificPrefix', 'honorificSuffix',
  'email', 'title', 'displayName', 'nickName', 'profileUrl', 'secondEmail', 'mobilePhone',
  'primaryPhone', 'streetAddress', 'city', 'state', 'zipCode', 'countryCode', 'postalAddress',
  'preferredLanguage', 'locale', 'timezone', 'userType', 'employeeNumber', 'costCenter',
  'organization', 'division', 'department', 'managerId', 'manager'];
const BASE_SET = new Set(BASE_ATTRS);
const REQUIRED_ATTRS = ['login', 'firstName', 'lastName', 'email'];
const ALL_SCOPES = ['okta.users.read', 'okta.users.manage', 'okta.groups.read', 'okta.groups.manage',
  'okta.schemas.read', 'okta.schemas.manage', 'okta.eventHooks.read', 'okta.eventHooks.manage',
  'okta.logs.read', 'okta.apps.read', 'okta.identitySources.read', 'okta.identitySources.manage'];
const JWS_ALGS = {
  RS256: ['sha256', 'rsa'], RS384: ['sha384', 'rsa'], RS512: ['sha512', 'rsa'],
  ES256: ['sha256', 'ec', 'prime256v1'], ES384: ['sha384', 'ec', 'secp384r1'],
  ES512: ['sha512', 'ec', 'secp521r1'],
};
const DPOP_ALGS_HDR = 'RS256 RS384 RS512 ES256 ES384 ES512';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

// ---------------------------------------------------------------- helpers

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function rid(n) {
  const b = crypto.randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[b[i] % 62];
  return s;
}
function oktaId(prefix) { return prefix + rid(20 - prefix.length); }
function nowIso() { return new Date().toISOString(); }
function nowS() { return Math.floor(Date.now() / 1000); }
function b64u(buf) { return Buffer.from(buf).toString('base64url'); }
function sha256b64u(s) { return crypto.createHash('sha256').update(s).digest('base64url'); }
function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
function sameValue(a, b) {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
function upperBound(sorted, key) { // first index with sorted[i] > key
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= key) lo = mid + 1; else hi = mid;
  }
  return lo;
}
function isLoopbackHost(h) {
  return h === 'localhost' || h === '[::1]' || h === '::1' || /^127\./.test(h);
}
function log(msg) { process.stderr.write(`okta-standin: ${msg}\n`); }

function oktaError(code, summary, causes) {
  return {
    errorCode: code, errorSummary: summary, errorLink: code,
    errorId: 'oae' + rid(20), errorCauses: (causes || []).map((c) => (typeof c === 'string' ? { errorSummary: c } : c)),
  };
}
const ERR = {
  invalidToken: () => oktaError('E0000011', 'Invalid token provided'),
  notFound: (id, kind) => oktaError('E0000007', `Not found: Resource not found: ${id} (${kind})`),
  rate: () => oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'),
  badJson: () => oktaError('E0000003', 'The request body was not well-formed.'),
  method: () => oktaError('E0000022', 'The endpoint does not support the provided HTTP method'),
  forbidden: () => oktaError('E0000006', 'You do not have permission to perform the requested action'),
  validation: (what, causes) => oktaError('E0000001', `Api validation failed: ${what}`, causes),
  internal: () => oktaError('E0000009', 'Internal Server Error'),
};
function errorForStatus(status) {
  switch (status) {
    case 400: return ERR.validation('request');
    case 401: return ERR.invalidToken();
    case 403: return ERR.forbidden();
    case 404: return oktaError('E0000007', 'Not found: Resource not found');
    case 405: return ERR.method();
    case 429: return ERR.rate();
    default: return status >= 500 ? ERR.internal() : oktaError('E0000001', `HTTP ${status}`);
  }
}

// ---------------------------------------------------------------- state

let S; // all mutable state; see resetState()
const CFG = { // settings that survive /__admin/reset (CLI config + admin config)
  noopUpdates: 'skip', // 'skip': no update_profile event when nothing changed; 'emit': emit with changedAttributes ""
  emptyLastPage: false, // add rel="next" on a full last page (the next page is empty)
  dpopApiErrorStatus: OPT.dpopApiErrorStatus,
  dpopApiNonce: false, // require a nonce in DPoP proofs on /api/v1 too
  maxConcurrent: OPT.maxConcurrent,
  schemaStrict: true,
};

function defaultHookSettings() {
  return {
    enabled: true, batch_ms: OPT.hookBatchMs, max_events: 100, timeout_ms: OPT.hookTimeoutMs,
    retry: true, retry_delay_ms: 50, drop_next: 0, duplicate: false, target_order: 'user_first',
    keep_bodies: true,
  };
}

function resetState() {
  if (S && S.sinks) for (const sink of S.sinks.values()) sink.close();
  S = {
    users: new Map(), logins: new Map(), userGroups: new Map(), sortedUserIds: null,
    groups: new Map(), sortedGroupIds: null,
    schemaCustom: new Map(), schemaCreated: nowIso(), schemaUpdated: nowIso(),
    eventHooks: new Map(),
    clients: new Map(), apiTokens: new Set(OPT.apiTokens), accessTokens: new Map(),
    assertionJtis: new Map(),
    dpopNonce: rid(32), dpopJtis: [new Set(), new Set()], dpopJtiRotated: Date.now(), dpopKeys: new Map(),
    staticHook: null, hookSettings: defaultHookSettings(), sinks: new Map(),
    calls: [], callSeq: 0, callsDropped: 0,
    deliveries: [], deliverySeq: 0, deliveriesDropped: 0, pendingDeliveries: 0,
    events: [], eventsDropped: 0,
    rl: newRateState(),
    failRules: [], delayMs: 0,
    inflight: 0, peakInflight: 0, concurrencyRejected: 0,
    counters: { requests: 0, api: 0, errors429: 0 },
  };
  if (!OPT.bareSchema) {
    S.schemaCustom.set('customId', customPropDef({ title: 'Remote ID', type: 'string' }));
  }
  for (const spec of OPT.clients) {
    const parts = spec.split(':');
    let dpop = false;
    if (parts.length > 2 && parts[parts.length - 1] === 'dpop') { dpop = true; parts.pop(); }
    if (parts.length < 2) die(`--client ${spec}: expected ID:PEM_FILE[:dpop]`);
    const id = parts.shift();
    const pem = fs.readFileSync(parts.join(':'), 'utf8');
    addClient({ client_id: id, public_key_pem: pem, dpop });
  }
  if (OPT.hookUrl) {
    configureStaticHook({
      url: OPT.hookUrl, secret: OPT.hookSecret, header: OPT.hookHeader,
      headers: OPT.hookCustomHeaders.map((h) => {
        const i = h.indexOf(':');
        if (i < 1) die(`--hook-custom-header ${h}: expected 'Name: value'`);
        return { key: h.slice(0, i).trim(), value: h.slice(i + 1).trim() };
      }),
      events: OPT.hookEvents,
    });
  }
}

let DEFAULT_BASE = null; // set once listening
function baseOf(req) {
  if (OPT.publicUrl) return OPT.publicUrl;
  const h = req && req.headers.host;
  return h ? 'http://' + h : DEFAULT_BASE;
}

// ---------------------------------------------------------------- schema

function customPropDef(def) {
  const out = {
    title: def.title, description: def.description, type: def.type,
    mutability: def.mutability || 'READ_WRITE', scope: def.scope || 'NONE',
    permissions: def.permissions || [{ principal: 'SELF', action: 'READ_WRITE' }],
    master: def.master || { type: 'PROFILE_MASTER' },
  };
  for (const k of ['minLength', 'maxLength', 'enum', 'oneOf', 'pattern', 'unique', 'externalName',
    'externalNamespace', 'items', 'required']) {
    if (def[k] !== undefined) out[k] = def[k];
  }
  if (out.description === undefined) delete out.description;
  return out;
}

function baseSchemaProps() {
  const props = {};
  for (const a of BASE_ATTRS) {
    const p = { title: a.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase()), type: 'string',
      mutability: 'READ_WRITE', scope: 'NONE', permissions: [{ principal: 'SELF', action: 'READ_WRITE' }],
      master: { type: 'PROFILE_MASTER' } };
    if (REQUIRED_ATTRS.includes(a)) p.required = true;
    if (a === 'login') { p.pattern = '.+'; p.minLength = 5; p.maxLength = 100; p.unique = 'UNIQUE_VALIDATED'; }
    props[a] = p;
  }
  return props;
}

function schemaJson(base) {
  const custom = {};
  for (const [k, v] of S.schemaCustom) custom[k] = v;
  return {
    id: base + '/meta/schemas/user/default',
    $schema: 'http://json-schema.org/draft-04/schema#',
    name: 'user', title: 'User',
    description: 'Okta user profile template with default permission settings',
    lastUpdated: S.schemaUpdated, created: S.schemaCreated,
    definitions: {
      custom: { id: '#custom', type: 'object', properties: custom, required: [] },
      base: { id: '#base', type: 'object', properties: baseSchemaProps(), required: REQUIRED_ATTRS.slice() },
    },
    type: 'object',
    properties: { profile: { allOf: [{ $ref: '#/definitions/custom' }, { $ref: '#/definitions/base' }] } },
    _links: {
      self: { rel: 'self', href: base + '/api/v1/meta/schemas/user/default', method: 'GET' },
      type: { rel: 'type', href: base + '/api/v1/meta/types/user/' + USER_TYPE_ID, method: 'GET' },
    },
  };
}

function attrDef(name) {
  if (BASE_SET.has(name)) return { type: 'string' };
  return S.schemaCustom.get(name) || null;
}

function typeOk(def, v) {
  if (v === null) return true;
  switch (def.type) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'number': return typeof v === 'number';
    case 'integer': return Number.isInteger(v);
    case 'array': return Array.isArray(v);
    default: return true;
  }
}

// Validates a profile write. patch: attributes sent; result: the profile after the write.
function profileErrors(patch, result, selfId) {
  const causes = [];
  for (const k of Object.keys(patch)) {
    const def = attrDef(k);
    if (!def) { causes.push(`Property name '${k}' is not defined in profile`); continue; }
    if (!typeOk(def, patch[k])) causes.push(`${k}: Provided value for property '${k}' does not match required pattern`);
  }
  for (const k of REQUIRED_ATTRS) {
    const v = result[k];
    if (v === undefined || v === null || v === '') causes.push(`${k}: The field cannot be left blank`);
  }
  if (typeof result.login === 'string') {
    const other = S.logins.get(result.login.toLowerCase());
    if (other && other !== selfId) causes.push('login: An object with this field already exists in the current organization');
  }
  return causes;
}

// ---------------------------------------------------------------- users and groups

function newUser(spec) {
  const t = nowIso();
  const status = spec.status || 'ACTIVE';
  const profile = Object.assign({}, spec.profile || {});
  for (const k of ['mobilePhone', 'secondEmail']) if (!(k in profile)) profile[k] = null;
  for (const k of S.schemaCustom.keys()) if (!(k in profile)) profile[k] = null;
  const u = {
    id: spec.id || oktaId('00u'), status,
    created: spec.created || t,
    activated: spec.activated !== undefined ? spec.activated : (status === 'STAGED' ? null : t),
    statusChanged: spec.statusChanged !== undefined ? spec.statusChanged : (status === 'STAGED' ? null : t),
    lastLogin: spec.lastLogin !== undefined ? spec.lastLogin : null,
    lastUpdated: spec.lastUpdated || t,
    passwordChanged: spec.passwordChanged !== undefined ? spec.passwordChanged : (status === 'ACTIVE' ? t : null),
    type: { id: USER_TYPE_ID },
    profile,
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    version: 0, etag: null, _json: null, _jsonBase: null,
  };
  bumpEtag(u);
  return u;
}

function bumpEtag(u) {
  u.version++;
  u.etag = 'W/"' + crypto.createHash('sha1').update(u.id + ':' + u.version + ':' + u.lastUpdated)
    .digest('hex').slice(0, 20) + '"';
  u._json = null;
}
function touch(u) { u.lastUpdated = nowIso(); bumpEtag(u); }

function userJson(u, base) {
  if (u._json !== null && u._jsonBase === base) return u._json;
  u._json = JSON.stringify({
    id: u.id, status: u.status, created: u.created, activated: u.activated,
    statusChanged: u.statusChanged, lastLogin: u.lastLogin, lastUpdated: u.lastUpdated,
    passwordChanged: u.passwordChanged, type: u.type, profile: u.profile, credentials: u.credentials,
    _links: { self: { href: base + '/api/v1/users/' + u.id } },
  });
  u._jsonBase = base;
  return u._json;
}

function findUser(idOrLogin) {
  let u = S.users.get(idOrLogin);
  if (!u) {
    const id = S.logins.get(String(idOrLogin).toLowerCase());
    if (id) u = S.users.get(id);
  }
  return u || null;
}

function insertUser(u) {
  if (S.users.has(u.id)) throw new AdminError(409, `user ${u.id} exists`);
  if (typeof u.profile.login === 'string') {
    const l = u.profile.login.toLowerCase();
    if (S.logins.has(l)) throw new AdminError(409, `login ${u.profile.login} exists`);
    S.logins.set(l, u.id);
  }
  S.users.set(u.id, u);
  S.sortedUserIds = null;
}

function displayName(u) {
  const p = u.profile;
  return [p.firstName, p.lastName].filter((x) => x).join(' ') || p.login || u.id;
}
function userTarget(u) {
  return { id: u.id, type: 'User', alternateId: u.profile.login || 'unknown', displayName: displayName(u), detailEntry: null };
}
function groupTarget(g) {
  return { id: g.id, type: 'UserGroup', alternateId: 'unknown', displayName: g.profile.name, detailEntry: null };
}

// Applies a profile change; returns the sorted list of attributes whose value changed.
function applyProfile(u, patch, replace) {
  const old = u.profile;
  let next;
  if (replace) {
    next = {};
    for (const k of Object.keys(patch)) next[k] = patch[k];
  } else {
    next = Object.assign({}, old);
    for (const k of Object.keys(patch)) next[k] = patch[k];
  }
  const changed = [];
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  for (const k of keys) if (!sameValue(old[k], next[k])) changed.push(k);
  changed.sort();
  if (old.login !== next.login) {
    if (typeof old.login === 'string') S.logins.delete(old.login.toLowerCase());
    if (typeof next.login === 'string') S.logins.set(next.login.toLowerCase(), u.id);
  }
  u.profile = next;
  touch(u);
  return changed;
}

function newGroup(spec) {
  const t = nowIso();
  if (typeof spec.name !== 'string' && !(isObj(spec.profile) && typeof spec.profile.name === 'string')) {
    throw new AdminError(400, 'group needs a name');
  }
  const name = spec.name !== undefined ? spec.name : spec.profile.name;
  const description = spec.description !== undefined ? spec.description
    : (isObj(spec.profile) && spec.profile.description !== undefined ? spec.profile.description : null);
  return {
    id: spec.id || oktaId('00g'), created: spec.created || t, lastUpdated: spec.lastUpdated || t,
    lastMembershipUpdated: spec.lastMembershipUpdated || t,
    profile: { name, description }, members: new Set(), sorted: null,
  };
}

function groupObj(g, base) {
  return {
    id: g.id, created: g.created, lastUpdated: g.lastUpdated, lastMembershipUpdated: g.lastMembershipUpdated,
    objectClass: ['okta:user_group'], type: 'OKTA_GROUP', profile: g.profile,
    _links: {
      logo: [
        { name: 'medium', href: base + '/img/logos/groups/okta-medium.png', type: 'image/png' },
        { name: 'large', href: base + '/img/logos/groups/okta-large.png', type: 'image/png' },
      ],
      users: { href: base + '/api/v1/groups/' + g.id + '/users' },
      apps: { href: base + '/api/v1/groups/' + g.id + '/apps' },
    },
  };
}

function sortedMembers(g) {
  if (!g.sorted) g.sorted = Array.from(g.members).sort();
  return g.sorted;
}

function addMember(g, u, who, emitIt) {
  if (g.members.has(u.id)) return false;
  g.members.add(u.id);
  g.sorted = null;
  let set = S.userGroups.get(u.id);
  if (!set) { set = new Set(); S.userGroups.set(u.id, set); }
  set.add(g.id);
  g.lastMembershipUpdated = nowIso();
  if (emitIt) emitMembership('group.user_membership.add', u, g, who);
  return true;
}

function removeMember(g, u, who, emitIt) {
  if (!g.members.has(u.id)) return false;
  g.members.delete(u.id);
  g.sorted = null;
  const set = S.userGroups.get(u.id);
  if (set) { set.delete(g.id); if (!set.size) S.userGroups.delete(u.id); }
  g.lastMembershipUpdated = nowIso();
  if (emitIt) emitMembership('group.user_membership.remove', u, g, who);
  return true;
}

class AdminError extends Error {
  constructor(status, msg, okta) { super(msg); this.status = status; this.okta = okta; }
}

// Lifecycle transitions. Returns the list of events emitted (types). Throws AdminError with an Okta body.
function lifecycle(u, action, who, emitIt) {
  const t = nowIso();
  const bad = (why) => { throw new AdminError(400, why, ERR.validation(action, [why])); };
  const set = (status) => { u.status = status; u.statusChanged = t; touch(u); };
  const emitted = [];
  const ev = (type) => { emitted.push(type); if (emitIt) emitUserEvent(type, u, who); };
  switch (action) {
    case 'activate':
      if (u.status === 'ACTIVE') throw new AdminError(403, 'already active',
        oktaError('E0000016', 'Activation failed because the user is already active'));
      set('ACTIVE'); u.activated = t; u._json = null; ev('user.lifecycle.activate'); break;
    case 'reactivate':
      if (u.status !== 'PROVISIONED') bad('This operation is not allowed in the user\'s current status.');
      set('PROVISIONED'); ev('user.lifecycle.reactivate'); break;
    case 'deactivate':
      if (u.status === 'DEPROVISIONED') bad('The user is already deactivated.');
      set('DEPROVISIONED'); ev('user.lifecycle.deactivate'); break;
    case 'suspend':
      if (u.status !== 'ACTIVE') bad('Cannot suspend a user that is not active');
      set('SUSPENDED'); ev('user.lifecycle.suspend'); break;
    case 'unsuspend':
      if (u.status !== 'SUSPENDED') bad('Cannot unsuspend a user that is not suspended');
      set('ACTIVE'); ev('user.lifecycle.unsuspend'); break;
    case 'delete':
      if (u.status !== 'DEPROVISIONED') { set('DEPROVISIONED'); ev('user.lifecycle.deactivate'); }
      ev('user.lifecycle.delete.initiated');
      deleteUser(u);
      if (emitIt) emitUserEvent('user.lifecycle.delete.completed', u, who);
      break;
    default:
      throw new AdminError(404, `unknown lifecycle action ${action}`, ERR.notFound(action, 'Operation'));
  }
  return emitted;
}

function deleteUser(u) {
  const gs = S.userGroups.get(u.id);
  if (gs) {
    for (const gid of gs) { const g = S.groups.get(gid); if (g) { g.members.delete(u.id); g.sorted = null; } }
    S.userGroups.delete(u.id);
  }
  if (typeof u.profile.login === 'string') S.logins.delete(u.profile.login.toLowerCase());
  S.users.delete(u.id);
  S.sortedUserIds = null;
}

// ---------------------------------------------------------------- events

// who: {kind:'admin'} or {kind:'api', req, principal, requestId}
function eventContext(who) {
  if (!who || who.kind !== 'api') {
    const tx = rid(26);
    return { actor: ADMIN_ACTOR, client: BROWSER_CLIENT, tx, requestUri: null };
  }
  const req = who.req;
  const p = who.principal || {};
  const actor = p.clientId
    ? { id: p.clientId, type: 'PublicClientApp', alternateId: p.clientId, displayName: p.clientName || p.clientId, detailEntry: null }
    : ADMIN_ACTOR;
  const client = {
    userAgent: { rawUserAgent: req.headers['user-agent'] || null, os: 'Unknown', browser: 'UNKNOWN' },
    zone: 'null', device: 'Unknown', id: p.clientId || null,
    ipAddress: req.socket.remoteAddress || null, geographicalContext: null,
  };
  return { actor, client, tx: who.requestId, requestUri: who.path, url: who.path + '?' + (who.query || '') };
}

function buildEvent(type, targets, who, extraDebug) {
  const c = eventContext(who);
  const meta = EVENT_META[type] || [type, null];
  const debugData = {
    requestId: c.tx,
    requestUri: c.requestUri || (targets && targets[0] ? '/api/v1/users/' + targets[0].id : ''),
    url: c.url || ((c.requestUri || (targets && targets[0] ? '/api/v1/users/' + targets[0].id : '')) + '?'),
  };
  if (extraDebug) Object.assign(debugData, extraDebug);
  return {
    uuid: crypto.randomUUID(), published: nowIso(), eventType: type, version: '0',
    displayMessage: meta[0], severity: 'INFO', client: c.client, device: null, actor: c.actor,
    outcome: { result: 'SUCCESS', reason: null }, target: targets,
    transaction: { type: 'WEB', id: c.tx, detail: {} },
    debugContext: { debugData },
    legacyEventType: meta[1],
    authenticationContext: {
      authenticationProvider: null, credentialProvider: null, credentialType: null, issuer: null,
      interface: null, authenticationStep: 0, externalSessionId: who && who.kind === 'api' ? 'trs' + rid(22) : '102' + rid(22),
    },
    securityContext: { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
    insertionTimestamp: null,
  };
}

function emitUserEvent(type, u, who, extraDebug) {
  publish(buildEvent(type, [userTarget(u)], who, extraDebug));
}

function emitMembership(type, u, g, who) {
  let targets = [userTarget(u), groupTarget(g)];
  const order = S.hookSettings.target_order;
  if (order === 'group_first' || (order === 'random' && Math.random() < 0.5)) targets = [targets[1], targets[0]];
  const ev = buildEvent(type, targets, who);
  if (!who || who.kind !== 'api') {
    ev.debugContext.debugData.requestUri = `/api/v1/groups/${g.id}/users/${u.id}`;
    ev.debugContext.debugData.url = `/api/v1/groups/${g.id}/users/${u.id}?`;
  }
  publish(ev);
}

function emitProfileUpdate(u, changed, who) {
  if (!changed.length && CFG.noopUpdates !== 'emit') return;
  emitUserEvent('user.account.update_profile', u, who, { changedAttributes: changed.join(',') });
}

function publish(ev) {
  S.events.push(ev);
  if (S.events.length > OPT.deliveriesMax * 2) {
    const n = S.events.length - OPT.deliveriesMax * 2;
    S.events.splice(0, n);
    S.eventsDropped += n;
  }
  if (HOOK_INELIGIBLE.has(ev.eventType)) return;
  if (S.staticHook && S.staticHook.subscribed(ev.eventType)) sinkFor(S.staticHook).push(ev);
  for (const h of S.eventHooks.values()) {
    if (h.status === 'ACTIVE' && h.verificationStatus === 'VERIFIED' && h.events.items.includes(ev.eventType)) {
      sinkFor(hookTarget(h)).push(ev);
    }
  }
}

// ---------------------------------------------------------------- hook delivery

function configureStaticHook(c) {
  const prev = S.staticHook || {};
  const url = c.url !== undefined ? c.url : prev.url;
  if (!url) { S.staticHook = null; return; }
  new URL(url); // throws on a bad URL
  let events = c.events !== undefined ? c.events : (prev.eventsSpec !== undefined ? prev.eventsSpec : null);
  let set = null;
  if (events === null || events === undefined) set = new Set(GROUPSYNC_EVENTS);
  else if (events === 'all' || (Array.isArray(events) && events.includes('all'))) set = null;
  else set = new Set(Array.isArray(events) ? events : String(events).split(',').map((s) => s.trim()).filter(Boolean));
  const h = {
    id: prev.id || oktaId('who'),
    url,
    header: c.header !== undefined ? c.header : (prev.header || 'Authorization'),
    secret: c.secret !== undefined ? c.secret : (prev.secret !== undefined ? prev.secret : null),
    headers: c.headers !== undefined ? c.headers : (prev.headers || []),
    eventsSpec: events,
    all: set === null,
    set,
  };
  h.subscribed = (t) => h.all || h.set.has(t);
  if (S.sinks.has('static')) { S.sinks.get('static').close(); S.sinks.delete('static'); }
  S.staticHook = h;
}

function staticHookTarget() {
  const h = S.staticHook;
  return { key: 'static', id: h.id, url: h.url, authKey: h.header, authValue: h.secret, headers: h.headers };
}
function hookTarget(h) {
  const cfg = h.channel.config;
  const a = cfg.authScheme || null;
  return { key: h.id + ':' + h.version, id: h.id, url: cfg.uri, authKey: a ? a.key : null,
    authValue: a ? a.value : null, headers: cfg.headers || [] };
}

function sinkFor(t) {
  if (t === S.staticHook) t = staticHookTarget();
  let sink = S.sinks.get(t.key);
  if (!sink) { sink = new Sink(t); S.sinks.set(t.key, sink); }
  return sink;
}

function outboundHeaders(t, extra) {
  const hdr = Object.assign({}, extra);
  if (t.authKey && t.authValue !== null && t.authValue !== undefined) hdr[t.authKey] = t.authValue;
  for (const h of t.headers || []) if (h && h.key) hdr[h.key] = h.value;
  return hdr;
}

function makeAgent(u) {
  const opts = { keepAlive: true, maxSockets: OPT.hookMaxSockets, keepAliveMsecs: 1000 };
  if (u.protocol === 'https:') {
    if (OPT.hookInsecure) opts.rejectUnauthorized = false;
    if (OPT.hookCa) opts.ca = fs.readFileSync(OPT.hookCa);
    return new https.Agent(opts);
  }
  return new http.Agent(opts);
}

class Sink {
  constructor(t) {
    this.t = t;
    this.u = new URL(t.url);
    this.agent = makeAgent(this.u);
    this.buf = [];
    this.timer = null;
  }
  close() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.buf.length) this.flush();
    this.agent.destroy();
  }
  push(ev) {
    const hs = S.hookSettings;
    if (hs.batch_ms > 0) {
      this.buf.push(ev);
      if (this.buf.length >= hs.max_events) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), hs.batch_ms);
    } else {
      this.deliver([ev]);
    }
  }
  flush() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.buf.length) return;
    const evs = this.buf;
    this.buf = [];
    const max = S.hookSettings.max_events;
    for (let i = 0; i < evs.length; i += max) this.deliver(evs.slice(i, i + max));
  }
  deliver(events, opts) {
    opts = opts || {};
    const eventId = opts.eventId || crypto.randomUUID();
    const body = opts.body || JSON.stringify({
      eventType: 'com.okta.event_hook', eventTypeVersion: '1.0', cloudEventsVersion: '0.1',
      source: (OPT.publicUrl || DEFAULT_BASE) + '/api/v1/eventHooks/' + this.t.id,
      eventId, data: { events }, eventTime: nowIso(), contentType: 'application/json',
    });
    const hs = S.hookSettings;
    const rec = {
      seq: ++S.deliverySeq, hook_id: this.t.id, url: this.t.url, eventId, time: Date.now(),
      events: events ? events.map(summarizeEvent) : null, attempts: [], result: 'pending',
      duplicate_of: opts.duplicateOf || null,
    };
    if (hs.keep_bodies) rec.body = body;
    S.deliveries.push(rec);
    if (S.deliveries.length > OPT.deliveriesMax) {
      const n = S.deliveries.length - OPT.deliveriesMax;
      S.deliveries.splice(0, n);
      S.deliveriesDropped += n;
    }
    if (!hs.enabled) { rec.result = 'not_sent'; return rec; }
    if (hs.drop_next > 0 && !opts.force) { hs.drop_next--; rec.result = 'dropped'; return rec; }
    S.pendingDeliveries++;
    this.attempt(rec, body, 1);
    if (hs.duplicate && !opts.duplicateOf && !opts.force) {
      this.deliver(events, { eventId, body, duplicateOf: rec.seq });
    }
    return rec;
  }
  attempt(rec, body, n) {
    const hs = S.hookSettings;
    const t0 = Date.now();
    let done = false;
    const u = this.u;
    const mod = u.protocol === 'https:' ? https : http;
    const headers = outboundHeaders(this.t, {
      'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Accept: 'application/json',
    });
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      r.ms = Date.now() - t0;
      r.at = t0;
      rec.attempts.push(r);
      const retryable = r.error !== undefined || r.status >= 500;
      if (retryable && n === 1 && hs.retry) {
        setTimeout(() => this.attempt(rec, body, 2), hs.retry_delay_ms);
        return;
      }
      rec.result = (r.status === 200 || r.status === 204) ? 'delivered' : 'failed';
      S.pendingDeliveries--;
    };
    let req;
    const timer = setTimeout(() => { finish({ error: 'timeout' }); if (req) req.destroy(); }, hs.timeout_ms);
    try {
      req = mod.request({
        protocol: u.protocol, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || undefined,
        path: u.pathname + u.search, method: 'POST', headers, agent: this.agent,
      });
    } catch (e) {
      finish({ error: e.code || e.message });
      return;
    }
    req.on('response', (res) => {
      res.on('data', () => {});
      res.on('end', () => finish({ status: res.statusCode }));
      res.on('error', (e) => finish({ error: e.code || e.message }));
    });
    req.on('error', (e) => finish({ error: e.code || e.message }));
    req.end(body);
  }
}

function summarizeEvent(e) {
  const out = { uuid: e && e.uuid, eventType: e && e.eventType };
  if (e && Array.isArray(e.target)) {
    for (const t of e.target) {
      if (t && t.type === 'User') out.user_id = t.id;
      if (t && t.type === 'UserGroup') out.group_id = t.id;
    }
  }
  const dd = e && e.debugContext && e.debugContext.debugData;
  if (dd && dd.changedAttributes !== undefined) out.changedAttributes = dd.changedAttributes;
  return out;
}

function flushAllSinks() { for (const s of S.sinks.values()) s.flush(); }
function bufferedEvents() { let n = 0; for (const s of S.sinks.values()) n += s.buf.length; return n; }

// One-time verification (POST /api/v1/eventHooks/{id}/lifecycle/verify).
function verifyHookRequest(t, cb) {
  let u;
  try { u = new URL(t.url); } catch (e) { cb(false, 'invalid uri'); return; }
  const challenge = rid(40);
  const mod = u.protocol === 'https:' ? https : http;
  const opts = {
    protocol: u.protocol, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || undefined,
    path: u.pathname + u.search, method: 'GET',
    headers: outboundHeaders(t, { 'X-Okta-Verification-Challenge': challenge, Accept: 'application/json' }),
  };
  if (u.protocol === 'https:') {
    if (OPT.hookInsecure) opts.rejectUnauthorized = false;
    if (OPT.hookCa) opts.ca = fs.readFileSync(OPT.hookCa);
  }
  let done = false;
  const end = (ok, why) => { if (!done) { done = true; clearTimeout(timer); cb(ok, why); } };
  const req = mod.request(opts, (res) => {
    const chunks = [];
    let size = 0;
    res.on('data', (c) => { size += c.length; if (size <= 65536) chunks.push(c); });
    res.on('end', () => {
      if (res.statusCode !== 200) return end(false, `status ${res.statusCode}`);
      try {
        const j = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (isObj(j) && j.verification === challenge) return end(true);
        return end(false, 'verification value mismatch');
      } catch (e) { return end(false, 'answer is not JSON'); }
    });
  });
  const timer = setTimeout(() => { req.destroy(); end(false, 'timeout'); }, S.hookSettings.timeout_ms);
  req.on('error', (e) => end(false, e.code || e.message));
  req.end();
}

// ---------------------------------------------------------------- JWT / OAuth / DPoP

function parseJwt(tok) {
  if (typeof tok !== 'string') return null;
  const p = tok.split('.');
  if (p.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(p[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(p[1], 'base64url').toString('utf8'));
    if (!isObj(header) || !isObj(payload)) return null;
    return { header, payload, input: p[0] + '.' + p[1], sig: Buffer.from(p[2], 'base64url') };
  } catch (e) { return null; }
}

function verifyJws(jwt, key) {
  const alg = JWS_ALGS[jwt.header.alg];
  if (!alg || !key) return false;
  if (key.asymmetricKeyType !== alg[1]) return false;
  if (alg[1] === 'ec' && key.asymmetricKeyDetails && key.asymmetricKeyDetails.namedCurve !== alg[2]) return false;
  try {
    return crypto.verify(alg[0], Buffer.from(jwt.input),
      alg[1] === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key, jwt.sig);
  } catch (e) { return false; }
}

function jwkThumbprint(jwk) {
  let canon;
  if (jwk.kty === 'EC') canon = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  else if (jwk.kty === 'RSA') canon = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  else if (jwk.kty === 'OKP') canon = JSON.stringify({ crv: jwk.crv, kty: 'OKP', x: jwk.x });
  else return null;
  return sha256b64u(canon);
}

function addClient(c) {
  if (!c || typeof c.client_id !== 'string' || !c.client_id) throw new AdminError(400, 'client_id required');
  const keys = [];
  if (c.public_key_pem) {
    keys.push({ kid: c.kid || null, key: crypto.createPublicKey(c.public_key_pem) });
  }
  if (c.jwks && Array.isArray(c.jwks.keys)) {
    for (const k of c.jwks.keys) {
      const pub = Object.assign({}, k);
      delete pub.d; delete pub.p; delete pub.q; delete pub.dp; delete pub.dq; delete pub.qi;
      keys.push({ kid: k.kid || null, key: crypto.createPublicKey({ key: pub, format: 'jwk' }) });
    }
  }
  if (!keys.length) throw new AdminError(400, 'public_key_pem or jwks required');
  S.clients.set(c.client_id, {
    client_id: c.client_id, name: c.name || c.client_id, dpop: !!c.dpop, keys,
    scopes: Array.isArray(c.scopes) ? new Set(c.scopes) : new Set(ALL_SCOPES),
    public_key_pem: c.public_key_pem || null, jwks: c.jwks || null, kid: c.kid || null,
  });
}

function pruneJtis() {
  const now = Date.now();
  for (const [k, exp] of S.assertionJtis) if (exp < now) S.assertionJtis.delete(k);
  for (const [k, t] of S.accessTokens) if (t.exp < now - 3600e3) S.accessTokens.delete(k);
}

function dpopJtiSeen(jti) {
  const now = Date.now();
  if (now - S.dpopJtiRotated > OPT.dpopMaxAge * 1000) {
    S.dpopJtis = [new Set(), S.dpopJtis[0]];
    S.dpopJtiRotated = now;
  }
  return S.dpopJtis[0].has(jti) || S.dpopJtis[1].has(jti);
}
function dpopJtiRecord(jti) { S.dpopJtis[0].add(jti); }

function dpopKey(jwk) {
  const tp = jwkThumbprint(jwk);
  if (!tp) return null;
  let k = S.dpopKeys.get(tp);
  if (!k) {
    try {
      k = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    } catch (e) { return null; }
    if (S.dpopKeys.size > 10000) S.dpopKeys.clear();
    S.dpopKeys.set(tp, k);
  }
  return { tp, key: k };
}

// Validates a DPoP proof. Returns {ok, jkt, payload} or {ok:false, desc}.
function checkDpopProof(proof, method, htu, opts) {
  if (!proof) return { ok: false, desc: 'The DPoP proof JWT header is missing.' };
  if (proof.indexOf(',') >= 0) return { ok: false, desc: 'Only one DPoP proof JWT header is allowed.' };
  const jwt = parseJwt(proof);
  if (!jwt) return { ok: false, desc: 'The DPoP proof JWT is malformed.' };
  const h = jwt.header, p = jwt.payload;
  if (h.typ !== 'dpop+jwt') return { ok: false, desc: "'typ' header in the DPoP proof JWT is invalid." };
  if (!JWS_ALGS[h.alg]) return { ok: false, desc: "'alg' header in the DPoP proof JWT is invalid." };
  if (!isObj(h.jwk) || h.jwk.d !== undefined) return { ok: false, desc: "'jwk' header in the DPoP proof JWT is invalid." };
  const k = dpopKey(h.jwk);
  if (!k) return { ok: false, desc: "'jwk' header in the DPoP proof JWT is invalid." };
  if (!verifyJws(jwt, k.key)) return { ok: false, desc: 'The DPoP proof JWT signature is invalid.' };
  if (p.htm !== method) return { ok: false, desc: "'htm' claim in the DPoP proof JWT is invalid." };
  if (typeof p.htu !== 'string' || p.htu.replace(/[?#].*$/, '') !== htu) {
    return { ok: false, desc: "'htu' claim in the DPoP proof JWT is invalid." };
  }
  const now = Date.now() / 1000;
  if (typeof p.iat !== 'number' || p.iat < now - OPT.dpopMaxAge || p.iat > now + 60) {
    return { ok: false, desc: "'iat' claim in the DPoP proof JWT is invalid." };
  }
  if (typeof p.jti !== 'string' || !p.jti) return { ok: false, desc: "'jti' claim in the DPoP proof JWT is missing." };
  if (opts.ath !== undefined && p.ath !== opts.ath) return { ok: false, desc: "'ath' claim in the DPoP proof JWT is invalid." };
  if (opts.jkt !== undefined && k.tp !== opts.jkt) {
    return { ok: false, desc: 'The DPoP proof JWT key does not match the key the access token is bound to.' };
  }
  if (opts.nonce && p.nonce !== S.dpopNonce) return { ok: false, nonce: true, desc: 'Authorization server requires nonce in DPoP proof.' };
  if (dpopJtiSeen(p.jti)) return { ok: false, desc: "'jti' claim in the DPoP proof JWT has already been used." };
  return { ok: true, jkt: k.tp, payload: p };
}

function handleToken(ctx) {
  const { req } = ctx;
  const base = baseOf(req);
  const tokenUrl = base + '/oauth2/v1/token';
  const oauthErr = (status, error, desc, headers) =>
    send(ctx, status, { error, error_description: desc }, Object.assign({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }, headers));
  if (ctx.method !== 'POST') return send(ctx, 405, ERR.method());
  const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ct !== 'application/x-www-form-urlencoded') {
    return oauthErr(400, 'invalid_request', 'The request must use Content-Type: application/x-www-form-urlencoded.');
  }
  const form = new URLSearchParams(ctx.body.toString('utf8'));
  const fobj = {};
  for (const [k, v] of form) fobj[k] = v;
  ctx.record.body = fobj;
  if (form.get('grant_type') !== 'client_credentials') {
    return oauthErr(400, 'unsupported_grant_type',
      'The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].');
  }
  if (form.get('client_assertion_type') !== ASSERTION_TYPE || !form.get('client_assertion')) {
    return oauthErr(401, 'invalid_client', 'Client authentication failed. Either the client or the client credentials are invalid.');
  }
  const jwt = parseJwt(form.get('client_assertion'));
  if (!jwt) return oauthErr(401, 'invalid_client', 'The client_assertion token is malformed.');
  const p = jwt.payload;
  const client = typeof p.iss === 'string' ? S.clients.get(p.iss) : null;
  if (!client) return oauthErr(401, 'invalid_client', 'The client_id provided is invalid.');
  ctx.record.principal = client.client_id;
  if (form.get('client_id') && form.get('client_id') !== client.client_id) {
    return oauthErr(401, 'invalid_client', "The client_assertion token has an invalid 'iss' claim.");
  }
  if (p.sub !== p.iss) return oauthErr(401, 'invalid_client', "The client_assertion token has an invalid 'sub' claim.");
  if (!JWS_ALGS[jwt.header.alg]) return oauthErr(401, 'invalid_client', 'The client_assertion token has an unsupported signing algorithm.');
  let keys = client.keys;
  if (jwt.header.kid) {
    const byKid = keys.filter((k) => k.kid === jwt.header.kid);
    if (byKid.length) keys = byKid;
  }
  if (!keys.some((k) => verifyJws(jwt, k.key))) {
    return oauthErr(401, 'invalid_client', 'The client_assertion signature is invalid.');
  }
  const auds = Array.isArray(p.aud) ? p.aud : [p.aud];
  if (!auds.includes(tokenUrl)) {
    return oauthErr(401, 'invalid_client', 'The audience claim for client_assertion must be the endpoint invoked for the request.');
  }
  const now = Date.now() / 1000;
  if (typeof p.exp !== 'number' || p.exp <= now) return oauthErr(401, 'invalid_client', 'The client_assertion token is expired.');
  const iat = typeof p.iat === 'number' ? p.iat : now;
  if (p.iat !== undefined && (typeof p.iat !== 'number' || p.iat > now + 60)) {
    return oauthErr(401, 'invalid_client', "The client_assertion token has an invalid 'iat' claim.");
  }
  if (p.exp - iat > 3600) {
    return oauthErr(401, 'invalid_client', 'The client_assertion token has an expiration too far in the future.');
  }
  if (typeof p.nbf === 'number' && p.nbf > now + 60) return oauthErr(401, 'invalid_client', 'The client_assertion token is not yet valid.');
  if (typeof p.jti !== 'string' || !p.jti) return oauthErr(401, 'invalid_client', "The client_assertion token must contain a 'jti' claim.");
  const jtiKey = client.client_id + '\n' + p.jti;
  if (S.assertionJtis.has(jtiKey)) return oauthErr(401, 'invalid_client', 'The client_assertion token has already been used.');
  // Okta consumes the assertion on every request, including ones answered use_dpop_nonce.
  S.assertionJtis.set(jtiKey, p.exp * 1000);
  const scopeStr = (form.get('scope') || '').trim();
  if (!scopeStr) {
    return oauthErr(400, 'invalid_scope',
      "The authorization server resource does not have any configured default scopes, 'scope' must be provided.");
  }
  const scopes = scopeStr.split(/\s+/);
  const notAllowed = scopes.filter((s) => !client.scopes.has(s));
  if (notAllowed.length) return oauthErr(400, 'invalid_scope', `The following scopes are not allowed: [${notAllowed.join(', ')}].`);
  let jkt = null;
  const proof = req.headers.dpop;
  if (client.dpop || proof !== undefined) {
    const r = checkDpopProof(proof, 'POST', tokenUrl, { nonce: true });
    if (!r.ok) {
      if (r.nonce) return oauthErr(400, 'use_dpop_nonce', r.desc, { 'dpop-nonce': S.dpopNonce });
      return oauthErr(400, 'invalid_dpop_proof', r.desc);
    }
    dpopJtiRecord(r.payload.jti);
    jkt = r.jkt;
  }
  const token = 'eyJ' + rid(8) + '.' + b64u(crypto.randomBytes(32)) + '.' + rid(8);
  const ttl = OPT.tokenTtl;
  S.accessTokens.set(token, {
    clientId: client.client_id, clientName: client.name, scopes: new Set(scopes), scope: scopes.join(' '),
    exp: Date.now() + ttl * 1000, jkt, issued: Date.now(),
  });
  if (S.accessTokens.size % 1000 === 0) pruneJtis();
  const hdr = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  if (jkt) hdr['dpop-nonce'] = S.dpopNonce;
  return send(ctx, 200, { token_type: jkt ? 'DPoP' : 'Bearer', expires_in: ttl, access_token: token, scope: scopes.join(' ') }, hdr);
}

// Returns principal or null (after answering).
function authenticate(ctx) {
  const { req } = ctx;
  const h = req.headers.authorization;
  if (!h) { send(ctx, 401, ERR.invalidToken()); return null; }
  const sp = h.indexOf(' ');
  const scheme = sp > 0 ? h.slice(0, sp) : h;
  const cred = sp > 0 ? h.slice(sp + 1).trim() : '';
  const ls = scheme.toLowerCase();
  if (ls === 'ssws') {
    ctx.record.auth = 'SSWS';
    if (!S.apiTokens.has(cred)) { send(ctx, 401, ERR.invalidToken()); return null; }
    return { scheme: 'SSWS', scopes: null };
  }
  if (ls !== 'bearer' && ls !== 'dpop') { send(ctx, 401, ERR.invalidToken()); return null; }
  ctx.record.auth = ls === 'bearer' ? 'Bearer' : 'DPoP';
  const base = baseOf(req);
  const tok = S.accessTokens.get(cred);
  const wwwScheme = ls === 'dpop' ? 'DPoP' : 'Bearer';
  const challenge = (extra) => `${wwwScheme} ${ls === 'dpop' ? `algs="${DPOP_ALGS_HDR}", ` : ''}authorization_uri="${base}/oauth2/v1/authorize", realm="${base}", ${extra}, resource="${ctx.path}"`;
  if (!tok || tok.exp <= Date.now()) {
    send(ctx, 401, ERR.invalidToken(), { 'WWW-Authenticate': challenge('error="invalid_token", error_description="The access token is invalid."') });
    return null;
  }
  ctx.record.principal = tok.clientId;
  if (ls === 'bearer' && tok.jkt) {
    send(ctx, 401, ERR.invalidToken(), { 'WWW-Authenticate': challenge('error="invalid_token", error_description="The access token is bound to a DPoP key and must be presented with the DPoP scheme."') });
    return null;
  }
  if (ls === 'dpop') {
    if (!tok.jkt) {
      send(ctx, 401, ERR.invalidToken(), { 'WWW-Authenticate': challenge('error="invalid_token", error_description="The access token is not DPoP-bound."') });
      return null;
    }
    const r = checkDpopProof(req.headers.dpop, ctx.method, base + ctx.path,
      { ath: sha256b64u(cred), jkt: tok.jkt, nonce: CFG.dpopApiNonce });
    if (!r.ok) {
      const err = r.nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof';
      const hdr = { 'WWW-Authenticate': challenge(`error="${err}", error_description="${r.desc}"`) };
      if (r.nonce) hdr['DPoP-Nonce'] = S.dpopNonce;
      send(ctx, r.nonce ? 401 : CFG.dpopApiErrorStatus, { error: err, error_description: r.desc }, hdr);
      return null;
    }
    dpopJtiRecord(r.payload.jti);
  }
  return { scheme: wwwScheme, scopes: tok.scopes, clientId: tok.clientId, clientName: tok.clientName, challenge };
}

function requireScope(ctx, principal, anyOf) {
  if (!principal.scopes) return true;
  for (const s of anyOf) if (principal.scopes.has(s)) return true;
  send(ctx, 403, ERR.forbidden(), {
    'WWW-Authenticate': principal.challenge(`scope="${anyOf[anyOf.length - 1]}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes."`),
  });
  return false;
}

// ---------------------------------------------------------------- rate limiting

function newBucket(limit) {
  return { limit, start: -1, used: 0, peak: 0, calls: 0, answered429: 0, byClass: { '2xx': 0, '4xx': 0, '5xx': 0 } };
}

function newRateState() {
  const buckets = new Map();
  for (const [name, size] of Object.entries(OKTA_BUCKETS)) {
    const limit = OPT.bucketLimits[name] !== undefined ? OPT.bucketLimits[name]
      : (OPT.rateLimits === 'okta' ? size : UNLIMITED);
    buckets.set(name, newBucket(limit));
  }
  return { windowS: OPT.rateWindow, buckets, forcedUntil: 0, forcedBucket: null };
}

// The bucket of a request, as Okta's management table words it: the user and
// group "by ID" buckets are exactly one path segment after /users or /groups,
// and for users the method splits reads from writes.
function bucketOf(method, path) {
  if (path.startsWith('/oauth2/')) return 'oauth2-token'; // the only /oauth2 endpoint served
  const seg = path.split('/'); // ['', 'api', 'v1', resource, ...]
  let n = seg.length;
  if (n > 4 && seg[n - 1] === '') n--; // a trailing slash names the same resource
  if (seg[3] === 'users') {
    if (n === 4) return 'users';
    if (n === 5) return method === 'GET' ? 'users-id-get' : 'users-id-write';
    return 'api';
  }
  if (seg[3] === 'groups') return n === 5 ? 'groups-id' : 'groups';
  return 'api';
}

// Moves a bucket to the window that holds `now` (epoch seconds): windows are
// fixed, [k*W, (k+1)*W), and a new one starts empty.
function bucketRoll(b, now) {
  const w = S.rl.windowS;
  const start = Math.floor(now / w) * w;
  if (b.start !== start) { b.start = start; b.used = 0; }
  return Math.ceil(start + w); // X-Rate-Limit-Reset: the window's end
}

function bucketHeaders(b, remaining, reset) {
  return { 'X-Rate-Limit-Limit': String(b.limit), 'X-Rate-Limit-Remaining': String(remaining), 'X-Rate-Limit-Reset': String(reset) };
}

// Spends one request of the request's bucket, unless the bucket is spent (or
// a forced 429 is on): a rejected request costs nothing, as at Okta.
function rateTake(ctx) {
  const rl = S.rl;
  const b = rl.buckets.get(ctx.bucket);
  const now = Date.now() / 1000;
  const reset = bucketRoll(b, now);
  if (rl.forcedUntil > now && (rl.forcedBucket ? rl.forcedBucket === ctx.bucket : ctx.bucket !== 'oauth2-token')) {
    return { over: true, h: bucketHeaders(b, 0, rl.forcedUntil) };
  }
  if (b.used >= b.limit) return { over: true, h: bucketHeaders(b, 0, reset) };
  b.used++;
  if (b.used > b.peak) b.peak = b.used;
  return { over: false, h: bucketHeaders(b, b.limit - b.used, reset) };
}

// The headers of an answer given before the bucket was consulted (a body too
// large, a request without a length): the bucket's state, nothing spent.
function rateLook(ctx) {
  const b = S.rl.buckets.get(ctx.bucket);
  const reset = bucketRoll(b, Date.now() / 1000);
  return bucketHeaders(b, Math.max(0, b.limit - b.used), reset);
}

// Another integration of the same org spending `n` of a bucket's window.
function rateSpend(name, n) {
  const b = S.rl.buckets.get(name);
  bucketRoll(b, Date.now() / 1000);
  b.used += n;
  if (b.used > b.peak) b.peak = b.used;
}

function rateCount(ctx, status) {
  const b = S.rl.buckets.get(ctx.bucket);
  const cls = Math.floor(status / 100) + 'xx';
  b.byClass[cls] = (b.byClass[cls] || 0) + 1;
  if (status === 429) b.answered429++;
}

function rateJson() {
  const rl = S.rl;
  const now = Date.now() / 1000;
  const buckets = {};
  for (const [name, b] of rl.buckets) {
    const reset = bucketRoll(b, now);
    buckets[name] = { limit: b.limit, reset, used: b.used, remaining: Math.max(0, b.limit - b.used), peak: b.peak,
      calls: b.calls, answered_429: b.answered429, by_class: Object.assign({}, b.byClass) };
  }
  return {
    window_s: rl.windowS, now,
    concurrency: { limit: CFG.maxConcurrent, in_flight: S.inflight, max_in_flight: S.peakInflight, rejected: S.concurrencyRejected },
    buckets, forced_until: rl.forcedUntil, forced_bucket: rl.forcedBucket,
  };
}

// ---------------------------------------------------------------- HTTP plumbing

let reqSeq = 0;
const REQ_PREFIX = rid(8);

function send(ctx, status, body, headers) {
  if (ctx.sent) return;
  ctx.sent = true;
  const res = ctx.res;
  const str = body === undefined || body === null ? '' : (typeof body === 'string' ? body : JSON.stringify(body));
  const h = ctx.rlHeaders ? Object.assign({}, ctx.rlHeaders) : (ctx.bucket ? rateLook(ctx) : {});
  if (ctx.requestId) h['X-Okta-Request-Id'] = ctx.requestId;
  if (str.length || status !== 204) h['Content-Type'] = 'application/json';
  if (status !== 204) h['Content-Length'] = Buffer.byteLength(str);
  if (headers) Object.assign(h, headers);
  if (ctx.closeAfter) h.Connection = 'close';
  try {
    res.writeHead(status, h);
    res.end(status === 204 ? undefined : str);
  } catch (e) {
    log(`write failed: ${e.message}`);
  }
  if (ctx.record) {
    const r = ctx.record;
    r.status = status;
    r.ms = Date.now() - r.time;
    S.calls.push(r);
    if (S.calls.length > OPT.callsMax + (OPT.callsMax >> 3)) {
      const n = S.calls.length - OPT.callsMax;
      S.calls.splice(0, n);
      S.callsDropped += n;
    }
  }
  if (ctx.counted) S.inflight--;
  if (ctx.bucket) rateCount(ctx, status);
  if (OPT.verbose) log(`${ctx.method} ${ctx.req.url} -> ${status} ${ctx.record ? ctx.record.ms + 'ms' : ''}`);
}

// Reads the request body (at most MAX_BODY). An oversized body is drained (up to
// DRAIN_MAX) before the 413 so that the client gets to read the answer.
const DRAIN_MAX = 16 * MAX_BODY;
function readBody(req, cb) {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (cl === undefined && te === undefined) { cb(null, Buffer.alloc(0), false); return; }
  const chunks = [];
  let size = 0;
  let over = cl !== undefined && Number(cl) > MAX_BODY;
  let done = false;
  const finish = (err, body, had) => { if (!done) { done = true; cb(err, body, had); } };
  req.on('data', (c) => {
    if (done) return;
    size += c.length;
    if (size > MAX_BODY) over = true;
    if (over) {
      chunks.length = 0;
      if (size > DRAIN_MAX) finish(413);
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (over) finish(413);
    else finish(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), true);
  });
  req.on('error', () => finish(400));
}

function parseJsonBody(ctx) {
  if (!ctx.body.length) return undefined;
  try { return JSON.parse(ctx.body.toString('utf8')); } catch (e) { return Symbol.for('bad'); }
}
const BAD = Symbol.for('bad');

function matchFailRule(ctx) {
  for (let i = 0; i < S.failRules.length; i++) {
    const r = S.failRules[i];
    if (r.path_prefix && !ctx.path.startsWith(r.path_prefix)) continue;
    if (r.method && r.method.toUpperCase() !== ctx.method) continue;
    if (r.count > 0) { r.count--; if (r.count === 0) S.failRules.splice(i, 1); }
    r.hits = (r.hits || 0) + 1;
    return r;
  }
  return null;
}

const server = http.createServer({ keepAliveTimeout: 65000, noDelay: true }, (req, res) => {
  S.counters.requests++;
  const url = req.url;
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  const query = qi < 0 ? '' : url.slice(qi + 1);
  const ctx = { req, res, method: req.method, path, query, sent: false };
  if (path.startsWith('/__admin/') || path === '/__admin') {
    readBody(req, (err, body) => {
      if (err) { ctx.closeAfter = true; return send(ctx, err, { error: err === 413 ? 'body too large' : 'bad body' }); }
      ctx.body = body;
      try { admin(ctx); } catch (e) {
        if (e instanceof AdminError) return send(ctx, e.status, e.okta || { error: e.message });
        log(`admin error: ${e.stack}`);
        send(ctx, 500, { error: e.message });
      }
    });
    return;
  }
  const isApi = path.startsWith('/api/v1/');
  const isOauth = path.startsWith('/oauth2/');
  if (!isApi && !isOauth) {
    req.resume();
    return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${path} (Resource)`));
  }
  S.counters.api++;
  ctx.requestId = REQ_PREFIX + (++reqSeq).toString(36);
  ctx.bucket = bucketOf(req.method, path);
  S.rl.buckets.get(ctx.bucket).calls++;
  ctx.record = {
    seq: ++S.callSeq, time: Date.now(), method: req.method, path, query, auth: null, principal: null,
    dpop: req.headers.dpop !== undefined, bucket: ctx.bucket, family: ctx.bucket, status: 0, ms: 0,
    user_agent: req.headers['user-agent'] || null, content_type: req.headers['content-type'] || null,
    accept: req.headers.accept || null, if_match: req.headers['if-match'] || null,
  };
  S.inflight++;
  ctx.counted = true;
  if (S.inflight > S.peakInflight) S.peakInflight = S.inflight;
  readBody(req, (err, body, hadBody) => {
    if (err) {
      ctx.closeAfter = true;
      return send(ctx, err, err === 413 ? oktaError('E0000003', 'The request body was too large.') : ERR.badJson());
    }
    ctx.body = body;
    ctx.hadBody = hadBody;
    const go = () => {
      try { api(ctx); } catch (e) {
        if (e instanceof AdminError) return send(ctx, e.status, e.okta || ERR.validation(e.message));
        log(`api error: ${e.stack}`);
        send(ctx, 500, ERR.internal());
      }
    };
    const rule = S.failRules.length ? matchFailRule(ctx) : null;
    const delay = (rule && rule.delay_ms) || S.delayMs;
    if (delay > 0) setTimeout(() => (rule ? applyRule(ctx, rule, go) : go()), delay);
    else if (rule) applyRule(ctx, rule, go);
    else go();
  });
});

function applyRule(ctx, rule, go) {
  if (rule.reset_connection) {
    ctx.sent = true;
    S.inflight--;
    ctx.record.status = 0;
    ctx.record.error = 'connection reset';
    S.calls.push(ctx.record);
    ctx.req.socket.destroy();
    return;
  }
  if (!rule.status) return go();
  ctx.rlHeaders = rateTake(ctx).h; // an injected answer spends the bucket as a real one
  if (rule.status === 429) {
    ctx.rlHeaders['X-Rate-Limit-Remaining'] = '0';
    if (rule.reset_epoch) ctx.rlHeaders['X-Rate-Limit-Reset'] = String(rule.reset_epoch);
  }
  send(ctx, rule.status, rule.body !== undefined ? rule.body : errorForStatus(rule.status), rule.headers);
}

// ---------------------------------------------------------------- management API

function pageParams(ctx, defLimit, maxLimit) {
  const q = ctx.query ? new URLSearchParams(ctx.query) : new URLSearchParams();
  let limit = defLimit;
  if (q.has('limit')) {
    const n = parseInt(q.get('limit'), 10);
    if (Number.isFinite(n) && n > 0) limit = Math.min(n, maxLimit);
  }
  return { q, limit, after: q.get('after') };
}

function sendPage(ctx, ids, pp, render) {
  const start = pp.after ? upperBound(ids, pp.after) : 0;
  const page = ids.slice(start, start + pp.limit);
  const base = baseOf(ctx.req);
  const links = [`<${base}${ctx.req.url}>; rel="self"`];
  const more = start + pp.limit < ids.length || (CFG.emptyLastPage && page.length === pp.limit);
  if (more && page.length) {
    const nq = new URLSearchParams();
    nq.set('after', page[page.length - 1]);
    nq.set('limit', String(pp.limit));
    for (const [k, v] of pp.q) if (k !== 'after' && k !== 'limit') nq.append(k, v);
    links.push(`<${base}${ctx.path}?${nq.toString()}>; rel="next"`);
  }
  const parts = [];
  for (const id of page) { const s = render(id, base); if (s) parts.push(s); }
  send(ctx, 200, '[' + parts.join(',') + ']', { Link: links });
}

// Minimal filter/search: `field eq "value"` joined with `and`.
function parseFilter(expr) {
  if (!expr) return null;
  const clauses = expr.split(/\s+and\s+/i);
  const out = [];
  for (const c of clauses) {
    const m = /^\s*\(?\s*([A-Za-z_.]+)\s+(eq|sw)\s+"((?:[^"\\]|\\.)*)"\s*\)?\s*$/i.exec(c);
    if (!m) return undefined;
    out.push({ field: m[1], op: m[2].toLowerCase(), value: m[3].replace(/\\(.)/g, '$1') });
  }
  return out;
}
function fieldOf(obj, field) {
  let v = obj;
  for (const p of field.split('.')) { if (v === null || v === undefined) return undefined; v = v[p]; }
  return v;
}
function matches(obj, clauses) {
  for (const c of clauses) {
    const v = fieldOf(obj, c.field);
    if (typeof v !== 'string') return false;
    if (c.op === 'eq' && v !== c.value) return false;
    if (c.op === 'sw' && !v.toLowerCase().startsWith(c.value.toLowerCase())) return false;
  }
  return true;
}

// Okta answers a request above the org's concurrency limit with the rate
// limit's 429 (E0000047), its headers reporting the concurrency limit instead
// of the bucket's: Limit = the limit, Remaining 0, and a Reset that is only an
// estimate (rl-best-practices); here the next second. Nothing is spent.
function concurrencyOver(ctx) {
  if (!(CFG.maxConcurrent > 0) || S.inflight <= CFG.maxConcurrent) return false;
  S.concurrencyRejected++;
  S.counters.errors429++;
  ctx.rlHeaders = { 'X-Rate-Limit-Limit': String(CFG.maxConcurrent), 'X-Rate-Limit-Remaining': '0',
    'X-Rate-Limit-Reset': String(Math.floor(Date.now() / 1000) + 1) };
  send(ctx, 429, ERR.rate());
  return true;
}

function api(ctx) {
  if (concurrencyOver(ctx)) return;
  const rh = rateTake(ctx);
  ctx.rlHeaders = rh.h;
  if (rh.over) { S.counters.errors429++; return send(ctx, 429, ERR.rate()); }
  if ((ctx.method === 'POST' || ctx.method === 'PUT') && ctx.req.headers['content-length'] === undefined
    && ctx.req.headers['transfer-encoding'] === undefined) {
    return send(ctx, 411, oktaError('E0000003', 'Length Required: a POST or PUT needs a body or Content-Length: 0.'));
  }
  if (ctx.path === '/oauth2/v1/token') return handleToken(ctx);
  if (ctx.path.startsWith('/oauth2/')) return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
  const principal = authenticate(ctx);
  if (!principal) return;
  ctx.principal = principal;
  ctx.who = { kind: 'api', req: ctx.req, principal, requestId: ctx.requestId, path: ctx.path, query: ctx.query };
  let json;
  if (ctx.method === 'POST' || ctx.method === 'PUT') {
    json = parseJsonBody(ctx);
    if (json === BAD) { ctx.record.body = ctx.body.toString('utf8').slice(0, 4096); return send(ctx, 400, ERR.badJson()); }
    ctx.record.body = json === undefined ? null : json;
  }
  ctx.json = json;
  const seg = ctx.path.split('/'); // ['', 'api', 'v1', resource, ...]
  switch (seg[3]) {
    case 'users': return apiUsers(ctx, seg);
    case 'groups': return apiGroups(ctx, seg);
    case 'meta': return apiSchema(ctx, seg);
    case 'eventHooks': return apiEventHooks(ctx, seg);
    default: return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
  }
}

const MEMBERS_PAGE_DEFAULT = 1000;
const MEMBERS_PAGE_MAX = 10000;
const USERS_READ = ['okta.users.read', 'okta.users.manage'];
const USERS_MANAGE = ['okta.users.manage'];
const GROUPS_READ = ['okta.groups.read', 'okta.groups.manage'];
const GROUPS_MANAGE = ['okta.groups.manage'];

function apiUsers(ctx, seg) {
  const m = ctx.method;
  const p = ctx.principal;
  const n = seg.length;
  if (n === 4 || (n === 5 && seg[4] === '')) {
    if (m === 'GET') {
      if (!requireScope(ctx, p, USERS_READ)) return;
      return listUsers(ctx);
    }
    return send(ctx, 405, ERR.method());
  }
  const id = decodeURIComponent(seg[4]);
  if (n === 5) {
    if (m === 'GET') {
      if (!requireScope(ctx, p, USERS_READ)) return;
      const u = findUser(id);
      if (!u) return send(ctx, 404, ERR.notFound(id, 'User'));
      return send(ctx, 200, userJson(u, baseOf(ctx.req)), { ETag: u.etag });
    }
    if (m === 'POST' || m === 'PUT') {
      if (!requireScope(ctx, p, USERS_MANAGE)) return;
      return updateUser(ctx, id, m === 'PUT');
    }
    if (m === 'DELETE') {
      if (!requireScope(ctx, p, USERS_MANAGE)) return;
      const u = findUser(id);
      if (!u) return send(ctx, 404, ERR.notFound(id, 'User'));
      if (u.status !== 'DEPROVISIONED') lifecycle(u, 'deactivate', ctx.who, true);
      else lifecycle(u, 'delete', ctx.who, true);
      return send(ctx, 204);
    }
    return send(ctx, 405, ERR.method());
  }
  if (n === 6 && seg[5] === 'groups') {
    if (m !== 'GET') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, GROUPS_READ.concat(USERS_READ))) return;
    const u = findUser(id);
    if (!u) return send(ctx, 404, ERR.notFound(id, 'User'));
    const set = S.userGroups.get(u.id);
    const ids = set ? Array.from(set).sort() : [];
    return sendPage(ctx, ids, pageParams(ctx, 200, 10000), (gid, base) => {
      const g = S.groups.get(gid);
      return g ? JSON.stringify(groupObj(g, base)) : null;
    });
  }
  if (n === 7 && seg[5] === 'lifecycle') {
    if (m !== 'POST') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, USERS_MANAGE)) return;
    const u = findUser(id);
    if (!u) return send(ctx, 404, ERR.notFound(id, 'User'));
    const action = seg[6];
    if (!['activate', 'reactivate', 'deactivate', 'suspend', 'unsuspend'].includes(action)) {
      return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
    }
    lifecycle(u, action, ctx.who, true);
    return send(ctx, 200, {});
  }
  return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
}

function listUsers(ctx) {
  const pp = pageParams(ctx, 200, 200);
  if (!S.sortedUserIds) S.sortedUserIds = Array.from(S.users.keys()).sort();
  let ids = S.sortedUserIds;
  const f = parseFilter(pp.q.get('filter') || pp.q.get('search'));
  if (f === undefined) return send(ctx, 400, oktaError('E0000031', 'Invalid search criteria.'));
  const qq = pp.q.get('q');
  if (f || qq) {
    const ql = qq ? qq.toLowerCase() : null;
    ids = ids.filter((id) => {
      const u = S.users.get(id);
      if (f && !matches(u, f)) return false;
      if (ql) {
        const pr = u.profile;
        return ['login', 'email', 'firstName', 'lastName'].some((k) => typeof pr[k] === 'string' && pr[k].toLowerCase().startsWith(ql));
      }
      return true;
    });
  }
  return sendPage(ctx, ids, pp, (id, base) => { const u = S.users.get(id); return u ? userJson(u, base) : null; });
}

function updateUser(ctx, id, replace) {
  const u = findUser(id);
  if (!u) return send(ctx, 404, ERR.notFound(id, 'User'));
  const j = ctx.json;
  if (j === undefined) return send(ctx, 400, ERR.badJson());
  if (!isObj(j)) return send(ctx, 400, ERR.badJson());
  const im = ctx.req.headers['if-match'];
  if (im !== undefined && im !== '*') {
    const strip = (s) => s.trim().replace(/^W\//, '');
    const ok = im.split(',').some((t) => strip(t) === strip(u.etag));
    if (!ok) {
      return send(ctx, 412, oktaError('E0000001', 'Api validation failed: If-Match',
        ['The resource has been modified since it was fetched (ETag mismatch).']), { ETag: u.etag });
    }
  }
  if (j.profile !== undefined && !isObj(j.profile)) {
    return send(ctx, 400, ERR.validation('profile', ['profile: must be an object']));
  }
  const patch = j.profile || (replace ? {} : null);
  let changed = [];
  if (patch) {
    const result = replace ? patch : Object.assign({}, u.profile, patch);
    if (CFG.schemaStrict) {
      const causes = profileErrors(patch, result, u.id);
      if (causes.length) {
        const what = (causes[0].match(/^(\w+):/) || causes[0].match(/'(\w+)'/) || [null, 'profile'])[1];
        return send(ctx, 400, ERR.validation(what, causes));
      }
    }
    changed = applyProfile(u, patch, replace);
    emitProfileUpdate(u, changed, ctx.who);
  } else {
    touch(u);
  }
  return send(ctx, 200, userJson(u, baseOf(ctx.req)), { ETag: u.etag });
}

function apiGroups(ctx, seg) {
  const m = ctx.method;
  const p = ctx.principal;
  const n = seg.length;
  if (n === 4 || (n === 5 && seg[4] === '')) {
    if (m !== 'GET') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, GROUPS_READ)) return;
    const pp = pageParams(ctx, 10000, 10000);
    if (!S.sortedGroupIds) S.sortedGroupIds = Array.from(S.groups.keys()).sort();
    let ids = S.sortedGroupIds;
    const f = parseFilter(pp.q.get('search') || pp.q.get('filter'));
    if (f === undefined) return send(ctx, 400, oktaError('E0000031', 'Invalid search criteria.'));
    const qq = pp.q.get('q');
    if (f || qq) {
      const ql = qq ? qq.toLowerCase() : null;
      ids = ids.filter((id) => {
        const g = S.groups.get(id);
        if (f && !matches({ id: g.id, type: 'OKTA_GROUP', profile: g.profile }, f)) return false;
        return !ql || (typeof g.profile.name === 'string' && g.profile.name.toLowerCase().startsWith(ql));
      });
    }
    return sendPage(ctx, ids, pp, (gid, base) => { const g = S.groups.get(gid); return g ? JSON.stringify(groupObj(g, base)) : null; });
  }
  const gid = decodeURIComponent(seg[4]);
  const g = S.groups.get(gid);
  if (n === 5) {
    if (m !== 'GET') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, GROUPS_READ)) return;
    if (!g) return send(ctx, 404, ERR.notFound(gid, 'UserGroup'));
    return send(ctx, 200, groupObj(g, baseOf(ctx.req)));
  }
  if (seg[5] === 'users' && n === 6) {
    if (m !== 'GET') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, GROUPS_READ)) return;
    if (!g) return send(ctx, 404, ERR.notFound(gid, 'UserGroup'));
    // Full user objects, as Okta's "List all member users". Okta documents the
    // default page (1000; 10000 in older docs) and no maximum: 10000 is the
    // largest page the stand-in gives, a larger limit is capped silently (as
    // Okta caps /api/v1/users at 200) and the next link carries the cap.
    return sendPage(ctx, sortedMembers(g), pageParams(ctx, MEMBERS_PAGE_DEFAULT, MEMBERS_PAGE_MAX), (uid, base) => {
      const u = S.users.get(uid);
      return u ? userJson(u, base) : null;
    });
  }
  if (seg[5] === 'users' && n === 7) {
    if (m !== 'PUT' && m !== 'DELETE') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, GROUPS_MANAGE)) return;
    if (!g) return send(ctx, 404, ERR.notFound(gid, 'UserGroup'));
    const u = findUser(decodeURIComponent(seg[6]));
    if (!u) return send(ctx, 404, ERR.notFound(seg[6], 'User'));
    if (m === 'PUT') addMember(g, u, ctx.who, true); else removeMember(g, u, ctx.who, true);
    return send(ctx, 204);
  }
  return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
}

function apiSchema(ctx, seg) {
  if (ctx.path !== '/api/v1/meta/schemas/user/default') {
    return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
  }
  const p = ctx.principal;
  if (ctx.method === 'GET') {
    if (!requireScope(ctx, p, ['okta.schemas.read', 'okta.schemas.manage'])) return;
    return send(ctx, 200, schemaJson(baseOf(ctx.req)));
  }
  if (ctx.method !== 'POST') return send(ctx, 405, ERR.method());
  if (!requireScope(ctx, p, ['okta.schemas.manage'])) return;
  const j = ctx.json;
  if (!isObj(j)) return send(ctx, 400, ERR.badJson());
  const defs = isObj(j.definitions) ? j.definitions : {};
  const causes = [];
  const customProps = defs.custom && isObj(defs.custom.properties) ? defs.custom.properties : {};
  if (defs.base && isObj(defs.base.properties)) {
    for (const k of Object.keys(defs.base.properties)) {
      if (!BASE_SET.has(k)) causes.push(`${k}: Base property cannot be added; define it under definitions.custom`);
    }
  }
  const types = new Set(['string', 'boolean', 'number', 'integer', 'array']);
  for (const [k, def] of Object.entries(customProps)) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(k)) { causes.push(`${k}: Invalid property name`); continue; }
    if (BASE_SET.has(k)) { causes.push(`${k}: A base property with this name already exists`); continue; }
    if (def === null) continue;
    if (!isObj(def)) { causes.push(`${k}: Property definition must be an object`); continue; }
    const prev = S.schemaCustom.get(k);
    const type = def.type !== undefined ? def.type : (prev && prev.type);
    const title = def.title !== undefined ? def.title : (prev && prev.title);
    if (typeof title !== 'string' || !title) causes.push(`${k}: title: The field cannot be left blank`);
    if (!types.has(type)) causes.push(`${k}: type: Invalid type`);
    if (prev && prev.type !== type) causes.push(`${k}: The type of an existing property cannot be changed`);
  }
  if (causes.length) return send(ctx, 400, ERR.validation('UserSchema', causes));
  for (const [k, def] of Object.entries(customProps)) {
    if (def === null) {
      S.schemaCustom.delete(k);
      for (const u of S.users.values()) if (k in u.profile) { delete u.profile[k]; u._json = null; }
    } else {
      const prev = S.schemaCustom.get(k) || {};
      S.schemaCustom.set(k, customPropDef(Object.assign({}, prev, def)));
    }
  }
  S.schemaUpdated = nowIso();
  return send(ctx, 200, schemaJson(baseOf(ctx.req)));
}

// ---- event hooks (management API)

function validateEventHook(j, causes) {
  if (typeof j.name !== 'string' || !j.name.trim()) causes.push('name: The field cannot be left blank');
  const ev = j.events;
  if (!isObj(ev) || ev.type !== 'EVENT_TYPE') causes.push('events.type: must be EVENT_TYPE');
  else if (!Array.isArray(ev.items) || !ev.items.length) causes.push('events.items: The field cannot be left blank');
  else {
    if (ev.items.length > 300) causes.push('events.items: at most 300 event types');
    for (const it of ev.items) {
      if (typeof it !== 'string' || !/^[a-z][a-z_]*(\.[a-z_]+)+$/.test(it)) causes.push(`events.items: Invalid event type: ${it}`);
      else if (HOOK_INELIGIBLE.has(it)) causes.push(`events.items: Event type is not eligible for event hooks: ${it}`);
    }
  }
  const ch = j.channel;
  if (!isObj(ch) || ch.type !== 'HTTP') { causes.push('channel.type: must be HTTP'); return; }
  if (ch.version !== '1.0.0') causes.push('channel.version: must be 1.0.0');
  const cfg = ch.config;
  if (!isObj(cfg) || typeof cfg.uri !== 'string') { causes.push('channel.config.uri: The field cannot be left blank'); return; }
  let u;
  try { u = new URL(cfg.uri); } catch (e) { causes.push('channel.config.uri: Invalid URI'); return; }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
    causes.push('channel.config.uri: The URI must use HTTPS');
  }
  if (cfg.headers !== undefined && cfg.headers !== null) {
    if (!Array.isArray(cfg.headers) || cfg.headers.some((h) => !isObj(h) || typeof h.key !== 'string' || typeof h.value !== 'string')) {
      causes.push('channel.config.headers: must be an array of {key, value}');
    }
  }
  const a = cfg.authScheme;
  if (a !== undefined && a !== null) {
    if (!isObj(a) || a.type !== 'HEADER' || typeof a.key !== 'string' || !a.key) causes.push('channel.config.authScheme: type must be HEADER with a key');
  }
}

function eventHookJson(h, base) {
  const cfg = h.channel.config;
  const out = {
    id: h.id, status: h.status, verificationStatus: h.verificationStatus, name: h.name,
    description: h.description, created: h.created, createdBy: h.createdBy, lastUpdated: h.lastUpdated,
    events: { type: 'EVENT_TYPE', items: h.events.items.slice(), filter: null },
    channel: {
      type: 'HTTP', version: h.channel.version,
      config: {
        uri: cfg.uri, headers: (cfg.headers || []).map((x) => ({ key: x.key, value: x.value })),
        authScheme: cfg.authScheme ? { type: 'HEADER', key: cfg.authScheme.key } : null, // the secret is never returned
        method: 'POST',
      },
    },
    _links: {
      self: { href: `${base}/api/v1/eventHooks/${h.id}`, hints: { allow: ['GET', 'PUT', 'DELETE'] } },
      verify: { href: `${base}/api/v1/eventHooks/${h.id}/lifecycle/verify`, hints: { allow: ['POST'] } },
    },
  };
  if (out.description === undefined) delete out.description;
  if (h.status === 'ACTIVE') out._links.deactivate = { href: `${base}/api/v1/eventHooks/${h.id}/lifecycle/deactivate`, hints: { allow: ['POST'] } };
  else out._links.activate = { href: `${base}/api/v1/eventHooks/${h.id}/lifecycle/activate`, hints: { allow: ['POST'] } };
  return out;
}

function storeHookFields(h, j, prev) {
  h.name = j.name;
  if (j.description !== undefined) h.description = j.description;
  h.events = { type: 'EVENT_TYPE', items: j.events.items.slice() };
  const cfg = j.channel.config;
  let auth = null;
  if (isObj(cfg.authScheme)) {
    auth = { type: 'HEADER', key: cfg.authScheme.key, value: cfg.authScheme.value };
    if (auth.value === undefined && prev && prev.channel.config.authScheme) auth.value = prev.channel.config.authScheme.value;
  }
  h.channel = { type: 'HTTP', version: '1.0.0', config: { uri: cfg.uri, headers: (cfg.headers || []).map((x) => ({ key: x.key, value: x.value })), authScheme: auth } };
  h.version = (h.version || 0) + 1;
}

function apiEventHooks(ctx, seg) {
  const m = ctx.method;
  const p = ctx.principal;
  const base = baseOf(ctx.req);
  const n = seg.length;
  const READ = ['okta.eventHooks.read', 'okta.eventHooks.manage'];
  const MANAGE = ['okta.eventHooks.manage'];
  if (n === 4) {
    if (m === 'GET') {
      if (!requireScope(ctx, p, READ)) return;
      return send(ctx, 200, Array.from(S.eventHooks.values()).map((h) => eventHookJson(h, base)));
    }
    if (m === 'POST') {
      if (!requireScope(ctx, p, MANAGE)) return;
      const j = ctx.json;
      if (!isObj(j)) return send(ctx, 400, ERR.badJson());
      const causes = [];
      validateEventHook(j, causes);
      const active = Array.from(S.eventHooks.values()).filter((h) => h.status === 'ACTIVE').length;
      if (active >= 25) causes.push('You have reached the maximum number of active event hooks (25).');
      if (causes.length) return send(ctx, 400, ERR.validation('eventHook', causes));
      const t = nowIso();
      const h = { id: oktaId('who'), status: 'ACTIVE', verificationStatus: 'UNVERIFIED', created: t, lastUpdated: t,
        createdBy: p.clientId || ADMIN_ACTOR.id };
      storeHookFields(h, j, null);
      S.eventHooks.set(h.id, h);
      return send(ctx, 200, eventHookJson(h, base));
    }
    return send(ctx, 405, ERR.method());
  }
  const id = decodeURIComponent(seg[4]);
  const h = S.eventHooks.get(id);
  if (n === 5) {
    if (m === 'GET') {
      if (!requireScope(ctx, p, READ)) return;
      if (!h) return send(ctx, 404, ERR.notFound(id, 'EventHook'));
      return send(ctx, 200, eventHookJson(h, base));
    }
    if (m === 'PUT') {
      if (!requireScope(ctx, p, MANAGE)) return;
      if (!h) return send(ctx, 404, ERR.notFound(id, 'EventHook'));
      const j = ctx.json;
      if (!isObj(j)) return send(ctx, 400, ERR.badJson());
      const causes = [];
      validateEventHook(j, causes);
      if (causes.length) return send(ctx, 400, ERR.validation('eventHook', causes));
      const prev = JSON.parse(JSON.stringify(h));
      storeHookFields(h, j, prev);
      h.lastUpdated = nowIso();
      return send(ctx, 200, eventHookJson(h, base));
    }
    if (m === 'DELETE') {
      if (!requireScope(ctx, p, MANAGE)) return;
      if (!h) return send(ctx, 404, ERR.notFound(id, 'EventHook'));
      if (h.status === 'ACTIVE') {
        return send(ctx, 400, ERR.validation('eventHook', ['Cannot delete an ACTIVE event hook; deactivate it first.']));
      }
      S.eventHooks.delete(id);
      return send(ctx, 204);
    }
    return send(ctx, 405, ERR.method()); // the update is PUT (replaceEventHook); POST is not an update
  }
  if (n === 7 && seg[5] === 'lifecycle') {
    if (m !== 'POST') return send(ctx, 405, ERR.method());
    if (!requireScope(ctx, p, MANAGE)) return;
    if (!h) return send(ctx, 404, ERR.notFound(id, 'EventHook'));
    const action = seg[6];
    if (action === 'activate' || action === 'deactivate') {
      h.status = action === 'activate' ? 'ACTIVE' : 'INACTIVE';
      h.lastUpdated = nowIso();
      return send(ctx, 200, eventHookJson(h, base));
    }
    if (action === 'verify') {
      const t = hookTarget(h);
      verifyHookRequest(t, (ok, why) => {
        h.verificationStatus = ok ? 'VERIFIED' : 'UNVERIFIED';
        h.lastUpdated = nowIso();
        h.lastVerification = { ok, why: why || null, at: Date.now() };
        if (ok) return send(ctx, 200, eventHookJson(h, base));
        return send(ctx, 400, ERR.validation('Verification', [`Verification failed: ${why}`]));
      });
      return;
    }
  }
  return send(ctx, 404, oktaError('E0000007', `Not found: Resource not found: ${ctx.path} (Resource)`));
}

// ---------------------------------------------------------------- admin API

function adminJson(ctx) {
  if (!ctx.body.length) return {};
  try { return JSON.parse(ctx.body.toString('utf8')); } catch (e) { throw new AdminError(400, 'invalid JSON body'); }
}

function emitFlag(ctx, j) {
  const q = ctx.query ? new URLSearchParams(ctx.query) : null;
  if (q && q.has('emit')) return !/^(0|false|no)$/i.test(q.get('emit'));
  if (isObj(j) && j.emit !== undefined) return !!j.emit;
  return true;
}

const ADMIN_WHO = { kind: 'admin' };

function adminCreateUser(spec, emitIt) {
  if (!isObj(spec)) throw new AdminError(400, 'user spec must be an object');
  if (spec.status !== undefined && !USER_STATUSES.has(spec.status)) throw new AdminError(400, `bad status ${spec.status}`);
  if (spec.profile !== undefined && !isObj(spec.profile)) throw new AdminError(400, 'profile must be an object');
  const u = newUser(spec);
  insertUser(u);
  if (emitIt) {
    emitUserEvent('user.lifecycle.create', u, ADMIN_WHO);
    if (u.status === 'ACTIVE') emitUserEvent('user.lifecycle.activate', u, ADMIN_WHO);
  }
  if (Array.isArray(spec.groups)) {
    for (const gid of spec.groups) {
      const g = S.groups.get(gid);
      if (!g) throw new AdminError(404, `group ${gid} not found`);
      addMember(g, u, ADMIN_WHO, emitIt);
    }
  }
  return u;
}

function adminUserView(u) {
  const o = JSON.parse(userJson(u, DEFAULT_BASE));
  o.etag = u.etag;
  o.groups = Array.from(S.userGroups.get(u.id) || []);
  return o;
}

function dumpState() {
  const users = [];
  for (const u of S.users.values()) {
    users.push({ id: u.id, status: u.status, created: u.created, activated: u.activated, statusChanged: u.statusChanged,
      lastLogin: u.lastLogin, lastUpdated: u.lastUpdated, passwordChanged: u.passwordChanged, profile: u.profile });
  }
  const groups = [];
  for (const g of S.groups.values()) {
    groups.push({ id: g.id, created: g.created, lastUpdated: g.lastUpdated, lastMembershipUpdated: g.lastMembershipUpdated,
      profile: g.profile, members: sortedMembers(g).slice() });
  }
  const schema = {};
  for (const [k, v] of S.schemaCustom) schema[k] = v;
  return {
    version: 1, users, groups, schema_custom: schema,
    event_hooks: Array.from(S.eventHooks.values()),
    clients: Array.from(S.clients.values()).map((c) => ({ client_id: c.client_id, name: c.name, dpop: c.dpop,
      public_key_pem: c.public_key_pem, jwks: c.jwks, kid: c.kid, scopes: Array.from(c.scopes) })),
    api_tokens: Array.from(S.apiTokens),
    hook: S.staticHook ? { url: S.staticHook.url, header: S.staticHook.header, secret: S.staticHook.secret,
      headers: S.staticHook.headers, events: S.staticHook.eventsSpec, id: S.staticHook.id } : null,
    hook_settings: S.hookSettings,
    dpop_nonce: S.dpopNonce,
    settings: Object.assign({}, CFG),
    stats: statsJson(),
  };
}

function loadState(st) {
  if (!isObj(st)) throw new AdminError(400, 'state must be an object');
  if (isObj(st.schema_custom)) {
    S.schemaCustom = new Map();
    for (const [k, v] of Object.entries(st.schema_custom)) S.schemaCustom.set(k, customPropDef(v));
  }
  for (const u of st.users || []) {
    const user = newUser(u);
    if (isObj(u.profile)) user.profile = Object.assign({}, u.profile);
    if (S.users.has(user.id)) deleteUser(S.users.get(user.id));
    insertUser(user);
  }
  for (const g of st.groups || []) {
    const grp = newGroup(g);
    S.groups.set(grp.id, grp);
    S.sortedGroupIds = null;
    for (const uid of g.members || []) { const u = S.users.get(uid); if (u) addMember(grp, u, ADMIN_WHO, false); }
  }
  for (const h of st.event_hooks || []) { if (isObj(h) && h.id) S.eventHooks.set(h.id, h); }
  for (const c of st.clients || []) addClient(c);
  for (const t of st.api_tokens || []) S.apiTokens.add(t);
  if (isObj(st.hook)) {
    configureStaticHook(st.hook);
    if (st.hook.id) S.staticHook.id = st.hook.id;
  }
  if (isObj(st.hook_settings)) Object.assign(S.hookSettings, st.hook_settings);
  if (typeof st.dpop_nonce === 'string') S.dpopNonce = st.dpop_nonce;
  if (isObj(st.settings)) applySettings(st.settings);
}

function applySettings(j) {
  if (j.noop_updates !== undefined || j.noopUpdates !== undefined) CFG.noopUpdates = j.noop_updates || j.noopUpdates;
  if (j.empty_last_page !== undefined || j.emptyLastPage !== undefined) CFG.emptyLastPage = !!(j.empty_last_page !== undefined ? j.empty_last_page : j.emptyLastPage);
  if (j.dpop_api_error_status !== undefined) CFG.dpopApiErrorStatus = Number(j.dpop_api_error_status);
  if (j.dpopApiErrorStatus !== undefined) CFG.dpopApiErrorStatus = Number(j.dpopApiErrorStatus);
  if (j.dpop_api_nonce !== undefined || j.dpopApiNonce !== undefined) CFG.dpopApiNonce = !!(j.dpop_api_nonce !== undefined ? j.dpop_api_nonce : j.dpopApiNonce);
  if (j.max_concurrent !== undefined) CFG.maxConcurrent = Number(j.max_concurrent);
  if (j.maxConcurrent !== undefined) CFG.maxConcurrent = Number(j.maxConcurrent);
  if (j.schema_strict !== undefined || j.schemaStrict !== undefined) CFG.schemaStrict = !!(j.schema_strict !== undefined ? j.schema_strict : j.schemaStrict);
}

// POST /__admin/ratelimit. Checks everything before changing anything.
function rateAdmin(j) {
  const rl = S.rl;
  const known = (name, what) => {
    if (!rl.buckets.has(name)) throw new AdminError(400, `${what}: unknown bucket ${name}`);
    return rl.buckets.get(name);
  };
  const count = (v, what) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new AdminError(400, `${what}: not a count: ${v}`);
    return n;
  };
  const limits = [];
  const fam = j.bucket || j.family; // {limit, until_epoch}'s bucket ("family": the older name)
  if (isObj(j.limits)) for (const [k, v] of Object.entries(j.limits)) limits.push([known(k, 'limits'), count(v, k)]);
  // Older form: {limit, family?}; family names a bucket, none means every bucket.
  if (j.limit !== undefined && j.until_epoch === undefined) {
    const n = count(j.limit, 'limit');
    if (fam) limits.push([known(fam, 'bucket'), n]);
    else for (const b of rl.buckets.values()) limits.push([b, n]);
  }
  if (j.until_epoch !== undefined && fam) known(fam, 'bucket');
  if (isObj(j.spend)) known(j.spend.bucket, 'spend');
  if (j.spend !== undefined && !isObj(j.spend)) throw new AdminError(400, 'spend: expected {bucket, n}');
  if (j.window_s !== undefined && !(Number(j.window_s) > 0)) throw new AdminError(400, 'window_s must be > 0');
  if (j.max_concurrent !== undefined) count(j.max_concurrent, 'max_concurrent');

  if (j.reset || j.clear) {
    for (const b of rl.buckets.values()) Object.assign(b, newBucket(b.limit));
    rl.forcedUntil = 0;
    rl.forcedBucket = null;
    S.peakInflight = S.inflight;
    S.concurrencyRejected = 0;
  }
  if (j.reset_windows) for (const b of rl.buckets.values()) { b.start = -1; b.used = 0; }
  for (const [b, n] of limits) b.limit = n;
  if (j.window_s !== undefined) {
    rl.windowS = Number(j.window_s);
    for (const b of rl.buckets.values()) { b.start = -1; b.used = 0; }
  }
  if (j.max_concurrent !== undefined) CFG.maxConcurrent = Number(j.max_concurrent);
  if (j.until_epoch !== undefined) { rl.forcedUntil = Number(j.until_epoch); rl.forcedBucket = fam || null; }
  if (isObj(j.spend)) rateSpend(j.spend.bucket, count(j.spend.n === undefined ? 1 : j.spend.n, 'spend.n'));
}

function statsJson() {
  return {
    requests: S.counters.requests, api_requests: S.counters.api, answered_429: S.counters.errors429,
    inflight: S.inflight, peak_concurrency: S.peakInflight,
    users: S.users.size, groups: S.groups.size, access_tokens: S.accessTokens.size,
    calls_logged: S.calls.length, calls_dropped: S.callsDropped,
    deliveries_logged: S.deliveries.length, deliveries_pending: S.pendingDeliveries, events_buffered: bufferedEvents(),
  };
}

function saveStateFile(file) {
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(dumpState(), null, 1));
  fs.renameSync(tmp, file);
}

function sinceFilter(arr, ctx) {
  const q = ctx.query ? new URLSearchParams(ctx.query) : new URLSearchParams();
  const since = q.has('since') ? Number(q.get('since')) : 0;
  let out = since ? arr.filter((x) => x.seq > since) : arr;
  return { q, out };
}

function admin(ctx) {
  const m = ctx.method;
  const seg = ctx.path.split('/').slice(2).map((s) => decodeURIComponent(s)); // after '/__admin'
  const ok = (obj, status) => send(ctx, status || 200, obj === undefined ? { ok: true } : obj);
  const r0 = seg[0];
  const j = (m === 'POST' || m === 'PUT' || m === 'DELETE') ? adminJson(ctx) : {};

  if (r0 === 'health' || r0 === '' || r0 === undefined) return ok({ ok: true, base: DEFAULT_BASE });

  if (r0 === 'reset' && m === 'POST') {
    resetState();
    return ok();
  }

  if (r0 === 'users') {
    if (seg.length === 1) {
      if (m === 'POST') {
        const emitIt = emitFlag(ctx, Array.isArray(j) ? null : j);
        if (Array.isArray(j) || (isObj(j) && Array.isArray(j.users))) {
          const list = Array.isArray(j) ? j : j.users;
          const out = list.map((spec) => adminCreateUser(spec, emitIt && (spec.emit === undefined || !!spec.emit)));
          return ok({ created: out.length, ids: out.map((u) => u.id) }, 201);
        }
        const u = adminCreateUser(j, emitIt && (j.emit === undefined || !!j.emit));
        return ok(adminUserView(u), 201);
      }
      if (m === 'GET') return ok(Array.from(S.users.values()).map(adminUserView));
      throw new AdminError(405, 'method not allowed');
    }
    const u = findUser(seg[1]);
    if (!u) throw new AdminError(404, `user ${seg[1]} not found`);
    if (seg.length === 2) {
      if (m === 'GET') return ok(adminUserView(u));
      if (m === 'DELETE') { lifecycle(u, 'delete', ADMIN_WHO, emitFlag(ctx, j)); return ok(); }
      throw new AdminError(405, 'method not allowed');
    }
    if (seg[2] === 'profile' && m === 'POST') {
      let patch = j;
      if (isObj(j) && Object.keys(j).length === 1 && isObj(j.profile)) patch = j.profile;
      if (!isObj(patch)) throw new AdminError(400, 'profile patch must be an object');
      const emitIt = emitFlag(ctx, null);
      const changed = applyProfile(u, patch, false);
      if (emitIt) emitProfileUpdate(u, changed, ADMIN_WHO);
      const v = adminUserView(u);
      v.changedAttributes = changed;
      return ok(v);
    }
    if (seg[2] === 'lifecycle' && seg[3] && m === 'POST') {
      const emitted = lifecycle(u, seg[3], ADMIN_WHO, emitFlag(ctx, j));
      return ok({ ok: true, status: S.users.has(u.id) ? u.status : 'DELETED', events: emitted });
    }
    if (seg[2] === 'status' && m === 'POST') { // set status directly, no event
      if (!USER_STATUSES.has(j.status)) throw new AdminError(400, 'bad status');
      u.status = j.status; u.statusChanged = nowIso(); touch(u);
      return ok(adminUserView(u));
    }
    throw new AdminError(404, 'unknown admin route');
  }

  if (r0 === 'groups') {
    if (seg.length === 1) {
      if (m === 'POST') {
        const list = Array.isArray(j) ? j : [j];
        const out = [];
        for (const spec of list) {
          if (spec.id && S.groups.has(spec.id)) throw new AdminError(409, `group ${spec.id} exists`);
          const g = newGroup(spec);
          S.groups.set(g.id, g);
          S.sortedGroupIds = null;
          out.push(g);
        }
        return ok(Array.isArray(j) ? out.map((g) => groupObj(g, DEFAULT_BASE)) : groupObj(out[0], DEFAULT_BASE), 201);
      }
      if (m === 'GET') return ok(Array.from(S.groups.values()).map((g) => Object.assign(groupObj(g, DEFAULT_BASE), { members: g.members.size })));
      throw new AdminError(405, 'method not allowed');
    }
    const g = S.groups.get(seg[1]);
    if (!g) throw new AdminError(404, `group ${seg[1]} not found`);
    if (seg.length === 2) {
      if (m === 'GET') return ok(Object.assign(groupObj(g, DEFAULT_BASE), { members: sortedMembers(g) }));
      if (m === 'PUT') { // rename (no event: Okta sends none a group hook subscribes to)
        if (typeof (j && j.name) !== 'string') throw new AdminError(400, 'name required');
        g.profile.name = j.name;
        return ok(groupObj(g, DEFAULT_BASE));
      }
      if (m === 'DELETE') {
        for (const uid of g.members) { const set = S.userGroups.get(uid); if (set) set.delete(g.id); }
        S.groups.delete(g.id); S.sortedGroupIds = null;
        return ok();
      }
    }
    if (seg[2] === 'members') {
      const emitIt = emitFlag(ctx, j);
      if (seg.length === 3 && m === 'POST') {
        const ids = Array.isArray(j) ? j : (j.user_ids || []);
        let added = 0;
        for (const uid of ids) {
          const u = findUser(uid);
          if (!u) throw new AdminError(404, `user ${uid} not found`);
          if (addMember(g, u, ADMIN_WHO, emitIt)) added++;
        }
        return ok({ ok: true, added, members: g.members.size });
      }
      if (seg.length === 3 && m === 'GET') return ok(sortedMembers(g));
      if (seg.length === 4) {
        const u = findUser(seg[3]);
        if (!u) throw new AdminError(404, `user ${seg[3]} not found`);
        if (m === 'POST' || m === 'PUT') return ok({ ok: true, changed: addMember(g, u, ADMIN_WHO, emitIt) });
        if (m === 'DELETE') return ok({ ok: true, changed: removeMember(g, u, ADMIN_WHO, emitIt) });
      }
    }
    throw new AdminError(404, 'unknown admin route');
  }

  if (r0 === 'events') {
    if (m === 'GET') {
      const { out } = sinceFilter(S.events, ctx);
      return ok({ dropped: S.eventsDropped, events: out });
    }
    if (m === 'POST') { // emit a synthetic event without any state change
      let ev;
      if (isObj(j.event)) ev = j.event;
      else {
        if (typeof j.eventType !== 'string') throw new AdminError(400, 'eventType required');
        const targets = [];
        if (j.user_id) {
          const u = findUser(j.user_id);
          targets.push(u ? userTarget(u) : { id: j.user_id, type: 'User', alternateId: 'unknown', displayName: 'unknown', detailEntry: null });
        }
        if (j.group_id) {
          const g = S.groups.get(j.group_id);
          targets.push(g ? groupTarget(g) : { id: j.group_id, type: 'UserGroup', alternateId: 'unknown', displayName: 'unknown', detailEntry: null });
        }
        const extra = j.changedAttributes !== undefined ? { changedAttributes: j.changedAttributes } : null;
        ev = buildEvent(j.eventType, j.target === null ? null : targets, ADMIN_WHO, extra);
        if (j.actor === null) ev.actor = null;
      }
      publish(ev);
      return ok(ev);
    }
  }

  if (r0 === 'deliver' && m === 'POST') { // raw delivery to the static hook (or hook_id)
    let sink;
    if (j.hook_id) {
      const h = S.eventHooks.get(j.hook_id);
      if (!h) throw new AdminError(404, 'no such hook');
      sink = sinkFor(hookTarget(h));
    } else {
      if (!S.staticHook) throw new AdminError(400, 'no hook configured');
      sink = sinkFor(S.staticHook);
    }
    let rec;
    if (j.body !== undefined) {
      const body = typeof j.body === 'string' ? j.body : JSON.stringify(j.body);
      rec = sink.deliver(null, { body, eventId: isObj(j.body) ? j.body.eventId : undefined, force: true });
    } else if (Array.isArray(j.events)) {
      rec = sink.deliver(j.events, { eventId: j.eventId, force: true });
    } else throw new AdminError(400, 'events or body required');
    return ok({ seq: rec.seq, eventId: rec.eventId });
  }

  if (r0 === 'hook') {
    if (seg[1] === 'flush' && m === 'POST') { flushAllSinks(); return ok(); }
    if (m === 'POST') {
      const hookKeys = ['url', 'secret', 'header', 'headers', 'events'];
      const hc = {};
      for (const k of hookKeys) if (j[k] !== undefined) hc[k] = j[k];
      if (j.url === null) {
        S.staticHook = null;
        if (S.sinks.has('static')) { S.sinks.get('static').close(); S.sinks.delete('static'); }
      }
      else if (Object.keys(hc).length) configureStaticHook(hc);
      const hs = S.hookSettings;
      for (const k of Object.keys(defaultHookSettings())) if (j[k] !== undefined) hs[k] = j[k];
      if (j.batch_ms !== undefined && !(j.batch_ms > 0)) flushAllSinks();
      if (!['user_first', 'group_first', 'random'].includes(hs.target_order)) throw new AdminError(400, 'bad target_order');
    }
    const h = S.staticHook;
    return ok({
      hook: h ? { id: h.id, url: h.url, header: h.header, secret: h.secret, headers: h.headers,
        events: h.all ? 'all' : Array.from(h.set) } : null,
      settings: S.hookSettings,
    });
  }

  if (r0 === 'deliveries') {
    if (seg[1] === 'reset' && m === 'POST') { S.deliveries = []; S.deliveriesDropped = 0; return ok(); }
    if (seg[1] === 'wait' && (m === 'GET' || m === 'POST')) {
      const q = ctx.query ? new URLSearchParams(ctx.query) : new URLSearchParams();
      const deadline = Date.now() + Number(q.get('timeout_ms') || j.timeout_ms || 10000);
      const tick = () => {
        if (S.pendingDeliveries === 0 && bufferedEvents() === 0) return ok({ ok: true, pending: 0 });
        if (Date.now() >= deadline) return send(ctx, 408, { ok: false, pending: S.pendingDeliveries, buffered: bufferedEvents() });
        setTimeout(tick, 10);
      };
      return tick();
    }
    if (seg[1] && seg[2] === 'resend' && m === 'POST') {
      const rec = S.deliveries.find((d) => d.seq === Number(seg[1]));
      if (!rec || rec.body === undefined) throw new AdminError(404, 'no such delivery (or its body was not kept)');
      let sink = null;
      if (S.staticHook && rec.hook_id === S.staticHook.id) sink = sinkFor(S.staticHook);
      else { const h = S.eventHooks.get(rec.hook_id); if (h) sink = sinkFor(hookTarget(h)); }
      if (!sink) throw new AdminError(404, 'hook gone');
      const nr = sink.deliver(null, { body: rec.body, eventId: rec.eventId, duplicateOf: rec.seq, force: true });
      nr.events = rec.events;
      return ok({ seq: nr.seq, eventId: nr.eventId });
    }
    if (m === 'GET') {
      const { q, out } = sinceFilter(S.deliveries, ctx);
      const bodies = q.has('bodies') && !/^(0|false)$/.test(q.get('bodies'));
      const list = out.map((d) => {
        const o = Object.assign({}, d);
        if (bodies && typeof d.body === 'string') { try { o.body = JSON.parse(d.body); } catch (e) { /* keep string */ } } else delete o.body;
        return o;
      });
      return ok({ pending: S.pendingDeliveries, buffered: bufferedEvents(), dropped: S.deliveriesDropped, deliveries: list });
    }
  }

  if (r0 === 'calls') {
    if (seg[1] === 'reset' && m === 'POST') { S.calls = []; S.callsDropped = 0; return ok(); }
    if (m === 'GET') {
      const { q, out } = sinceFilter(S.calls, ctx);
      let list = out;
      if (q.has('path_prefix')) { const pp = q.get('path_prefix'); list = list.filter((c) => c.path.startsWith(pp)); }
      if (q.has('method')) { const mm = q.get('method').toUpperCase(); list = list.filter((c) => c.method === mm); }
      return ok({ dropped: S.callsDropped, count: list.length, calls: list });
    }
  }

  if (r0 === 'ratelimit') {
    if (m === 'POST') rateAdmin(j);
    return ok(rateJson());
  }

  if (r0 === 'fail') {
    if (m === 'DELETE' || (seg[1] === 'reset' && m === 'POST')) { S.failRules = []; S.delayMs = 0; return ok(); }
    if (m === 'POST') {
      const list = Array.isArray(j) ? j : [j];
      for (const r of list) {
        if (r.status === undefined && r.count === undefined && r.delay_ms !== undefined && !r.reset_connection) {
          S.delayMs = Number(r.delay_ms); // global slowness
          continue;
        }
        S.failRules.push({
          status: r.status, count: r.count === undefined ? 1 : Number(r.count), path_prefix: r.path_prefix || null,
          method: r.method || null, delay_ms: r.delay_ms || 0, reset_connection: !!r.reset_connection,
          body: r.body, headers: r.headers, reset_epoch: r.reset_epoch, hits: 0,
        });
      }
    }
    return ok({ rules: S.failRules, delay_ms: S.delayMs });
  }

  if (r0 === 'clients') {
    if (m === 'POST') { addClient(j); return ok({ ok: true, client_id: j.client_id }, 201); }
    if (m === 'GET') return ok(Array.from(S.clients.values()).map((c) => ({ client_id: c.client_id, dpop: c.dpop, scopes: Array.from(c.scopes) })));
  }

  if (r0 === 'tokens') {
    if (seg[1] === 'expire' && m === 'POST') {
      let n = 0;
      for (const [k, t] of S.accessTokens) {
        if (!j.client_id || t.clientId === j.client_id) { t.exp = 0; n++; if (j.forget) S.accessTokens.delete(k); }
      }
      return ok({ ok: true, expired: n });
    }
    if (m === 'POST') {
      if (typeof j.api_token === 'string') S.apiTokens.add(j.api_token);
      if (typeof j.remove_api_token === 'string') S.apiTokens.delete(j.remove_api_token);
      return ok({ ok: true });
    }
    if (m === 'GET') {
      const out = [];
      for (const [k, t] of S.accessTokens) out.push({ token_sha256: sha256b64u(k), client_id: t.clientId, scope: t.scope, exp: Math.floor(t.exp / 1000), dpop_jkt: t.jkt });
      return ok({ api_tokens: S.apiTokens.size, access_tokens: out });
    }
  }

  if (r0 === 'dpop') {
    if (m === 'POST') {
      if (j.rotate) S.dpopNonce = rid(32);
      if (typeof j.nonce === 'string') S.dpopNonce = j.nonce;
      if (j.api_nonce !== undefined) CFG.dpopApiNonce = !!j.api_nonce;
      if (j.api_error_status !== undefined) CFG.dpopApiErrorStatus = Number(j.api_error_status);
    }
    return ok({ nonce: S.dpopNonce, api_nonce: CFG.dpopApiNonce, api_error_status: CFG.dpopApiErrorStatus });
  }

  if (r0 === 'settings') {
    if (m === 'POST') applySettings(j);
    return ok(Object.assign({}, CFG));
  }

  if (r0 === 'schema') {
    if (m === 'POST' && isObj(j.properties)) {
      for (const [k, def] of Object.entries(j.properties)) {
        if (def === null) S.schemaCustom.delete(k); else S.schemaCustom.set(k, customPropDef(def));
      }
      S.schemaUpdated = nowIso();
    }
    return ok(schemaJson(DEFAULT_BASE));
  }

  if (r0 === 'stats' && m === 'GET') return ok(statsJson());

  if (r0 === 'state') {
    if (seg[1] === 'save' && m === 'POST') {
      const file = j.file || OPT.state;
      if (!file) throw new AdminError(400, 'no file (give {"file": ...} or start with --state)');
      saveStateFile(file);
      return ok({ ok: true, file });
    }
    if (m === 'GET') return ok(dumpState());
    if (m === 'POST') { if (j.replace) resetState(); loadState(j); return ok({ ok: true, users: S.users.size, groups: S.groups.size }); }
  }

  throw new AdminError(404, `unknown admin route ${m} ${ctx.path}`);
}

// ---------------------------------------------------------------- start

resetState();
if (OPT.state && fs.existsSync(OPT.state)) {
  try {
    loadState(JSON.parse(fs.readFileSync(OPT.state, 'utf8')));
  } catch (e) {
    die(`--state ${OPT.state}: ${e.message}`);
  }
}

function shutdown(sig) {
  if (OPT.state) {
    try { saveStateFile(OPT.state); } catch (e) { log(`saving state failed: ${e.message}`); }
  }
  process.exit(sig === 'SIGINT' ? 130 : 0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

setInterval(pruneJtis, 60000).unref();

server.keepAliveTimeout = 65000;
server.headersTimeout = 70000;
server.requestTimeout = 120000;
server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});
server.on('error', (e) => die(`listen: ${e.message}`));
server.listen(OPT.port, OPT.host, () => {
  const a = server.address();
  const host = a.family === 'IPv6' || a.family === 6 ? `[${a.address}]` : a.address;
  DEFAULT_BASE = OPT.publicUrl || `http://${host}:${a.port}`;
  process.stdout.write(`okta-standin listening on http://${host}:${a.port}\n`);
});
