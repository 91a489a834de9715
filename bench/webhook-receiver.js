#!/usr/bin/env node
'use strict';
/*
 * webhook-receiver.js: a webhook receiver for bench/webhooks. Answers every
 * POST with 204 after --delay-ms and records its arrival (milliseconds since
 * the epoch, the clock bench/webhooks.py reads too), X-Wazera-Delivery and,
 * from the body, the event id and data.phone. GET /_stats answers
 * {"count", "distinct", "first_ms", "last_ms", "phones": {phone: first
 * arrival ms}, "per_second": {second: n}}; POST /_reset forgets all.
 *
 *   webhook-receiver.js --listen 127.0.0.1:PORT [--delay-ms N]
 */
const http = require('node:http');
const { performance } = require('node:perf_hooks');

let listen = '127.0.0.1:0', delay = 0;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--listen') listen = process.argv[++i];
  else if (process.argv[i] === '--delay-ms') delay = Number(process.argv[++i]);
}
const now = () => performance.timeOrigin + performance.now();

let count, events, phones, perSecond, first, last;
function reset() {
  count = 0; events = new Set(); phones = {}; perSecond = {};
  first = 0; last = 0;
}
reset();

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/_stats') {
      const body = JSON.stringify({ count, distinct: events.size,
        first_ms: first, last_ms: last, phones, per_second: perSecond });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(body);
    }
    if (req.method === 'POST' && req.url === '/_reset') {
      reset();
      res.writeHead(204);
      return res.end();
    }
    const t = now();
    count++;
    if (!first) first = t;
    last = t;
    const s = Math.floor(t / 1000);
    perSecond[s] = (perSecond[s] || 0) + 1;
    try {
      const b = JSON.parse(Buffer.concat(chunks).toString());
      events.add(b.id);
      if (b.data && b.data.phone && !(b.data.phone in phones))
        phones[b.data.phone] = t;
    } catch (e) { /* counted all the same */ }
    const answer = () => { res.writeHead(204); res.end(); };
    if (delay > 0) setTimeout(answer, delay); else answer();
  });
});
server.keepAliveTimeout = 30000;
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')),
  Number(listen.slice(listen.lastIndexOf(':') + 1))];
server.listen(port, host, () => {
  console.log('webhook-receiver listening on ' + host + ':' +
    server.address().port);
});
