#!/usr/bin/env node
'use strict';
/*
 * selftest.js: a by-hand check of graph-sandbox.js (not part of CI).
 *   node tests/sandbox/selftest.js
 * Starts the sandbox on a free loopback port and a small signed-webhook
 * receiver in this process, exercises the Graph routes, the scripts, the
 * webhooks and the control API, and ends with "N passed, M failed".
 */
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const SANDBOX = path.join(__dirname, 'graph-sandbox.js');
const TOKEN = 'selftest-token';
const SECRET = 'selftest-secret-ü';
let passed = 0;
let failed = 0;

function check(name, cond, extra) {
  if (cond) { passed++; return; }
  failed++;
  console.log('FAIL ' + name + (extra !== undefined ? ': ' + JSON.stringify(extra).slice(0, 600) : ''));
}

const agent = new http.Agent({ keepAlive: true });
function request(base, method, p, body, headers, timeoutMs) {
  return new Promise((resolve) => {
    const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = Object.assign({}, headers || {});
    if (data) { h['content-type'] = h['content-type'] || 'application/json'; h['content-length'] = data.length; }
    const req = http.request(base + p, { method, headers: h, agent: timeoutMs ? undefined : agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    if (data) req.write(data);
    req.end();
  });
}

function startReceiver() {
  const got = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const sig = req.headers['x-hub-signature-256'] || '';
      const want = 'sha256=' + crypto.createHmac('sha256', SECRET).update(raw).digest('hex');
      const ok = sig.length === want.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want));
      got.push({ ok, ct: req.headers['content-type'], body: JSON.parse(raw.toString('utf8')), path: req.url });
      res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' });
      res.end(ok ? 'received' : 'bad signature');
    });
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, got, port: srv.address().port })));
}

function startSandbox(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SANDBOX].concat(args), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /graph-sandbox listening on (127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) resolve({ child, base: 'http://' + m[1] });
    });
    child.on('exit', (code) => reject(new Error('sandbox exited ' + code)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const rcv = await startReceiver();
  const pidfile = path.join(os.tmpdir(), 'graph-sandbox-selftest-' + process.pid + '.pid');
  const sb = await startSandbox(['--listen', '127.0.0.1:0', '--pidfile', pidfile, '--token', TOKEN,
    '--app-secret', SECRET, '--webhook-url', 'http://127.0.0.1:' + rcv.port + '/api/v1/whatsapp/webhook']);
  const B = sb.base;
  const auth = { authorization: 'Bearer ' + TOKEN };
  const send = (body, hdrs, pn, ver) => request(B, 'POST', (ver === undefined ? '/v25.0' : ver) + '/' + (pn || '106540352242922') + '/messages', body, hdrs || auth);
  check('pidfile written', fs.readFileSync(pidfile, 'utf8').trim() === String(sb.child.pid));

  // --- text send, record
  let r = await send({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '+49 (151) 123-4567',
    type: 'text', text: { body: 'Hallo 😀', preview_url: false }, biz_opaque_callback_data: 'ref-1' });
  check('text 200', r.status === 200, r);
  check('text contacts', r.json && r.json.contacts[0].input === '+49 (151) 123-4567' && r.json.contacts[0].wa_id === '491511234567', r.json);
  const wamid1 = r.json && r.json.messages[0].id;
  check('wamid shape', /^wamid\.[A-Za-z0-9+/=]+$/.test(wamid1) && !('message_status' in r.json.messages[0]), r.json);
  check('headers', r.headers['x-fb-trace-id'] && r.headers['facebook-api-version'] === 'v25.0', r.headers);
  r = await request(B, 'GET', '/_sandbox/requests?since=0');
  const rec = r.json.requests[0];
  check('record', rec && rec.seq === 1 && rec.method === 'POST' && rec.phone_number_id === '106540352242922' &&
    rec.authorization === 'Bearer ' + TOKEN && rec.body.text.body === 'Hallo 😀' && rec.status === 200 &&
    rec.wamid === wamid1 && typeof rec.t === 'number' && r.json.next === 1, r.json);

  // --- template (no version prefix)
  r = await send({ messaging_product: 'whatsapp', to: '4915112345', type: 'template',
    template: { name: 'hello_world', language: { code: 'en_US' } } }, auth, '106540352242922', '');
  check('template 200 accepted', r.status === 200 && r.json.messages[0].message_status === 'accepted', r.json);
  r = await request(B, 'GET', '/_sandbox/requests?since=1');
  check('since', r.json.requests.length === 1 && r.json.requests[0].seq === 2 && r.json.requests[0].path === '/106540352242922/messages', r.json);

  // --- auth
  r = await send({ messaging_product: 'whatsapp', to: '+4915112345', type: 'text', text: { body: 'x' } }, {});
  check('no token 401/190', r.status === 401 && r.json.error.code === 190 && r.json.error.type === 'OAuthException' &&
    /^\(#190\) /.test(r.json.error.message) && r.json.error.fbtrace_id, r.json);
  r = await send({ messaging_product: 'whatsapp', to: '+4915112345', type: 'text', text: { body: 'x' } }, { authorization: 'Bearer nope' });
  check('wrong token 401/190', r.status === 401 && r.json.error.code === 190, r.json);

  // --- validation table
  const base = { messaging_product: 'whatsapp', to: '+4915112345' };
  const cases = [
    [{ to: '+4915112345', type: 'text', text: { body: 'x' } }, 131008],
    [{ messaging_product: 'sms', to: '+4915112345', type: 'text', text: { body: 'x' } }, 131009],
    [Object.assign({}, base, { type: 'text' }), 131008],
    [Object.assign({}, base, { type: 'text', text: {} }), 131008],
    [Object.assign({}, base, { type: 'text', text: { body: '' } }), 131009],
    [Object.assign({}, base, { type: 'text', text: { body: 'x'.repeat(4097) } }), 131009],
    [Object.assign({}, base, { type: 'text', text: { body: '😀'.repeat(4096) } }), 200],
    [Object.assign({}, base, { type: 'text', text: { body: 'x' }, extra: 1 }), 100],
    [Object.assign({}, base, { type: 'text', text: { body: 'x' }, image: { id: '1' } }), 100],
    [Object.assign({}, base, { type: 'carrier_pigeon' }), 131051],
    [{ messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }, 131008],
    [{ messaging_product: 'whatsapp', recipient: 'US.13491208655302741918', type: 'text', text: { body: 'x' } }, 200],
    [Object.assign({}, base, { to: 'abc', type: 'text', text: { body: 'x' } }), 131009],
    [Object.assign({}, base, { type: 'image', image: { link: 'https://example.com/a.jpg', caption: 'c' } }), 200],
    [Object.assign({}, base, { type: 'image', image: { id: '1', link: 'https://example.com/a.jpg' } }), 131009],
    [Object.assign({}, base, { type: 'image', image: {} }), 131008],
    [Object.assign({}, base, { type: 'image', image: { link: 'ftp://x/y' } }), 131009],
    [Object.assign({}, base, { type: 'audio', audio: { id: '1', caption: 'c' } }), 100],
    [Object.assign({}, base, { type: 'image', image: { id: '1', filename: 'a.jpg' } }), 100],
    [Object.assign({}, base, { type: 'document', document: { id: '1', filename: 'a.pdf', caption: 'c' } }), 200],
    [Object.assign({}, base, { type: 'sticker', sticker: { id: '1' } }), 200],
    [Object.assign({}, base, { type: 'location', location: { latitude: 37.7, longitude: -122.4, name: 'HQ' } }), 200],
    [Object.assign({}, base, { type: 'location', location: { latitude: '37.7', longitude: -122.4 } }), 131009],
    [Object.assign({}, base, { type: 'location', location: { latitude: 37.7 } }), 131008],
    [Object.assign({}, base, { type: 'template', template: { name: 'x', language: 'en' } }), 131009],
    [Object.assign({}, base, { type: 'template', template: { language: { code: 'en' } } }), 131008],
    [Object.assign({}, base, { type: 'template', template: { name: 'x' } }), 131008],
    [Object.assign({}, base, { type: 'template', template: { name: 'order_update', language: { code: 'en_US', policy: 'deterministic' },
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Jo' }] },
        { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'STOP' }] }] } }), 200],
    [Object.assign({}, base, { type: 'template', template: { name: 'x', language: { code: 'en' }, components: [{ type: 'button' }] } }), 131008],
    [Object.assign({}, base, { type: 'interactive', interactive: { type: 'button', body: { text: 'b' }, action: { buttons: [] } } }), 200],
    [Object.assign({}, base, { type: 'interactive', interactive: { body: { text: 'b' } } }), 131008],
    [Object.assign({}, base, { type: 'contacts', contacts: [{ name: { formatted_name: 'J S' }, phones: [{ phone: '+1' }] }] }), 200],
    [Object.assign({}, base, { type: 'contacts', contacts: {} }), 131009],
    [Object.assign({}, base, { type: 'reaction', reaction: { message_id: 'wamid.x', emoji: '👍' } }), 200],
    [Object.assign({}, base, { type: 'reaction', reaction: { emoji: '👍' } }), 131008],
    [Object.assign({}, base, { type: 'text', text: { body: 'x' }, context: { message_id: 'wamid.y' } }), 200],
    [{ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.z', typing_indicator: { type: 'text' } }, 200],
    ['{"messaging_product":', 100],
  ];
  for (const [body, want] of cases) {
    r = await send(body);
    const got = r.status === 200 ? 200 : r.json && r.json.error && r.json.error.code;
    check('validate ' + JSON.stringify(body).slice(0, 120) + ' -> ' + want, got === want, r.json);
    if (want !== 200 && r.json && r.json.error)
      check('error shape ' + want, r.status === 400 && r.json.error.message.startsWith('(#' + want + ') ') &&
        r.json.error.type === 'OAuthException' && r.json.error.error_data && r.json.error.error_data.details &&
        r.json.error.fbtrace_id, r.json);
  }

  // --- templates listing
  r = await request(B, 'GET', '/v23.0/102290129340398/message_templates?limit=3', undefined, auth);
  check('templates', r.status === 200 && r.json.data[0].name === 'hello_world' && r.json.data[0].language === 'en_US' &&
    r.json.data[0].status === 'APPROVED' && r.json.paging.cursors.after && r.json.paging.next, r.json);

  // --- scripts
  await request(B, 'POST', '/_sandbox/reset');
  r = await request(B, 'POST', '/_sandbox/script', { rules: [
    { match: { to: '+4915100001' }, times: 2, action: { error_code: 130429 } },
    { match: { to: '4915100002', phone_number_id: '106540352242922', type: 'text' }, action: { timeout: true } },
    { match: { to: '+4915100003' }, times: 1, action: { http_status: 500, body: 'oops' } },
    { match: { to: '+4915100004' }, times: 1, action: { close: true } },
    { match: { to: '+4915100005' }, times: 1, action: { latency_ms: 250 } },
    { match: { to: '+4915100006' }, times: 1, action: { error_code: 131056, http_status: 429 } },
  ] });
  check('script set', r.status === 200 && r.json.rules.length === 6, r.json);
  const msgTo = (to) => ({ messaging_product: 'whatsapp', to, type: 'text', text: { body: 'x' } });
  r = await send(msgTo('+49 151 00001'));
  check('script error 1', r.status === 400 && r.json.error.code === 130429 && r.json.error.message === '(#130429) Rate limit hit', r.json);
  r = await send(msgTo('+4915100001'));
  check('script error 2', r.status === 400 && r.json.error.code === 130429, r.json);
  r = await send(msgTo('+4915100001'));
  check('script times used up', r.status === 200, r.json);
  let t = Date.now();
  r = await request(B, 'POST', '/v25.0/106540352242922/messages', msgTo('+4915100002'), auth, 400);
  check('script timeout', r.status === 0 && Date.now() - t >= 390, r);
  r = await send(msgTo('+4915100002'), auth, '999');
  check('script phone_number_id mismatch', r.status === 200, r.json);
  r = await send(msgTo('+4915100003'));
  check('script raw 500', r.status === 500 && r.text === 'oops', r);
  r = await request(B, 'POST', '/v25.0/106540352242922/messages', msgTo('+4915100004'), auth, 2000);
  check('script close', r.status === 0 && !/timeout/.test(r.error), r);
  t = Date.now();
  r = await send(msgTo('+4915100005'));
  check('script latency', r.status === 200 && Date.now() - t >= 240, r);
  r = await send(msgTo('+4915100006'));
  check('script 429', r.status === 429 && r.json.error.code === 131056, r.json);
  r = await request(B, 'GET', '/_sandbox/script');
  check('script hits', r.json.rules[0].hits === 2 && r.json.rules[0].remaining === 0 && r.json.rules[1].hits === 1, r.json);
  r = await request(B, 'GET', '/_sandbox/requests?since=0');
  const acts = r.json.requests.map((x) => x.action || (x.status === 200 ? 'ok' : x.error_code));
  check('records actions', JSON.stringify(acts) === JSON.stringify(['error', 'error', 'ok', 'timeout', 'ok', 'raw', 'close', 'ok', 'error']), acts);
  r = await request(B, 'GET', '/_sandbox/requests?since=0&phone_number_id=999');
  check('requests filter', r.json.requests.length === 1, r.json);
  r = await request(B, 'DELETE', '/_sandbox/script');
  r = await send(msgTo('+4915100001'));
  check('script cleared', r.status === 200);
  r = await request(B, 'POST', '/_sandbox/script', { rules: [{ match: { bogus: 1 }, action: {} }] });
  check('script bad rule 400', r.status === 400 && r.json.error, r.json);
  r = await request(B, 'POST', '/_sandbox/script', { rules: [{ match: { to: [] }, action: { error_code: 131049 } }] });
  check('script empty to list 400', r.status === 400 && /empty/.test(r.json.error), r.json);

  // --- a campaign's sends: chosen recipients scripted in one rule, the
  // template's status (strict), and the arrivals for a bench
  await request(B, 'POST', '/_sandbox/reset');
  r = await request(B, 'POST', '/_sandbox/script', { rules: [
    { match: { to: ['+4915200001', '4915200002'], template: 'spring_sale' }, action: { error_code: 131049 } },
    { match: { to: ['+4915200003'] }, times: 1, action: { error_code: 132015 } },
  ] });
  check('script to list set', r.status === 200 && r.json.rules[0].match.to.length === 2, r.json);
  const tplTo = (to, name, lang, ref) => ({ messaging_product: 'whatsapp', to, type: 'template', biz_opaque_callback_data: ref,
    template: { name: name || 'spring_sale', language: { code: lang || 'en' }, components: [{ type: 'body', parameters: [
      { type: 'text', parameter_name: 'first_name', text: 'Ada' }, { type: 'text', parameter_name: 'discount', text: '20%' }] }] } });
  r = await send(tplTo('+49 152 00001', null, null, 'wz:1'));
  check('campaign 131049 for a listed recipient (digits)', r.status === 400 && r.json.error.code === 131049 &&
    r.json.error.message === '(#131049) This message was not delivered to maintain healthy ecosystem engagement.' &&
    /healthy ecosystem/.test(r.json.error.error_data.details), r.json);
  r = await send(tplTo('4915200002', null, null, 'wz:2'));
  check('campaign 131049 for the second listed recipient', r.status === 400 && r.json.error.code === 131049, r.json);
  r = await send(tplTo('+4915200002', 'hello_world', 'en_US', 'wz:3'));
  check('listed recipient, other template: sent', r.status === 200 && r.json.messages[0].message_status === 'accepted', r.json);
  r = await send(tplTo('+4915200003', null, null, 'wz:4'));
  check('campaign 132015 scripted for one recipient', r.status === 400 && r.json.error.code === 132015 &&
    r.json.error.message === '(#132015) Template is Paused' && /paused/.test(r.json.error.error_data.details), r.json);
  r = await send(tplTo('+4915200003', null, null, 'wz:5'));
  check('132015 once, then sent', r.status === 200, r.json);
  r = await send(tplTo('+4915200004', null, null, 'wz:6'), auth, '106540352242999');
  check('unlisted recipient sent', r.status === 200, r.json);
  await request(B, 'POST', '/_sandbox/config', { strict_templates: true });
  r = await send(tplTo('+4915200005', 'winter_promo', 'en_US'));
  check('strict: paused template 132015', r.status === 400 && r.json.error.code === 132015, r.json);
  r = await send(tplTo('+4915200005', 'old_announcement', 'en_US'));
  check('strict: disabled template 132016', r.status === 400 && r.json.error.code === 132016, r.json);
  r = await send(tplTo('+4915200005', 'spring_sale', 'en'));
  check('strict: approved template sent', r.status === 200, r.json);
  r = await send(tplTo('+4915200005', 'spring_sale', 'de'));
  check('strict: other language 132001', r.status === 400 && r.json.error.code === 132001, r.json);
  await request(B, 'POST', '/_sandbox/config', { strict_templates: false });
  r = await request(B, 'GET', '/_sandbox/arrivals?phone_number_id=106540352242922&fields=ref,to,status,error_code,seq');
  const ar = r.json;
  check('arrivals of one number', r.status === 200 && ar.count === 9 && ar.t.length === 9 &&
    ar.t.every((x, i) => typeof x === 'number' && (i === 0 || x >= ar.t[i - 1])) &&
    JSON.stringify(ar.ref) === JSON.stringify(['wz:1', 'wz:2', 'wz:3', 'wz:4', 'wz:5', null, null, null, null]) &&
    JSON.stringify(ar.status) === JSON.stringify([400, 400, 200, 400, 200, 400, 400, 200, 400]) &&
    JSON.stringify(ar.error_code.slice(0, 4)) === JSON.stringify([131049, 131049, null, 132015]) &&
    ar.to[0] === '+49 152 00001' && ar.seq.length === 9 && ar.next >= ar.seq[8], ar);
  r = await request(B, 'GET', '/_sandbox/arrivals?phone_number_id=106540352242999');
  check('arrivals of another number, t only', r.json.count === 1 && r.json.t.length === 1 && r.json.ref === undefined, r.json);
  r = await request(B, 'GET', '/_sandbox/arrivals?since=' + ar.seq[7]);
  check('arrivals since, all numbers', r.json.count === 1 && r.json.phone_number_id === null, r.json);
  r = await request(B, 'GET', '/_sandbox/arrivals?fields=body');
  check('arrivals bad field 400', r.status === 400 && /unknown field/.test(r.json.error), r.json);
  r = await request(B, 'GET', '/_sandbox/stats');
  const pn2 = r.json.phone_numbers['106540352242922'];
  check('stats agree with arrivals', pn2.message_requests === 9 && pn2.first_request_at <= ar.t[0] + 0.1 &&
    pn2.last_request_at >= ar.t[8] - 0.1, pn2);

  // --- webhooks: control endpoint, inbound + status
  r = await request(B, 'POST', '/_sandbox/webhook', {
    phone_number_id: '106540352242922', display_phone_number: '15550783881', waba_id: '102290129340398',
    messages: [{ from: '4915112345', type: 'text', text: { body: 'Grüße 😀' } }], profile_name: 'Sheena' });
  check('webhook inbound answered', r.status === 200 && r.json.status === 200 && r.json.body === 'received', r.json);
  let g = rcv.got[rcv.got.length - 1];
  const v = g && g.body.entry[0].changes[0].value;
  check('webhook inbound signed', g && g.ok && g.ct === 'application/json' && g.path === '/api/v1/whatsapp/webhook', g);
  check('webhook inbound envelope', g && g.body.object === 'whatsapp_business_account' && g.body.entry[0].id === '102290129340398' &&
    g.body.entry[0].changes[0].field === 'messages' && v.messaging_product === 'whatsapp' &&
    v.metadata.phone_number_id === '106540352242922' && v.metadata.display_phone_number === '15550783881' &&
    v.contacts[0].wa_id === '4915112345' && v.contacts[0].profile.name === 'Sheena' &&
    v.messages[0].text.body === 'Grüße 😀' && typeof v.messages[0].timestamp === 'string' && /^wamid\./.test(v.messages[0].id), v);
  r = await send({ messaging_product: 'whatsapp', to: '+4915177777', type: 'text', text: { body: 'x' }, biz_opaque_callback_data: 'cb-7' });
  const wamid2 = r.json.messages[0].id;
  r = await request(B, 'POST', '/_sandbox/webhook', { statuses: [{ id: wamid2, status: 'failed', error_code: 131026 }] });
  g = rcv.got[rcv.got.length - 1];
  const st = g.body.entry[0].changes[0].value.statuses[0];
  check('webhook failed status', r.json.status === 200 && g.ok && st.id === wamid2 && st.status === 'failed' &&
    st.recipient_id === '4915177777' && st.biz_opaque_callback_data === 'cb-7' && st.errors[0].code === 131026 &&
    st.errors[0].title && typeof st.timestamp === 'string' &&
    g.body.entry[0].changes[0].value.metadata.phone_number_id === '106540352242922', st);
  // per-number secret and a bad signature
  await request(B, 'POST', '/_sandbox/config', { app_secrets: { '555': 'another-secret' } });
  r = await request(B, 'POST', '/_sandbox/webhook', { phone_number_id: '555', messages: [{ from: '4915112345', text: 'x' }] });
  check('per-number secret used', r.json.status === 401 && rcv.got[rcv.got.length - 1].ok === false, r.json);
  check('signature in answer', r.json.signature === 'sha256=' + crypto.createHmac('sha256', 'another-secret').update(r.json.payload).digest('hex'), r.json);

  // --- enforce_window: Meta keeps the window per business number
  await request(B, 'POST', '/_sandbox/config', { enforce_window: true });
  await request(B, 'POST', '/_sandbox/webhook', { phone_number_id: '106540352242922', messages: [{ from: '4915166666', text: 'hi' }] });
  r = await send(msgTo('+4915166666'));
  check('window open with the number written to', r.status === 200, r.json);
  r = await send(msgTo('+4915166666'), auth, '106540352242999');
  check('window closed with another number: 131047', r.status === 400 && r.json.error.code === 131047, r.json);
  r = await send({ messaging_product: 'whatsapp', to: '+4915166666', type: 'template',
    template: { name: 'hello_world', language: { code: 'en_US' } } }, auth, '106540352242999');
  check('template from another number', r.status === 200, r.json);
  await request(B, 'POST', '/_sandbox/config', { enforce_window: false });

  // --- auto_status
  await request(B, 'POST', '/_sandbox/config', { auto_status: 'read' });
  const before = rcv.got.length;
  r = await send({ messaging_product: 'whatsapp', to: '+4915188888', type: 'text', text: { body: 'x' }, biz_opaque_callback_data: 'auto-1' });
  const wamid3 = r.json.messages[0].id;
  for (let i = 0; i < 100 && rcv.got.length < before + 3; i++) await sleep(10);
  const auto = rcv.got.slice(before).map((x) => x.body.entry[0].changes[0].value.statuses[0]);
  check('auto_status order', JSON.stringify(auto.map((s) => s.status)) === '["sent","delivered","read"]', auto);
  check('auto_status content', auto.length === 3 && auto.every((s) => s.id === wamid3 && s.biz_opaque_callback_data === 'auto-1' &&
    s.recipient_id === '4915188888') && rcv.got.slice(before).every((x) => x.ok) && auto[0].pricing, auto);
  const before1 = rcv.got.length;
  r = await send({ messaging_product: 'whatsapp', to: '+4915188889', type: 'template', biz_opaque_callback_data: 'wz:77',
    template: { name: 'spring_sale', language: { code: 'en' } } });
  for (let i = 0; i < 100 && rcv.got.length < before1 + 3; i++) await sleep(10);
  const autoT = rcv.got.slice(before1).map((x) => x.body.entry[0].changes[0].value.statuses[0]);
  check('auto_status for a marketing template', autoT.length === 3 && autoT[0].pricing.category === 'marketing' &&
    autoT[1].pricing.category === 'marketing' && autoT[0].pricing.type === 'regular' && !autoT[2].pricing &&
    autoT.every((x) => x.biz_opaque_callback_data === 'wz:77'), autoT);
  await request(B, 'POST', '/_sandbox/script', { rules: [{ match: { to: '+4915199999' }, times: 1, action: { async_error_code: 131049 } }] });
  const before2 = rcv.got.length;
  r = await send(msgTo('+4915199999'));
  check('async_error_code answers 200', r.status === 200, r.json);
  for (let i = 0; i < 100 && rcv.got.length < before2 + 2; i++) await sleep(10);
  await sleep(50);
  const af = rcv.got.slice(before2).map((x) => x.body.entry[0].changes[0].value.statuses[0]);
  check('async_error_code webhooks', af.length === 2 && af[0].status === 'sent' && af[1].status === 'failed' &&
    af[1].errors[0].code === 131049 && !af[1].pricing, af);
  // --- status_batch_ms: several messages' statuses in one payload, in order
  await request(B, 'POST', '/_sandbox/config', { auto_status: 'delivered', status_batch_ms: 100 });
  const before3 = rcv.got.length;
  await Promise.all(['+4915177001', '+4915177002', '+4915177003'].map((to) => send(msgTo(to))));
  for (let i = 0; i < 200 && rcv.got.slice(before3).reduce((n, x) =>
    n + x.body.entry[0].changes[0].value.statuses.length, 0) < 6; i++) await sleep(10);
  const batches = rcv.got.slice(before3).map((x) => x.body.entry[0].changes[0].value.statuses);
  check('status_batch_ms batches', batches.length === 2 && batches.every((b) => b.length === 3) &&
    batches[0].every((x) => x.status === 'sent') && batches[1].every((x) => x.status === 'delivered') &&
    rcv.got.slice(before3).every((x) => x.ok), batches);
  await request(B, 'POST', '/_sandbox/config', { status_batch_ms: 0 });
  await request(B, 'POST', '/_sandbox/config', { auto_status: 'none', webhook_url: 'http://127.0.0.1:1/nothing' });
  r = await request(B, 'POST', '/_sandbox/webhook', { phone_number_id: '1', messages: [{ from: '4915112345', text: 'x' }] });
  check('webhook unreachable', r.status === 502 && r.json.status === 0 && r.json.error, r.json);

  // --- config tokens at runtime
  await request(B, 'POST', '/_sandbox/config', { add_tokens: ['second'] });
  r = await send(msgTo('+4915112345'), { authorization: 'Bearer second' });
  check('added token accepted', r.status === 200, r.json);

  // --- stats
  r = await request(B, 'GET', '/_sandbox/stats');
  const pn = r.json.phone_numbers['106540352242922'];
  check('stats', r.json.message_requests >= 10 && pn && pn.max_per_second >= 1 && pn.max_per_calendar_second >= 1 &&
    pn.first_request_at <= pn.last_request_at && r.json.webhooks.posted >= 5 && r.json.webhooks.failed >= 1, r.json);
  r = await request(B, 'POST', '/_sandbox/reset');
  r = await request(B, 'GET', '/_sandbox/stats');
  check('reset', r.json.message_requests === 0 && r.json.records.stored === 0, r.json);

  // --- SIGTERM
  const exited = new Promise((res) => sb.child.on('exit', (code, sig) => res({ code, sig })));
  sb.child.kill('SIGTERM');
  const ex = await exited;
  check('SIGTERM clean exit', ex.code === 0, ex);
  check('pidfile removed', !fs.existsSync(pidfile));

  rcv.srv.close();
  agent.destroy();
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
