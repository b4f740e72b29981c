#!/usr/bin/env node
// A real SCIM 2.0 server for integration tests: scimmy (schemas, filters,
// PATCH) and scimmy-routers (the RFC 7644 HTTP protocol) over an in-memory
// store. Only the store is ours: userName and externalId are unique (409
// scimType "uniqueness", as RFC 7644 section 3.3 says), everything else is
// scimmy's, so a template that a strict server refuses fails here too.
// usage: node scim.js --port N [--host 127.0.0.1] [--token T] [--page-size N]
//   /scim/v2/...  the SCIM API (Authorization: Bearer T when --token is set)
//   GET  /__admin/state         {"users": [...], "groups": [...], "calls": n}
//   POST /__admin/users         a record made by hand (not through SCIM)
//   POST /__admin/fail          {"status": 400, "count": 1}: the next SCIM
//                               writes answer a SCIM error with that status
//                               (its detail echoes the Authorization header
//                               received, as careless servers do)
//   POST /__admin/lag           {"count": 2}: the next filtered lists match
//                               nothing, as a lagging search index answers
//   POST /__admin/page          {"size": 1}: list answers hold at most that
//                               many Resources (0: scimmy's default, 20),
//                               whatever count the client asks
//   POST /__admin/groups/:id    {"members": [...]}: a group's members set by
//                               hand, behind the client's back
//   POST /__admin/etag          {"require": true, "stale": 1}: a PUT or PATCH
//                               of a user without If-Match is refused (412);
//                               the next `stale` ones with If-Match find the
//                               record changed since (its version bumped, 412)
// Every record has meta.version (W/"n", new at each write), its ETag
// (RFC 7644 section 3.14); a write whose If-Match differs answers 412.
'use strict';
const express = require('express');
// scimmy-routers' own SCIMMY instance: resources declared there are served
const { SCIMMY, SCIMMYRouters } = require('scimmy-routers');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const port = Number(opt('--port', '3000'));
const host = opt('--host', '127.0.0.1');
const token = opt('--token', null);

const store = { User: new Map(), Group: new Map() };
let nextId = 1;
let calls = 0;
let fail = { status: 0, count: 0 };
let lag = 0;
let pageSize = Number(opt('--page-size', '0'));
let version = 0;
let etag = { require: false, stale: 0 };
let ifMatchSeen = 0;
const newVersion = () => `W/"${++version}"`;

function unique(kind, rec, id) {
  const keys = kind === 'User' ? ['userName', 'externalId'] : ['displayName', 'externalId'];
  for (const other of store[kind].values()) {
    if (other.id === id) continue;
    for (const k of keys) {
      if (rec[k] !== undefined && other[k] === rec[k])
        throw new SCIMMY.Types.Error(409, 'uniqueness', `${k} "${rec[k]}" is already taken`);
    }
  }
}

function handlers(kind) {
  const map = store[kind];
  return {
    ingress: (resource, instance, ctx) => {
      if (fail.count > 0) {
        fail.count--;
        throw new SCIMMY.Types.Error(fail.status, 'invalidValue',
          `refused by the test (you sent ${ctx && ctx.auth})`);
      }
      const id = resource.id || String(nextId++);
      if (resource.id && !map.has(id)) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
      const rec = JSON.parse(JSON.stringify(instance));
      delete rec.meta;
      unique(kind, rec, id);
      const now = new Date().toISOString();
      const old = map.get(id);
      if (Array.isArray(rec.members)) // a set, as servers keep it: an add repeated adds nothing
        rec.members = rec.members.filter((v, i, all) => all.findIndex((w) => w.value === v.value) === i);
      rec.id = id;
      rec.meta = { created: old ? old.meta.created : now, lastModified: now, version: newVersion() };
      map.set(id, rec);
      return JSON.parse(JSON.stringify(rec));
    },
    egress: (resource) => {
      if (resource.id) {
        const rec = map.get(resource.id);
        if (!rec) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        return JSON.parse(JSON.stringify(rec));
      }
      const all = [...map.values()].map((r) => JSON.parse(JSON.stringify(r)));
      if (resource.filter && lag > 0) {
        lag--;
        return [];
      }
      return resource.filter ? resource.filter.match(all) : all;
    },
    degress: (resource) => {
      if (!map.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    },
  };
}

for (const kind of ['User', 'Group']) {
  const h = handlers(kind);
  SCIMMY.Resources.declare(SCIMMY.Resources[kind]).ingress(h.ingress).egress(h.egress).degress(h.degress);
}
SCIMMY.Config.set({ patch: true, filter: true });

const app = express();
app.use(express.json({ type: ['application/json'] }));
app.get('/__admin/state', (req, res) => res.json({
  users: [...store.User.values()], groups: [...store.Group.values()], calls,
  if_match: ifMatchSeen }));
app.post('/__admin/users', (req, res) => {
  const id = String(nextId++);
  store.User.set(id, Object.assign({}, req.body, { id,
    meta: { created: new Date().toISOString(), version: newVersion() } }));
  res.status(201).json(store.User.get(id));
});
app.post('/__admin/fail', (req, res) => {
  fail = { status: req.body.status, count: req.body.count || 1 };
  res.json(fail);
});
app.post('/__admin/lag', (req, res) => {
  lag = req.body.count || 1;
  res.json({ lag });
});
app.post('/__admin/page', (req, res) => {
  pageSize = req.body.size || 0;
  res.json({ size: pageSize });
});
app.post('/__admin/groups/:id', (req, res) => {
  const g = store.Group.get(req.params.id);
  if (!g) return res.status(404).json({});
  g.members = req.body.members;
  res.json(g);
});
app.post('/__admin/etag', (req, res) => {
  etag = { require: !!req.body.require, stale: req.body.stale || 0 };
  res.json(etag);
});
// If-Match (RFC 7644 section 3.14) on the writes of a user
function preconditions(req, res, next) {
  if (req.method !== 'PUT' && req.method !== 'PATCH') return next();
  const rec = store.User.get(req.params.id);
  const im = req.header('If-Match');
  if (im) ifMatchSeen++;
  if (rec && im && etag.stale > 0) { // someone wrote it since the client read it
    etag.stale--;
    rec.meta.version = newVersion();
  }
  if (rec && ((etag.require && !im) || (im && im !== '*' && im !== rec.meta.version)))
    return res.status(412).type('application/scim+json').send(JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '412',
      detail: im ? 'the resource changed: If-Match does not match' : 'If-Match is required' }));
  next();
}
app.use('/scim/v2', (req, res, next) => {
  calls++;
  // a server's page size: scimmy-routers reads count from the query
  if (pageSize > 0 && req.method === 'GET' && !(Number(req.query.count) <= pageSize))
    req.query.count = String(pageSize);
  next();
});
app.use('/scim/v2/Users/:id', preconditions);
app.use('/scim/v2', new SCIMMYRouters({
  type: 'bearer',
  handler: (req) => {
    if (token !== null && req.header('Authorization') !== `Bearer ${token}`)
      throw new Error('Authorization failed');
    return 'groupsync';
  },
  context: (req) => ({ auth: req.header('Authorization') }),
}));
app.listen(port, host, () => console.log(`scim stand-in on ${host}:${port}`));
