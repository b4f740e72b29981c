#!/usr/bin/env node
// A fast in-memory remote system for benchmarks: the subset of json-server's
// REST API that hooks/rest uses (POST /users, GET /users?field=value,
// GET/PUT/DELETE /users/:id), with an index on oktaId so that a lookup is
// O(1). Integration tests use the real json-server; this exists because
// json-server (lowdb, express) answers a few hundred requests a second,
// which would measure json-server instead of groupsync.
// usage: node remote.js --port N [--host 127.0.0.1]
'use strict';
const http = require('http');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const port = Number(opt('--port', '3000'));
const host = opt('--host', '127.0.0.1');

const users = new Map(); // id -> record
const byOktaId = new Map(); // oktaId -> id
let nextId = 1;
const counts = { find: 0, create: 0, update: 0, delete: 0, get: 0 };

function send(res, status, body) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function index(rec, add) {
  if (rec && typeof rec.oktaId === 'string') {
    if (add) byOktaId.set(rec.oktaId, rec.id);
    else byOktaId.delete(rec.oktaId);
  }
}

function handle(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === '__stats') return send(res, 200, { users: users.size, counts });
  if (parts[0] !== 'users') return send(res, 404, {});
  let json;
  if (body.length) {
    try { json = JSON.parse(body); } catch (e) { return send(res, 400, { error: 'bad json' }); }
  }
  if (parts.length === 1) {
    if (req.method === 'POST') {
      counts.create++;
      const rec = Object.assign({}, json, { id: nextId++ });
      users.set(rec.id, rec);
      index(rec, true);
      return send(res, 201, rec);
    }
    if (req.method === 'GET') {
      counts.find++;
      const q = [...url.searchParams.entries()];
      if (q.length === 1 && q[0][0] === 'oktaId') {
        const id = byOktaId.get(q[0][1]);
        return send(res, 200, id === undefined ? [] : [users.get(id)]);
      }
      return send(res, 200, [...users.values()].filter((u) => q.every(([k, v]) => String(u[k]) === v)));
    }
    return send(res, 405, {});
  }
  const id = Number(parts[1]);
  const rec = users.get(id);
  if (!rec) return send(res, 404, {});
  if (req.method === 'GET') { counts.get++; return send(res, 200, rec); }
  if (req.method === 'PUT') {
    counts.update++;
    index(rec, false);
    const upd = Object.assign({}, json, { id });
    users.set(id, upd);
    index(upd, true);
    return send(res, 200, upd);
  }
  if (req.method === 'DELETE') {
    counts.delete++;
    index(rec, false);
    users.delete(id);
    return send(res, 200, {});
  }
  return send(res, 405, {});
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()));
});
server.keepAliveTimeout = 30000;
server.listen(port, host, () => console.log(`remote-standin listening on http://${host}:${port}`));
