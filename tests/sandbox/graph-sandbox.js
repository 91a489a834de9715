#!/usr/bin/env node
'use strict';
/*
 * graph-sandbox.js: a stand-in for Meta's WhatsApp Cloud API (Graph API) for
 * Wazera's tests, benchmarks and the local demo stack.  Node >= 18, built-in
 * modules only.  See README.md beside this file for the routes and the
 * control API.
 *
 *   graph-sandbox.js --listen 127.0.0.1:PORT [--pidfile F] [--token T]...
 *       [--app-secret S] [--webhook-url URL]
 *       [--auto-status none|sent|delivered|read] [--latency-ms N]
 *       [--max-records N] [--strict-templates] [--enforce-window]
 *       [--status-batch-ms N]
 *
 * Everything is kept in memory; nothing is logged per request.
 */

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { URL } = require('node:url');
const { performance } = require('node:perf_hooks');

const DEFAULT_VERSION = 'v25.0';
const STATUS_LEVELS = { none: 0, sent: 1, delivered: 2, read: 3 };
const STATUS_NAMES = ['none', 'sent', 'delivered', 'read'];
const MAX_BODY = 8 * 1024 * 1024;
const WEBHOOK_LOG_MAX = 1000;
const AUTO_STATUS_GAP_MS = 5;

// ---------------------------------------------------------------- errors --
// Titles as Meta words them (cloud-api.md section 2); the message is
// "(#CODE) title".
const ERROR_TITLES = {
  0: 'AuthException',
  1: 'API Unknown',
  2: 'API Service',
  3: 'API Method',
  4: 'API Too Many Calls',
  10: 'Permission Denied',
  33: 'This business phone number has been deleted',
  100: 'Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  200: 'Permissions error',
  368: 'Temporarily blocked for policies violations',
  80007: 'Rate limit issues',
  130403: 'The business has blocked this user',
  130429: 'Rate limit hit',
  130472: "User's number is part of an experiment",
  130497: 'Business account is restricted from messaging users in this country',
  131000: 'Something went wrong',
  131005: 'Access denied',
  131008: 'Required parameter is missing',
  131009: 'Parameter value is not valid',
  131016: 'Service unavailable',
  131021: 'Recipient cannot be sender',
  131026: 'Message undeliverable',
  131031: 'Business Account locked',
  131037: 'WhatsApp provided number needs display name approval before message can be sent',
  131042: 'Business eligibility payment issue',
  131045: 'Incorrect certificate',
  131047: 'Re-engagement message',
  131048: 'Spam rate limit hit',
  131049: 'This message was not delivered to maintain healthy ecosystem engagement.',
  131050: 'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
  131051: 'Unsupported message type',
  131052: 'Media download error',
  131053: 'Media upload error',
  131056: '(Business Account, Consumer Account) pair rate limit hit',
  131057: 'Account in maintenance mode',
  131063: 'Marketing template messages are disabled for this WhatsApp Business Account',
  131064: 'Messaging limit reached',
  132000: 'Number of parameters does not match the expected number of params',
  132001: 'Template name does not exist in the translation',
  132005: 'Translated text too long',
  132007: 'Template Format Character Policy Violated',
  132012: 'Parameter format does not match format in the created template',
  132015: 'Template is Paused',
  132016: 'Template is Disabled',
  132068: 'Flow is in blocked state',
  132069: 'Flow is in throttled state',
  133000: 'Incomplete Deregistration',
  133004: 'Server Temporarily Unavailable',
  133010: 'Phone number Not Registered',
  133016: 'Account register deregister rate limit exceeded',
  135000: 'Generic user error',
};

const ERROR_DETAILS = {
  4: 'The app has reached its API call rate limit.',
  80007: 'The WhatsApp Business Account has reached its rate limit.',
  130429: 'Cloud API message throughput has been reached.',
  131000: 'Message failed to send due to an unknown error.',
  131016: 'A service is temporarily unavailable.',
  131026: 'Message could not be delivered to the recipient.',
  131047: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  131048: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.',
  131056: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
  131057: 'Business Account is in maintenance mode.',
  131031: 'Business Account locked.',
  131049: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
  131050: 'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
  131063: 'Marketing template messages are disabled for this WhatsApp Business Account on Cloud API.',
  132001: 'The template does not exist in the specified language or the template has not been approved.',
  132015: 'The template has been paused due to low quality, so it cannot be sent in a template message.',
  132016: 'The template has been paused too many times due to low quality and is now permanently disabled.',
  368: 'The WhatsApp Business Account is temporarily blocked for policy violations.',
};

function errTitle(code) {
  return ERROR_TITLES[code] !== undefined ? ERROR_TITLES[code] : 'Error';
}

// ------------------------------------------------------------- templates --
const DEFAULT_TEMPLATES = [
  { id: '1192339204654487', name: 'hello_world', language: 'en_US', status: 'APPROVED',
    category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
      { type: 'BODY', text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.' },
      { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
    ] },
  { id: '1192339204654488', name: 'order_update', language: 'en_US', status: 'APPROVED',
    category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['https://example.com/h.jpg'] } },
      { type: 'BODY', text: 'Hi {{1}}, your order {{2}} is on its way.',
        example: { body_text: [['Jessica', 'SKBUP2']] } },
      { type: 'BUTTONS', buttons: [
        { type: 'QUICK_REPLY', text: 'Stop updates' },
        { type: 'URL', text: 'Track', url: 'https://example.com/{{1}}', example: ['https://example.com/track/123'] },
      ] },
    ] },
  { id: '1192339204654489', name: 'order_update', language: 'de', status: 'APPROVED',
    category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [
      { type: 'BODY', text: 'Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs.',
        example: { body_text: [['Jessica', 'SKBUP2']] } },
    ] },
  { id: '1192339204654490', name: 'spring_sale', language: 'en', status: 'APPROVED',
    category: 'MARKETING', parameter_format: 'NAMED',
    components: [
      { type: 'BODY', text: 'Hi {{first_name}}, {{discount}} off everything this week.',
        example: { body_text_named_params: [
          { param_name: 'first_name', example: 'Mark' },
          { param_name: 'discount', example: '20%' }] } },
      { type: 'FOOTER', text: 'Reply STOP to opt out' },
      { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Stop promotions' }] },
    ] },
  { id: '1192339204654491', name: 'verification_code', language: 'en_US', status: 'APPROVED',
    category: 'AUTHENTICATION', parameter_format: 'POSITIONAL',
    components: [
      { type: 'BODY', text: '*{{1}}* is your verification code.', add_security_recommendation: true,
        example: { body_text: [['123456']] } },
      { type: 'BUTTONS', buttons: [{ type: 'OTP', otp_type: 'COPY_CODE', text: 'Copy code' }] },
    ] },
  { id: '1192339204654492', name: 'winter_promo', language: 'en_US', status: 'PAUSED',
    category: 'MARKETING', parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Winter is coming: 10% off.' }] },
  { id: '1192339204654493', name: 'old_announcement', language: 'en_US', status: 'DISABLED',
    category: 'MARKETING', parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'This template was disabled.' }] },
  { id: '1192339204654494', name: 'pending_notice', language: 'en_US', status: 'PENDING',
    category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Your appointment is on {{1}}.',
      example: { body_text: [['Monday']] } }] },
];

// ---------------------------------------------------------------- state --
const cfg = {
  tokens: new Set(),
  appSecret: null,
  appSecrets: Object.create(null),
  displayPhoneNumbers: Object.create(null),
  wabaIds: Object.create(null),
  webhookUrl: null,
  webhookTarget: null, // parsed URL of webhookUrl
  autoStatus: 0,
  latencyMs: 0,
  statusBatchMs: 0,
  maxRecords: 1000000,
  strictTemplates: false,
  templates: DEFAULT_TEMPLATES,
  enforceWindow: false,
};
const WINDOW_MS = 24 * 3600 * 1000;

let seq = 0;              // last seq handed out; never reset
let records = [];         // records[i].seq strictly increasing
let rules = [];
let stats = newStats();
let webhookLog = [];
const held = new Set();   // responses held open by {"timeout":true}
// The 24-hour service windows: "phone_number_id:wa_id" -> when the customer
// last wrote (ms), from the inbound messages this sandbox posted.
let windows = new Map();

function newStats() {
  return {
    started_at: nowMs(),
    requests: 0,
    message_requests: 0,
    templates_requests: 0,
    other_requests: 0,
    by_status: Object.create(null),
    by_error_code: Object.create(null),
    actions: { timeout: 0, close: 0, error: 0, raw: 0, latency: 0 },
    first_request_at: null,
    last_request_at: null,
    webhooks: { posted: 0, ok: 0, failed: 0, skipped_no_url: 0, in_flight: 0 },
    all: newWindow(),
    phones: new Map(),
  };
}

// Per phone_number_id throughput: "max_per_second" is a sliding window
// (the most message requests whose arrival times fall within any 1000 ms
// interval), "max_per_calendar_second" counts per whole second of the clock.
function newWindow() {
  return {
    message_requests: 0, ok: 0, errors: 0,
    first_request_at: null, last_request_at: null,
    q: [], head: 0, max: 0,
    sec: -1, secCount: 0, secMax: 0,
  };
}

function windowAdd(w, t) {
  w.message_requests++;
  if (w.first_request_at === null) w.first_request_at = t;
  w.last_request_at = t;
  const q = w.q;
  q.push(t);
  const lim = t - 1000;
  let h = w.head;
  while (q[h] <= lim) h++;
  const n = q.length - h;
  if (n > w.max) w.max = n;
  if (h > 4096 && h * 2 > q.length) { q.splice(0, h); h = 0; }
  w.head = h;
  const s = Math.floor(t / 1000);
  if (s !== w.sec) { w.sec = s; w.secCount = 0; }
  if (++w.secCount > w.secMax) w.secMax = w.secCount;
}

function windowView(w) {
  return {
    message_requests: w.message_requests,
    ok: w.ok,
    errors: w.errors,
    max_per_second: w.max,
    max_per_calendar_second: w.secMax,
    first_request_at: w.first_request_at,
    last_request_at: w.last_request_at,
  };
}

function nowMs() { return performance.timeOrigin + performance.now(); }

// ------------------------------------------------------------------ ids --
const idSalt = crypto.randomBytes(6);
let idCounter = 0;
let randPool = crypto.randomBytes(65536);
let randPos = 0;
function randBytes(n) {
  if (randPos + n > randPool.length) { randPool = crypto.randomBytes(65536); randPos = 0; }
  const b = randPool.subarray(randPos, randPos + n);
  randPos += n;
  return b;
}

// wamid.<base64>: 2-byte marker, 6 bytes per-process salt, 6-byte counter,
// 10 random bytes -> 32 base64 characters, unique within the process.
function newWamid() {
  const b = Buffer.allocUnsafe(24);
  b[0] = 0x1c; b[1] = 0x18;
  idSalt.copy(b, 2);
  idCounter++;
  b.writeUIntBE(idCounter, 8, 6);
  randBytes(10).copy(b, 14);
  return 'wamid.' + b.toString('base64');
}

function newTraceId() {
  return randBytes(17).toString('base64').replace(/[+/=]/g, 'A').slice(0, 23);
}

// ------------------------------------------------------------ responses --
function sendJson(res, status, obj, version, extraHeaders) {
  const body = JSON.stringify(obj);
  const h = {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
    'x-fb-trace-id': newTraceId(),
    'x-fb-request-id': newTraceId(),
    'facebook-api-version': version || DEFAULT_VERSION,
  };
  if (extraHeaders) Object.assign(h, extraHeaders);
  res.writeHead(status, h);
  res.end(body);
}

function graphError(code, details, opts) {
  opts = opts || {};
  const e = {
    message: '(#' + code + ') ' + (opts.title || errTitle(code)),
    type: opts.type || 'OAuthException',
    code: code,
  };
  const d = details !== undefined && details !== null ? details : ERROR_DETAILS[code];
  if (d !== undefined && code !== 190) e.error_data = { messaging_product: 'whatsapp', details: d };
  if (opts.error_subcode !== undefined) e.error_subcode = opts.error_subcode;
  e.fbtrace_id = newTraceId();
  return { error: e };
}

// Error object as found inside webhooks (statuses[].errors[]).
function webhookError(code, details) {
  const title = errTitle(code);
  return {
    code: code,
    title: title,
    message: title,
    error_data: { details: details || ERROR_DETAILS[code] || title },
    href: '/documentation/business-messaging/whatsapp/support/error-codes',
  };
}

function ctlJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

// ------------------------------------------------------------ validation --
const MEDIA_TYPES = { image: 1, audio: 1, video: 1, document: 1, sticker: 1 };
const MESSAGE_TYPES = {
  text: 1, image: 1, audio: 1, video: 1, document: 1, sticker: 1,
  location: 1, contacts: 1, interactive: 1, template: 1, reaction: 1,
};
const TOP_KEYS = {
  messaging_product: 1, recipient_type: 1, to: 1, recipient: 1, type: 1,
  context: 1, biz_opaque_callback_data: 1, status: 1, message_id: 1,
  typing_indicator: 1,
};
const INTERACTIVE_TYPES = {
  button: 1, list: 1, cta_url: 1, flow: 1, product: 1, product_list: 1,
  catalog_message: 1, location_request_message: 1, call_permission_request: 1,
  contact_request: 1, address_message: 1, voice_call: 1, carousel: 1,
};
const COMPONENT_TYPES = {
  header: 1, body: 1, footer: 1, button: 1, buttons: 1, carousel: 1,
  limited_time_offer: 1, order_status: 1,
};
const TEXT_KEYS = { body: 1, preview_url: 1 };
const LOCATION_KEYS = { latitude: 1, longitude: 1, name: 1, address: 1 };
const REACTION_KEYS = { message_id: 1, emoji: 1 };

function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
function isStr(v) { return typeof v === 'string'; }
function charLen(s) {
  // characters = Unicode code points
  if (s.length <= 1) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function E(code, details) { return { code: code, details: details }; }
function missing(p) { return E(131008, 'The parameter ' + p + ' is required.'); }
function invalid(p, why) { return E(131009, 'Param ' + p + ' ' + why); }
function unexpected(k, p) { return E(100, 'Unexpected key "' + k + '" on param "' + p + '".'); }

function checkKeys(o, allowed, p) {
  for (const k in o) if (allowed[k] !== 1) return unexpected(k, p);
  return null;
}

// Returns null when valid, else {code, details}.
function validateSend(b) {
  if (!isObj(b)) return E(100, 'The request body must be a JSON object.');
  if (b.messaging_product === undefined) return missing('messaging_product');
  if (b.messaging_product !== 'whatsapp') return invalid('messaging_product', 'must be "whatsapp".');
  const type = b.type;
  for (const k in b) {
    if (TOP_KEYS[k] === 1) continue;
    if (MESSAGE_TYPES[k] === 1 && k === type) continue;
    return unexpected(k, '<root>');
  }
  // Mark as read / typing indicator.
  if (b.status !== undefined) {
    if (b.status !== 'read') return invalid('status', 'must be "read".');
    if (b.message_id === undefined) return missing('message_id');
    if (!isStr(b.message_id) || b.message_id === '') return invalid('message_id', 'must be a non-empty string.');
    if (b.typing_indicator !== undefined) {
      if (!isObj(b.typing_indicator)) return invalid('typing_indicator', 'must be an object.');
      if (b.typing_indicator.type !== 'text') return invalid("typing_indicator['type']", 'must be "text".');
    }
    return null;
  }
  if (b.message_id !== undefined) return unexpected('message_id', '<root>');
  if (b.typing_indicator !== undefined) return unexpected('typing_indicator', '<root>');

  if (b.recipient_type !== undefined && b.recipient_type !== 'individual' && b.recipient_type !== 'group')
    return invalid('recipient_type', 'must be one of {individual, group}.');
  if (b.to !== undefined) {
    if (!isStr(b.to) || b.to === '') return invalid('to', 'must be a non-empty string.');
    if (b.recipient_type !== 'group') {
      if (!/^[0-9+\-() .]+$/.test(b.to)) return invalid('to', 'is not a valid phone number.');
      const dl = b.to.replace(/\D/g, '').length;
      if (dl < 5 || dl > 15) return invalid('to', 'is not a valid phone number.');
    }
  } else if (b.recipient !== undefined) {
    if (!isStr(b.recipient) || b.recipient === '') return invalid('recipient', 'must be a non-empty string.');
  } else {
    return missing('to');
  }
  if (type === undefined) return missing('type');
  if (!isStr(type)) return invalid('type', 'must be a string.');
  if (MESSAGE_TYPES[type] !== 1) return E(131051, 'Message type "' + type + '" is not supported.');
  if (b.context !== undefined) {
    if (!isObj(b.context)) return invalid('context', 'must be an object.');
    if (b.context.message_id === undefined) return missing("context['message_id']");
    if (!isStr(b.context.message_id) || b.context.message_id === '')
      return invalid("context['message_id']", 'must be a non-empty string.');
  }
  if (b.biz_opaque_callback_data !== undefined) {
    if (!isStr(b.biz_opaque_callback_data)) return invalid('biz_opaque_callback_data', 'must be a string.');
    if (b.biz_opaque_callback_data.length > 512)
      return invalid('biz_opaque_callback_data', 'must be at most 512 characters long.');
  }
  const o = b[type];
  if (o === undefined) return missing(type);

  if (type === 'text') {
    if (!isObj(o)) return invalid('text', 'must be an object.');
    const k = checkKeys(o, TEXT_KEYS, 'text');
    if (k) return k;
    if (o.body === undefined) return missing("text['body']");
    if (!isStr(o.body)) return invalid("text['body']", 'must be a string.');
    if (o.body.length === 0) return invalid("text['body']", 'must be at least 1 character long.');
    if (o.body.length > 4096 && charLen(o.body) > 4096)
      return invalid("text['body']", 'must be at most 4096 characters long.');
    if (o.preview_url !== undefined && typeof o.preview_url !== 'boolean')
      return invalid("text['preview_url']", 'must be a boolean.');
    return null;
  }
  if (MEDIA_TYPES[type] === 1) return validateMedia(type, o, type);
  if (type === 'location') {
    if (!isObj(o)) return invalid('location', 'must be an object.');
    const k = checkKeys(o, LOCATION_KEYS, 'location');
    if (k) return k;
    if (o.latitude === undefined) return missing("location['latitude']");
    if (o.longitude === undefined) return missing("location['longitude']");
    if (typeof o.latitude !== 'number' || !(o.latitude >= -90 && o.latitude <= 90))
      return invalid("location['latitude']", 'must be a number between -90 and 90.');
    if (typeof o.longitude !== 'number' || !(o.longitude >= -180 && o.longitude <= 180))
      return invalid("location['longitude']", 'must be a number between -180 and 180.');
    if (o.name !== undefined && !isStr(o.name)) return invalid("location['name']", 'must be a string.');
    if (o.address !== undefined && !isStr(o.address)) return invalid("location['address']", 'must be a string.');
    return null;
  }
  if (type === 'contacts') {
    if (!Array.isArray(o)) return invalid('contacts', 'must be an array.');
    if (o.length === 0) return invalid('contacts', 'must contain at least one contact.');
    for (let i = 0; i < o.length; i++) {
      const c = o[i];
      const p = 'contacts[' + i + ']';
      if (!isObj(c)) return invalid(p, 'must be an object.');
      if (c.name === undefined) return missing(p + "['name']");
      if (!isObj(c.name)) return invalid(p + "['name']", 'must be an object.');
      if (c.name.formatted_name === undefined) return missing(p + "['name']['formatted_name']");
      if (!isStr(c.name.formatted_name) || c.name.formatted_name === '')
        return invalid(p + "['name']['formatted_name']", 'must be a non-empty string.');
      for (const arr of ['phones', 'emails', 'addresses', 'urls'])
        if (c[arr] !== undefined && !Array.isArray(c[arr])) return invalid(p + "['" + arr + "']", 'must be an array.');
    }
    return null;
  }
  if (type === 'reaction') {
    if (!isObj(o)) return invalid('reaction', 'must be an object.');
    const k = checkKeys(o, REACTION_KEYS, 'reaction');
    if (k) return k;
    if (o.message_id === undefined) return missing("reaction['message_id']");
    if (!isStr(o.message_id) || o.message_id === '') return invalid("reaction['message_id']", 'must be a non-empty string.');
    if (o.emoji !== undefined && !isStr(o.emoji)) return invalid("reaction['emoji']", 'must be a string.');
    return null;
  }
  if (type === 'interactive') {
    if (!isObj(o)) return invalid('interactive', 'must be an object.');
    if (o.type === undefined) return missing("interactive['type']");
    if (!isStr(o.type) || INTERACTIVE_TYPES[o.type] !== 1)
      return invalid("interactive['type']", 'is not a supported interactive type.');
    return null;
  }
  // template
  if (!isObj(o)) return invalid('template', 'must be an object.');
  if (o.name === undefined) return missing("template['name']");
  if (!isStr(o.name) || o.name === '') return invalid("template['name']", 'must be a non-empty string.');
  if (o.language === undefined) return missing("template['language']");
  if (!isObj(o.language)) return invalid("template['language']", 'must be an object with a "code".');
  if (o.language.code === undefined) return missing("template['language']['code']");
  if (!isStr(o.language.code) || o.language.code === '')
    return invalid("template['language']['code']", 'must be a non-empty string.');
  if (o.language.policy !== undefined && o.language.policy !== 'deterministic')
    return invalid("template['language']['policy']", 'must be "deterministic".');
  if (o.components !== undefined) {
    if (!Array.isArray(o.components)) return invalid("template['components']", 'must be an array.');
    for (let i = 0; i < o.components.length; i++) {
      const c = o.components[i];
      const p = "template['components'][" + i + ']';
      if (!isObj(c)) return invalid(p, 'must be an object.');
      if (c.type === undefined) return missing(p + "['type']");
      if (!isStr(c.type) || COMPONENT_TYPES[c.type] !== 1)
        return invalid(p + "['type']", 'must be one of {header, body, footer, button, carousel, limited_time_offer, order_status}.');
      if (c.type === 'button') {
        if (c.sub_type === undefined) return missing(p + "['sub_type']");
        if (!isStr(c.sub_type)) return invalid(p + "['sub_type']", 'must be a string.');
        if (c.index === undefined) return missing(p + "['index']");
        if (!(isStr(c.index) && /^\d+$/.test(c.index)) && !(Number.isInteger(c.index) && c.index >= 0))
          return invalid(p + "['index']", 'must be a non-negative integer.');
      }
      if (c.parameters !== undefined) {
        if (!Array.isArray(c.parameters)) return invalid(p + "['parameters']", 'must be an array.');
        for (let j = 0; j < c.parameters.length; j++) {
          const q = c.parameters[j];
          const pp = p + "['parameters'][" + j + ']';
          if (!isObj(q)) return invalid(pp, 'must be an object.');
          if (q.type === undefined) return missing(pp + "['type']");
          if (!isStr(q.type)) return invalid(pp + "['type']", 'must be a string.');
          if (q.type === 'text' && !isStr(q.text)) return q.text === undefined ? missing(pp + "['text']") : invalid(pp + "['text']", 'must be a string.');
        }
      }
    }
  }
  if (cfg.strictTemplates) {
    let found = null;
    for (const t of cfg.templates) if (t.name === o.name && t.language === o.language.code) { found = t; break; }
    if (!found || (found.status !== 'APPROVED' && found.status !== 'PAUSED' && found.status !== 'DISABLED'))
      return E(132001, 'template name (' + o.name + ') does not exist in ' + o.language.code);
    if (found.status === 'PAUSED') return E(132015, 'Template ' + o.name + ' is paused.');
    if (found.status === 'DISABLED') return E(132016, 'Template ' + o.name + ' is disabled.');
  }
  return null;
}

function validateMedia(type, o, p) {
  if (!isObj(o)) return invalid(p, 'must be an object.');
  for (const k in o) {
    if (k === 'id' || k === 'link') continue;
    if (k === 'caption' && (type === 'image' || type === 'video' || type === 'document')) continue;
    if (k === 'filename' && type === 'document') continue;
    return unexpected(k, p);
  }
  const hasId = o.id !== undefined;
  const hasLink = o.link !== undefined;
  if (!hasId && !hasLink) return missing(p + "['id'] or " + p + "['link']");
  if (hasId && hasLink) return invalid(p, 'must have either id or link, not both.');
  if (hasId && (!isStr(o.id) || o.id === '')) return invalid(p + "['id']", 'must be a non-empty string.');
  if (hasLink && (!isStr(o.link) || !/^https?:\/\/[^\s/]+/i.test(o.link)))
    return invalid(p + "['link']", 'must be an http or https URL.');
  if (o.caption !== undefined) {
    if (!isStr(o.caption)) return invalid(p + "['caption']", 'must be a string.');
    if (o.caption.length > 1024 && charLen(o.caption) > 1024)
      return invalid(p + "['caption']", 'must be at most 1024 characters long.');
  }
  if (o.filename !== undefined && !isStr(o.filename)) return invalid(p + "['filename']", 'must be a string.');
  return null;
}

// --------------------------------------------------------------- scripts --
function digitsOf(s) { return isStr(s) ? s.replace(/\D/g, '') : ''; }

function compileRule(r) {
  if (!isObj(r)) throw new Error('a rule must be an object');
  const m = r.match === undefined ? {} : r.match;
  if (!isObj(m)) throw new Error('rule.match must be an object');
  for (const k in m)
    if (!['to', 'phone_number_id', 'type', 'template', 'recipient'].includes(k))
      throw new Error('unknown match key "' + k + '"');
  // "to": one number, or an array of them (chosen recipients of a campaign:
  // one rule, a set lookup per send).
  let toSet = null;
  if (Array.isArray(m.to)) {
    if (m.to.length === 0) throw new Error('rule.match.to must not be an empty array');
    toSet = new Set();
    for (const x of m.to) {
      if (!isStr(x) && !Number.isInteger(x)) throw new Error('rule.match.to must hold strings');
      toSet.add(String(x));
      const d = digitsOf(String(x));
      if (d !== '') toSet.add('#' + d);
    }
  } else if (m.to !== undefined && !isStr(m.to) && !Number.isInteger(m.to)) {
    throw new Error('rule.match.to must be a string or an array of strings');
  }
  const a = r.action;
  if (!isObj(a)) throw new Error('rule.action must be an object');
  for (const k in a)
    if (!['error_code', 'http_status', 'body', 'timeout', 'close', 'latency_ms', 'title', 'details',
          'error_subcode', 'type', 'auto_status', 'async_error_code', 'headers'].includes(k))
      throw new Error('unknown action key "' + k + '"');
  if (a.error_code !== undefined && !Number.isInteger(a.error_code)) throw new Error('action.error_code must be an integer');
  if (a.http_status !== undefined && !(Number.isInteger(a.http_status) && a.http_status >= 100 && a.http_status <= 599))
    throw new Error('action.http_status must be an HTTP status');
  if (a.latency_ms !== undefined && !(typeof a.latency_ms === 'number' && a.latency_ms >= 0))
    throw new Error('action.latency_ms must be a number >= 0');
  if (a.body !== undefined && !isStr(a.body) && !isObj(a.body) && !Array.isArray(a.body))
    throw new Error('action.body must be a string or JSON');
  if (a.auto_status !== undefined && STATUS_LEVELS[a.auto_status] === undefined)
    throw new Error('action.auto_status must be none|sent|delivered|read');
  if (a.async_error_code !== undefined && !Number.isInteger(a.async_error_code))
    throw new Error('action.async_error_code must be an integer');
  if (r.times !== undefined && r.times !== null && !(Number.isInteger(r.times) && r.times >= 0))
    throw new Error('rule.times must be an integer >= 0');
  if (r.probability !== undefined && !(typeof r.probability === 'number' && r.probability >= 0 && r.probability <= 1))
    throw new Error('rule.probability must be between 0 and 1');
  return {
    match: m,
    toDigits: m.to !== undefined && toSet === null ? digitsOf(String(m.to)) : null,
    toSet: toSet,
    times: r.times === undefined ? null : r.times,
    remaining: r.times === undefined || r.times === null ? null : r.times,
    probability: r.probability === undefined ? null : r.probability,
    action: a,
    hits: 0,
  };
}

function ruleView(r, i) {
  const v = { index: i, match: r.match, action: r.action, times: r.times, remaining: r.remaining, hits: r.hits };
  if (r.probability !== null) v.probability = r.probability;
  return v;
}

function findRule(pnid, body) {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.remaining === 0) continue;
    const m = r.match;
    if (m.phone_number_id !== undefined && String(m.phone_number_id) !== pnid) continue;
    const b = isObj(body) ? body : null;
    if (m.type !== undefined && (!b || b.type !== m.type)) continue;
    if (r.toSet !== null) {
      if (!b || !isStr(b.to)) continue;
      if (!r.toSet.has(b.to) && !r.toSet.has('#' + digitsOf(b.to))) continue;
    } else if (m.to !== undefined) {
      if (!b || !isStr(b.to)) continue;
      if (b.to !== String(m.to) && (r.toDigits === '' || digitsOf(b.to) !== r.toDigits)) continue;
    }
    if (m.recipient !== undefined && (!b || b.recipient !== m.recipient)) continue;
    if (m.template !== undefined && (!b || !isObj(b.template) || b.template.name !== m.template)) continue;
    if (r.probability !== null && Math.random() >= r.probability) continue;
    if (r.remaining !== null) r.remaining--;
    r.hits++;
    r.index = i;
    return r;
  }
  return null;
}

// --------------------------------------------------------------- records --
function addRecord(rec) {
  records.push(rec);
  const cap = cfg.maxRecords;
  if (records.length > cap + Math.max(1, cap >> 4)) records = records.slice(records.length - cap);
}

// ------------------------------------------------------------ Graph side --
const VERSION_RE = /^\/(v\d+\.\d+)(\/.*)$/;

function parseGraphPath(url) {
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  const query = qi < 0 ? '' : url.slice(qi + 1);
  let version = null;
  let rest = path;
  const m = VERSION_RE.exec(path);
  if (m) { version = m[1]; rest = m[2]; }
  let end = rest.length;
  if (end > 1 && rest.charCodeAt(end - 1) === 47) end--;
  const parts = rest.slice(1, end).split('/');
  return { path, query, version, parts };
}

function bearer(req) {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m ? m[1] : '';
}

function authError(token) {
  if (token === null) return { code: 190, title: 'An active access token must be used to query information about the current user.' };
  if (token === '') return { code: 190, title: 'Invalid OAuth access token - Cannot parse access token' };
  if (cfg.tokens.size !== 0 && !cfg.tokens.has(token))
    return { code: 190, title: 'Invalid OAuth access token - Cannot parse access token' };
  return null;
}

function onGraph(req, res, t0) {
  const g = parseGraphPath(req.url);
  const version = g.version || DEFAULT_VERSION;
  const parts = g.parts;
  stats.requests++;
  if (stats.first_request_at === null) stats.first_request_at = t0;
  stats.last_request_at = t0;

  const isMessages = parts.length === 2 && parts[1] === 'messages' && parts[0] !== '';
  const isTemplates = parts.length === 2 && parts[1] === 'message_templates' && parts[0] !== '';
  const pnid = parts.length >= 1 ? parts[0] : '';

  const rec = {
    seq: 0, t: t0, method: req.method, path: g.path, version: version,
    phone_number_id: isMessages ? pnid : null,
    authorization: req.headers.authorization === undefined ? null : req.headers.authorization,
    content_type: req.headers['content-type'] === undefined ? null : req.headers['content-type'],
    body: null, status: null, wamid: null, error_code: null,
  };
  if (isTemplates) rec.waba_id = pnid;
  if (g.query) rec.query = g.query;

  if (isMessages && req.method === 'POST') {
    stats.message_requests++;
    let w = stats.phones.get(pnid);
    if (w === undefined) { w = newWindow(); stats.phones.set(pnid, w); }
    windowAdd(w, t0);
    windowAdd(stats.all, t0);
    readBody(req, res, (err, buf) => {
      if (err) return;
      rec.seq = ++seq;
      addRecord(rec);
      let body;
      let parseError = false;
      if (buf.length !== 0) {
        try { body = JSON.parse(buf.toString('utf8')); } catch (e) { parseError = true; }
      }
      if (parseError) rec.raw = buf.length > 4096 ? buf.toString('utf8', 0, 4096) : buf.toString('utf8');
      else rec.body = body === undefined ? null : body;
      handleSend(req, res, rec, w, version, body, parseError);
    });
    return;
  }

  // Other Graph routes: drain the body, record, answer.
  readBody(req, res, (err, buf) => {
    if (err) return;
    rec.seq = ++seq;
    addRecord(rec);
    if (buf.length !== 0) {
      try { rec.body = JSON.parse(buf.toString('utf8')); } catch (e) { rec.raw = buf.toString('utf8', 0, Math.min(buf.length, 4096)); }
    }
    if (isTemplates && req.method === 'GET') {
      stats.templates_requests++;
      const ae = authError(bearer(req));
      if (ae) return finishError(res, rec, 401, ae.code, null, version, { title: ae.title });
      const answer = () => {
        rec.status = 200;
        countStatus(200);
        sendJson(res, 200, listTemplates(g.query, pnid, version), version);
      };
      if (cfg.latencyMs > 0) setTimeout(answer, cfg.latencyMs); else answer();
      return;
    }
    stats.other_requests++;
    const id = pnid || '';
    finishError(res, rec, 400, 100, null, version, {
      title: 'Unsupported ' + req.method.toLowerCase() + " request. Object with ID '" + id +
        "' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
      type: 'GraphMethodException',
    });
  });
}

function readBody(req, res, cb) {
  const chunks = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (c) => {
    if (tooBig) return;
    size += c.length;
    if (size > MAX_BODY) { tooBig = true; return; }
    chunks.push(c);
  });
  req.on('end', () => {
    if (tooBig) {
      sendJson(res, 413, graphError(100, 'Request body too large.'));
      return cb(new Error('too big'));
    }
    cb(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  });
  req.on('error', () => {});
}

function countStatus(status) {
  stats.by_status[status] = (stats.by_status[status] || 0) + 1;
}

function finishError(res, rec, httpStatus, code, details, version, opts, w) {
  rec.status = httpStatus;
  rec.error_code = code;
  countStatus(httpStatus);
  stats.by_error_code[code] = (stats.by_error_code[code] || 0) + 1;
  if (w) { w.errors++; stats.all.errors++; }
  sendJson(res, httpStatus, graphError(code, details, opts), version);
}

function handleSend(req, res, rec, w, version, body, parseError) {
  const ae = authError(bearer(req));
  if (ae) return finishError(res, rec, 401, ae.code, null, version, { title: ae.title }, w);

  const rule = rules.length !== 0 ? findRule(rec.phone_number_id, body) : null;
  let delay = cfg.latencyMs;
  if (rule !== null) {
    rec.rule = rule.index;
    const a = rule.action;
    if (a.latency_ms !== undefined) { delay = a.latency_ms; stats.actions.latency++; }
    if (a.timeout === true) {
      rec.action = 'timeout';
      stats.actions.timeout++;
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (a.close === true) {
      rec.action = 'close';
      stats.actions.close++;
      const close = () => req.socket.destroy();
      if (delay > 0) setTimeout(close, delay); else close();
      return;
    }
  }
  if (delay > 0) setTimeout(answerSend, delay, req, res, rec, w, version, body, parseError, rule);
  else answerSend(req, res, rec, w, version, body, parseError, rule);
}

function answerSend(req, res, rec, w, version, body, parseError, rule) {
  const a = rule !== null ? rule.action : null;
  if (a !== null) {
    if (a.error_code !== undefined) {
      rec.action = 'error';
      stats.actions.error++;
      return finishError(res, rec, a.http_status || 400, a.error_code, a.details, version,
        { title: a.title, type: a.type, error_subcode: a.error_subcode }, w);
    }
    if (a.body !== undefined || a.http_status !== undefined) {
      rec.action = 'raw';
      stats.actions.raw++;
      const st = a.http_status || 200;
      rec.status = st;
      countStatus(st);
      if (st >= 400) { w.errors++; stats.all.errors++; }
      const text = a.body === undefined ? '' : isStr(a.body) ? a.body : JSON.stringify(a.body);
      const h = {
        'content-type': isStr(a.body) ? 'text/plain; charset=UTF-8' : 'application/json; charset=UTF-8',
        'content-length': Buffer.byteLength(text),
      };
      if (isObj(a.headers)) Object.assign(h, a.headers);
      res.writeHead(st, h);
      res.end(text);
      return;
    }
  }
  let err;
  if (parseError) err = E(100, 'The request body is not valid JSON.');
  else if (body === undefined) err = E(100, 'The request body is empty.');
  else err = validateSend(body);
  if (err === null) err = windowError(rec.phone_number_id, body);
  if (err !== null) return finishError(res, rec, 400, err.code, err.details, version, null, w);

  rec.status = 200;
  countStatus(200);
  w.ok++;
  stats.all.ok++;
  if (body.status !== undefined) {
    sendJson(res, 200, { success: true }, version);
    return;
  }
  const wamid = newWamid();
  rec.wamid = wamid;
  let contact;
  if (body.to !== undefined) contact = { input: body.to, wa_id: body.recipient_type === 'group' ? body.to : digitsOf(body.to) };
  else contact = { input: body.recipient, user_id: body.recipient };
  const msg = body.type === 'template' ? { id: wamid, message_status: 'accepted' } : { id: wamid };
  sendJson(res, 200, { messaging_product: 'whatsapp', contacts: [contact], messages: [msg] }, version);

  const asyncErr = a !== null && a.async_error_code !== undefined ? a.async_error_code : null;
  // A message that fails later is at most "sent" first, unless the rule says otherwise.
  const level = a !== null && a.auto_status !== undefined ? STATUS_LEVELS[a.auto_status]
    : asyncErr !== null ? Math.min(cfg.autoStatus, 1) : cfg.autoStatus;
  if (level > 0 || asyncErr !== null) scheduleStatuses(rec, body, level, asyncErr);
}

function listTemplates(query, wabaId, version) {
  const q = new URLSearchParams(query);
  let list = cfg.templates;
  const name = q.get('name');
  const status = q.get('status');
  const category = q.get('category');
  const language = q.get('language');
  if (name) list = list.filter((t) => t.name === name || t.name.includes(name));
  if (status) list = list.filter((t) => t.status === status.toUpperCase());
  if (category) list = list.filter((t) => t.category === category.toUpperCase());
  if (language) list = list.filter((t) => t.language === language);
  let limit = parseInt(q.get('limit') || '25', 10);
  if (!(limit > 0)) limit = 25;
  let start = 0;
  const after = q.get('after');
  if (after) {
    const n = parseInt(Buffer.from(after, 'base64').toString('utf8'), 10);
    if (n >= 0) start = n + 1;
  }
  const page = list.slice(start, start + limit);
  const first = start;
  const last = start + page.length - 1;
  const cur = (n) => Buffer.from(String(n)).toString('base64').replace(/=+$/, '');
  const out = { data: page, paging: { cursors: { before: cur(first), after: cur(Math.max(last, first)) } } };
  if (start + limit < list.length) {
    q.set('after', cur(last));
    out.paging.next = 'https://graph.facebook.com/' + version + '/' + wabaId + '/message_templates?' + q.toString();
  }
  return out;
}

// -------------------------------------------------------------- webhooks --
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

function secretFor(pnid) {
  const s = cfg.appSecrets[pnid];
  return s !== undefined ? s : cfg.appSecret;
}

function sign(secret, buf) {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(buf).digest('hex');
}

// POSTs bytes to target; resolves {status, body, error?}.
function postWebhook(target, buf, signature, kind) {
  return new Promise((resolve) => {
    const mod = target.protocol === 'https:' ? https : http;
    const headers = {
      'content-type': 'application/json',
      'content-length': buf.length,
      'user-agent': 'facebookexternalua',
    };
    if (signature) headers['x-hub-signature-256'] = signature;
    stats.webhooks.posted++;
    stats.webhooks.in_flight++;
    const t = nowMs();
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      stats.webhooks.in_flight--;
      if (r.status === 200) stats.webhooks.ok++; else stats.webhooks.failed++;
      webhookLog.push({ t: t, kind: kind, url: target.href, status: r.status, error: r.error || null,
        ms: Math.round((nowMs() - t) * 1000) / 1000, bytes: buf.length });
      if (webhookLog.length > WEBHOOK_LOG_MAX * 2) webhookLog = webhookLog.slice(-WEBHOOK_LOG_MAX);
      resolve(r);
    };
    let req;
    try {
      req = mod.request(target, {
        method: 'POST', headers: headers,
        agent: target.protocol === 'https:' ? httpsAgent : httpAgent,
        timeout: 10000,
      }, (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => { if (size < 1048576) { chunks.push(c); size += c.length; } });
        res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => finish({ status: 0, body: '', error: e.message }));
      });
    } catch (e) {
      return finish({ status: 0, body: '', error: e.message });
    }
    req.on('timeout', () => req.destroy(new Error('timeout after 10000 ms')));
    req.on('error', (e) => finish({ status: 0, body: '', error: e.code || e.message }));
    req.end(buf);
  });
}

function tsString(v) {
  if (v === undefined || v === null) return String(Math.floor(Date.now() / 1000));
  return String(v);
}

function envelope(pnid, display, wabaId, value, field) {
  const v = { messaging_product: 'whatsapp', metadata: { display_phone_number: display, phone_number_id: pnid } };
  for (const k in value) v[k] = value[k];
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: wabaId, changes: [{ value: v, field: field || 'messages' }] }],
  };
}

function displayFor(pnid) {
  const d = cfg.displayPhoneNumbers[pnid];
  return d !== undefined ? d : '15550000000';
}
function wabaFor(pnid) {
  const d = cfg.wabaIds[pnid];
  return d !== undefined ? d : '100000000000000';
}

// A template send is billed in its template's category (marketing for a
// campaign's spring_sale, utility for hello_world); one the list does not
// know, as utility.
function pricingFor(body) {
  const tpl = body && body.type === 'template';
  if (!tpl)
    return { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' };
  let category = 'utility';
  const o = isObj(body.template) ? body.template : {};
  const lang = isObj(o.language) ? o.language.code : undefined;
  for (const t of cfg.templates) {
    if (t.name === o.name && (t.language === lang || lang === undefined) && isStr(t.category)) {
      category = t.category.toLowerCase();
      break;
    }
  }
  return { billable: true, pricing_model: 'PMP', type: 'regular', category: category };
}

function versionMajor(v) {
  const m = /^v(\d+)\./.exec(v || '');
  return m ? parseInt(m[1], 10) : 25;
}

// One status object as Meta sends it; rec is the send record when known.
function buildStatus(s, rec) {
  const body = rec ? rec.body : null;
  const out = { id: s.id, status: s.status, timestamp: tsString(s.timestamp) };
  if (s.recipient_id !== undefined) out.recipient_id = s.recipient_id;
  else if (body && isStr(body.to)) out.recipient_id = digitsOf(body.to);
  else if (body && isStr(body.recipient)) out.recipient_user_id = body.recipient;
  if (s.biz_opaque_callback_data !== undefined) {
    if (s.biz_opaque_callback_data !== null) out.biz_opaque_callback_data = s.biz_opaque_callback_data;
  } else if (body && body.biz_opaque_callback_data !== undefined) {
    out.biz_opaque_callback_data = body.biz_opaque_callback_data;
  }
  if (s.status === 'sent' || s.status === 'delivered') {
    if (s.pricing === undefined) out.pricing = pricingFor(body);
    if (s.conversation === undefined && rec && versionMajor(rec.version) < 24) {
      const c = { id: crypto.createHash('md5').update(rec.wamid || s.id).digest('hex') };
      if (s.status === 'sent') c.expiration_timestamp = String(Math.floor(Date.now() / 1000) + 86400);
      c.origin = { type: pricingFor(body).category };
      out.conversation = c;
    }
  }
  if (s.status === 'failed' && s.errors === undefined)
    out.errors = [webhookError(s.error_code !== undefined ? s.error_code : 131000, s.error_details)];
  for (const k in s) {
    if (k === 'error_code' || k === 'error_details') continue;
    if (out[k] === undefined && s[k] !== null) out[k] = k === 'timestamp' ? tsString(s[k]) : s[k];
  }
  if (out.pricing === null) delete out.pricing;
  return out;
}

// With enforce_window, a free-form message to a user who has not written
// (through this sandbox's webhooks) in the last 24 hours fails like Meta's.
function windowError(pnid, body) {
  if (!cfg.enforceWindow || body.status !== undefined || body.type === 'template' ||
      body.recipient_type === 'group' || !isStr(body.to)) return null;
  const at = windows.get(pnid + ':' + digitsOf(body.to));
  if (at !== undefined && nowMs() - at < WINDOW_MS) return null;
  return E(131047, 'Message failed to send because more than 24 hours have passed since the ' +
    'customer last replied to this number.');
}

// Notes the inbound messages of an envelope about to be posted.
function noteInbound(env) {
  for (const e of Array.isArray(env.entry) ? env.entry : []) {
    for (const c of isObj(e) && Array.isArray(e.changes) ? e.changes : []) {
      const v = isObj(c) ? c.value : null;
      if (!isObj(v) || !Array.isArray(v.messages) || !isObj(v.metadata)) continue;
      for (const m of v.messages) {
        if (!isObj(m) || m.from === undefined) continue;
        const t = Number(m.timestamp) * 1000;
        const at = Number.isFinite(t) && t > 0 ? Math.min(t, nowMs()) : nowMs();
        const k = String(v.metadata.phone_number_id) + ':' + digitsOf(String(m.from));
        if (!(windows.get(k) >= at)) windows.set(k, at);
      }
    }
  }
}

function buildInbound(m) {
  const out = {};
  out.from = m.from;
  out.id = m.id !== undefined ? m.id : newWamid();
  out.timestamp = tsString(m.timestamp);
  let type = m.type;
  if (type === undefined) {
    for (const k of ['text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts',
      'reaction', 'button', 'interactive', 'order', 'system'])
      if (m[k] !== undefined) { type = k; break; }
  }
  out.type = type || 'text';
  for (const k in m) if (out[k] === undefined) out[k] = m[k];
  if (out.type === 'text' && isStr(out.text)) out.text = { body: out.text };
  return out;
}

function findRecordByWamid(wamid) {
  for (let i = records.length - 1; i >= 0; i--) if (records[i].wamid === wamid) return records[i];
  return null;
}

// With status_batch_ms, auto statuses are posted as Meta does under load:
// many in one payload (value.statuses[]), per phone number id, at most
// STATUS_BATCH_MAX, each payload once the first of it waited that long. A
// message's next status is queued only after the payload with the previous
// one was answered, so each message's statuses still arrive in order.
const STATUS_BATCH_MAX = 100;
const statusBatches = new Map();	// pnid -> { target, items, timer }

function queueStatus(target, pnid, st, after) {
  let b = statusBatches.get(pnid);
  if (!b) { b = { target: target, items: [], timer: null }; statusBatches.set(pnid, b); }
  b.items.push({ st: st, after: after });
  if (b.items.length >= STATUS_BATCH_MAX) flushStatuses(pnid);
  else if (b.timer === null) b.timer = setTimeout(() => flushStatuses(pnid), cfg.statusBatchMs);
}

function flushStatuses(pnid) {
  const b = statusBatches.get(pnid);
  if (!b) return;
  if (b.timer !== null) { clearTimeout(b.timer); b.timer = null; }
  if (b.items.length === 0) return;
  const items = b.items;
  b.items = [];
  const env = envelope(pnid, displayFor(pnid), wabaFor(pnid), { statuses: items.map((x) => x.st) });
  const buf = Buffer.from(JSON.stringify(env));
  const secret = secretFor(pnid);
  postWebhook(b.target, buf, secret ? sign(secret, buf) : null, 'auto:batch')
    .then(() => { for (const x of items) x.after(); });
}

function scheduleStatuses(rec, body, level, asyncErr) {
  if (cfg.webhookTarget === null) { stats.webhooks.skipped_no_url++; return; }
  const target = cfg.webhookTarget;
  const pnid = rec.phone_number_id;
  const steps = [];
  for (let i = 1; i <= level; i++) steps.push(STATUS_NAMES[i]);
  if (asyncErr !== null) steps.push('failed');
  let i = 0;
  const next = () => {
    if (i >= steps.length) return;
    const st = steps[i++];
    const s = { id: rec.wamid, status: st };
    if (st === 'failed') s.error_code = asyncErr;
    // Pricing on "sent" and "delivered" only, like Meta (never on both delivered and read).
    if (st === 'read') s.pricing = null;
    const after = () => { if (i < steps.length) setTimeout(next, AUTO_STATUS_GAP_MS); };
    if (cfg.statusBatchMs > 0) return queueStatus(target, pnid, buildStatus(s, rec), after);
    const env = envelope(pnid, displayFor(pnid), wabaFor(pnid), { statuses: [buildStatus(s, rec)] });
    const buf = Buffer.from(JSON.stringify(env));
    const secret = secretFor(pnid);
    postWebhook(target, buf, secret ? sign(secret, buf) : null, 'auto:' + st).then(after);
  };
  setTimeout(next, AUTO_STATUS_GAP_MS);
}

async function controlWebhook(b) {
  let pnid = b.phone_number_id !== undefined ? String(b.phone_number_id) : null;
  let target = cfg.webhookTarget;
  if (b.url !== undefined) target = new URL(b.url);
  if (target === null) return [400, { error: 'no webhook_url configured (config webhook_url or give "url")' }];
  let env;
  if (b.envelope !== undefined) {
    if (!isObj(b.envelope)) return [400, { error: 'envelope must be an object' }];
    env = b.envelope;
    if (pnid === null) {
      try { pnid = String(env.entry[0].changes[0].value.metadata.phone_number_id); } catch (e) { pnid = null; }
    }
  } else {
    const value = {};
    let firstRec = null;
    if (b.contacts !== undefined) value.contacts = b.contacts;
    else if (Array.isArray(b.messages)) value.contacts = [];
    if (b.statuses !== undefined) {
      if (!Array.isArray(b.statuses)) return [400, { error: 'statuses must be an array' }];
      value.statuses = b.statuses.map((s) => {
        if (!isObj(s) || !isStr(s.id) || !isStr(s.status)) throw new Error('each status needs id and status');
        const rec = findRecordByWamid(s.id);
        if (rec && !firstRec) firstRec = rec;
        return buildStatus(s, rec);
      });
    }
    if (b.messages !== undefined) {
      if (!Array.isArray(b.messages)) return [400, { error: 'messages must be an array' }];
      value.messages = b.messages.map((m) => {
        if (!isObj(m) || m.from === undefined) throw new Error('each message needs from');
        return buildInbound(m);
      });
      if (b.contacts === undefined) {
        const seen = new Set();
        for (const m of value.messages) {
          if (seen.has(m.from)) continue;
          seen.add(m.from);
          value.contacts.push({ profile: { name: b.profile_name || 'Sandbox User' }, wa_id: String(m.from) });
        }
      }
    }
    if (b.errors !== undefined) value.errors = b.errors;
    if (isObj(b.value)) for (const k in b.value) value[k] = b.value[k];
    if (pnid === null && firstRec) pnid = firstRec.phone_number_id;
    if (pnid === null) return [400, { error: 'phone_number_id is required' }];
    const display = b.display_phone_number !== undefined ? String(b.display_phone_number) : displayFor(pnid);
    const waba = b.waba_id !== undefined ? String(b.waba_id) : wabaFor(pnid);
    // Statuses and messages go in one value, as Meta may batch them.
    env = envelope(pnid, display, waba, value, b.field);
  }
  noteInbound(env);
  const buf = Buffer.from(JSON.stringify(env));
  const secret = b.app_secret !== undefined ? b.app_secret : secretFor(pnid);
  const signature = b.signature !== undefined ? b.signature
    : b.sign === false || !secret ? null : sign(secret, buf);
  const times = Number.isInteger(b.repeat) && b.repeat > 1 ? b.repeat : 1;
  let r;
  for (let i = 0; i < times; i++) r = await postWebhook(target, buf, signature, 'control');
  const out = { status: r.status, body: r.body, payload: buf.toString('utf8'), signature: signature };
  if (r.error) out.error = r.error;
  return [r.status === 0 ? 502 : 200, out];
}

// ----------------------------------------------------------- control API --
function applyConfig(b) {
  if (!isObj(b)) throw new Error('config must be a JSON object');
  const known = ['tokens', 'add_tokens', 'app_secret', 'app_secrets', 'webhook_url', 'auto_status',
    'latency_ms', 'display_phone_numbers', 'waba_ids', 'strict_templates', 'templates', 'max_records',
    'enforce_window', 'status_batch_ms'];
  for (const k in b) if (!known.includes(k)) throw new Error('unknown config key "' + k + '"');
  const strList = (v, n) => {
    if (!Array.isArray(v) || !v.every((x) => isStr(x) && x !== '')) throw new Error(n + ' must be an array of non-empty strings');
    return v;
  };
  const strMap = (v, n) => {
    if (!isObj(v)) throw new Error(n + ' must be an object');
    for (const k in v) if (!isStr(v[k])) throw new Error(n + ' values must be strings');
    return v;
  };
  // Validate everything before changing anything.
  if (b.tokens !== undefined) strList(b.tokens, 'tokens');
  if (b.add_tokens !== undefined) strList(b.add_tokens, 'add_tokens');
  if (b.app_secret !== undefined && b.app_secret !== null && !isStr(b.app_secret)) throw new Error('app_secret must be a string');
  if (b.app_secrets !== undefined) strMap(b.app_secrets, 'app_secrets');
  if (b.display_phone_numbers !== undefined) strMap(b.display_phone_numbers, 'display_phone_numbers');
  if (b.waba_ids !== undefined) strMap(b.waba_ids, 'waba_ids');
  let target;
  if (b.webhook_url !== undefined && b.webhook_url !== null && b.webhook_url !== '') {
    if (!isStr(b.webhook_url)) throw new Error('webhook_url must be a string');
    target = new URL(b.webhook_url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('webhook_url must be http or https');
  }
  if (b.auto_status !== undefined && STATUS_LEVELS[b.auto_status] === undefined)
    throw new Error('auto_status must be none|sent|delivered|read');
  if (b.latency_ms !== undefined && !(typeof b.latency_ms === 'number' && b.latency_ms >= 0))
    throw new Error('latency_ms must be a number >= 0');
  if (b.status_batch_ms !== undefined && !(typeof b.status_batch_ms === 'number' && b.status_batch_ms >= 0))
    throw new Error('status_batch_ms must be a number >= 0');
  if (b.strict_templates !== undefined && typeof b.strict_templates !== 'boolean')
    throw new Error('strict_templates must be a boolean');
  if (b.enforce_window !== undefined && typeof b.enforce_window !== 'boolean')
    throw new Error('enforce_window must be a boolean');
  if (b.templates !== undefined && !(Array.isArray(b.templates) && b.templates.every((t) => isObj(t) && isStr(t.name) && isStr(t.language))))
    throw new Error('templates must be an array of objects with name and language');
  if (b.max_records !== undefined && !(Number.isInteger(b.max_records) && b.max_records > 0))
    throw new Error('max_records must be a positive integer');

  if (b.tokens !== undefined) cfg.tokens = new Set(b.tokens);
  if (b.add_tokens !== undefined) for (const t of b.add_tokens) cfg.tokens.add(t);
  if (b.app_secret !== undefined) cfg.appSecret = b.app_secret || null;
  if (b.app_secrets !== undefined) Object.assign(cfg.appSecrets, b.app_secrets);
  if (b.display_phone_numbers !== undefined) Object.assign(cfg.displayPhoneNumbers, b.display_phone_numbers);
  if (b.waba_ids !== undefined) Object.assign(cfg.wabaIds, b.waba_ids);
  if (b.webhook_url !== undefined) {
    cfg.webhookUrl = target ? b.webhook_url : null;
    cfg.webhookTarget = target || null;
  }
  if (b.auto_status !== undefined) cfg.autoStatus = STATUS_LEVELS[b.auto_status];
  if (b.latency_ms !== undefined) cfg.latencyMs = b.latency_ms;
  if (b.status_batch_ms !== undefined) cfg.statusBatchMs = b.status_batch_ms;
  if (b.strict_templates !== undefined) cfg.strictTemplates = b.strict_templates;
  if (b.enforce_window !== undefined) cfg.enforceWindow = b.enforce_window;
  if (b.templates !== undefined) cfg.templates = b.templates;
  if (b.max_records !== undefined) cfg.maxRecords = b.max_records;
}

function configView() {
  return {
    tokens: Array.from(cfg.tokens),
    app_secret: cfg.appSecret,
    app_secrets: cfg.appSecrets,
    display_phone_numbers: cfg.displayPhoneNumbers,
    waba_ids: cfg.wabaIds,
    webhook_url: cfg.webhookUrl,
    auto_status: STATUS_NAMES[cfg.autoStatus],
    latency_ms: cfg.latencyMs,
    status_batch_ms: cfg.statusBatchMs,
    strict_templates: cfg.strictTemplates,
    enforce_window: cfg.enforceWindow,
    max_records: cfg.maxRecords,
    templates: cfg.templates.length,
  };
}

function statsView() {
  const phones = {};
  for (const [k, w] of stats.phones) phones[k] = windowView(w);
  const all = windowView(stats.all);
  return {
    started_at: stats.started_at,
    now: nowMs(),
    window: 'max_per_second: the most message requests (POST .../messages, any outcome) whose arrival ' +
      'times fall within one sliding 1000 ms interval; max_per_calendar_second: the most within one ' +
      'whole second of the clock (floor(ms/1000))',
    requests: stats.requests,
    message_requests: stats.message_requests,
    templates_requests: stats.templates_requests,
    other_requests: stats.other_requests,
    ok: all.ok,
    errors: all.errors,
    by_status: stats.by_status,
    by_error_code: stats.by_error_code,
    actions: stats.actions,
    max_per_second: all.max_per_second,
    max_per_calendar_second: all.max_per_calendar_second,
    first_request_at: stats.first_request_at,
    last_request_at: stats.last_request_at,
    phone_numbers: phones,
    webhooks: stats.webhooks,
    held_connections: held.size,
    records: {
      stored: records.length,
      first_seq: records.length ? records[0].seq : null,
      last_seq: seq,
    },
  };
}

function queryRequests(query) {
  const q = new URLSearchParams(query);
  const since = parseInt(q.get('since') || '0', 10) || 0;
  let limit = parseInt(q.get('limit') || '100000', 10);
  if (!(limit > 0)) limit = 100000;
  const pn = q.get('phone_number_id');
  const to = q.get('to');
  const toDigits = to !== null ? digitsOf(to) : null;
  const out = [];
  let start = 0;
  if (records.length && since >= records[0].seq) start = since - records[0].seq + 1;
  let next = Math.max(since, seq);
  for (let i = start; i < records.length; i++) {
    const r = records[i];
    if (pn !== null && r.phone_number_id !== pn) continue;
    if (toDigits !== null && !(r.body && isStr(r.body.to) && digitsOf(r.body.to) === toDigits)) continue;
    out.push(r);
    if (out.length >= limit) { next = r.seq; break; }
  }
  return { requests: out, next: next };
}

// The arrival times of the message requests (POST .../messages) of one
// phone_number_id (or all), from the records, oldest first: what a bench
// needs for its rates and windows, without the bodies (100,000 arrivals
// are about 3 MB). fields: t (always), seq, to, ref
// (biz_opaque_callback_data), status, error_code; parallel arrays.
const ARRIVAL_FIELDS = ['seq', 'to', 'ref', 'status', 'error_code'];
function queryArrivals(query) {
  const q = new URLSearchParams(query);
  const since = parseInt(q.get('since') || '0', 10) || 0;
  const pn = q.get('phone_number_id');
  const want = (q.get('fields') || '').split(',').filter((f) => f !== '' && f !== 't');
  for (const f of want) if (!ARRIVAL_FIELDS.includes(f)) throw new Error('unknown field "' + f + '"');
  const out = { phone_number_id: pn, count: 0, t: [] };
  for (const f of want) out[f] = [];
  let start = 0;
  if (records.length && since >= records[0].seq) start = since - records[0].seq + 1;
  for (let i = start; i < records.length; i++) {
    const r = records[i];
    if (r.phone_number_id === null || r.method !== 'POST') continue;
    if (pn !== null && r.phone_number_id !== pn) continue;
    out.t.push(Math.round(r.t * 1000) / 1000);
    for (const f of want) {
      const b = isObj(r.body) ? r.body : null;
      let v;
      if (f === 'seq') v = r.seq;
      else if (f === 'to') v = b && isStr(b.to) ? b.to : null;
      else if (f === 'ref') v = b && b.biz_opaque_callback_data !== undefined ? b.biz_opaque_callback_data : null;
      else v = r[f];
      out[f].push(v);
    }
  }
  out.count = out.t.length;
  out.next = seq;
  return out;
}

function readJson(req, cb) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const s = Buffer.concat(chunks).toString('utf8');
    if (s.trim() === '') return cb(null, {});
    let v;
    try { v = JSON.parse(s); } catch (e) { return cb(new Error('body is not valid JSON: ' + e.message)); }
    cb(null, v);
  });
  req.on('error', () => {});
}

function resetState() {
  records = [];
  rules = [];
  stats = newStats();
  webhookLog = [];
  windows = new Map();
  for (const r of held) r.socket && r.socket.destroy();
  held.clear();
}

function onControl(req, res) {
  const qi = req.url.indexOf('?');
  const path = qi < 0 ? req.url : req.url.slice(0, qi);
  const query = qi < 0 ? '' : req.url.slice(qi + 1);
  const m = req.method;
  const route = path.replace(/\/+$/, '');
  const withBody = (fn) => readJson(req, (err, b) => {
    if (err) return ctlJson(res, 400, { error: err.message });
    try {
      const r = fn(b);
      if (r && typeof r.then === 'function') {
        r.then((x) => ctlJson(res, x[0], x[1]), (e) => ctlJson(res, 400, { error: e.message }));
      } else if (r) ctlJson(res, r[0], r[1]);
    } catch (e) {
      ctlJson(res, 400, { error: e.message });
    }
  });
  switch (route) {
    case '/_sandbox/health':
      return ctlJson(res, 200, { ok: true, pid: process.pid });
    case '/_sandbox/requests':
      if (m !== 'GET') break;
      return ctlJson(res, 200, queryRequests(query));
    case '/_sandbox/stats':
      if (m !== 'GET') break;
      return ctlJson(res, 200, statsView());
    case '/_sandbox/arrivals':
      if (m !== 'GET') break;
      try { return ctlJson(res, 200, queryArrivals(query)); } catch (e) { return ctlJson(res, 400, { error: e.message }); }
    case '/_sandbox/webhooks':
      if (m !== 'GET') break;
      return ctlJson(res, 200, { deliveries: webhookLog.slice(-WEBHOOK_LOG_MAX) });
    case '/_sandbox/reset':
      if (m !== 'POST') break;
      return withBody(() => { resetState(); return [200, { ok: true, next: seq }]; });
    case '/_sandbox/config':
      if (m === 'GET') return ctlJson(res, 200, configView());
      if (m !== 'POST') break;
      return withBody((b) => { applyConfig(b); return [200, configView()]; });
    case '/_sandbox/script':
      if (m === 'GET') return ctlJson(res, 200, { rules: rules.map(ruleView) });
      if (m === 'DELETE') { rules = []; return ctlJson(res, 200, { rules: [] }); }
      if (m !== 'POST') break;
      return withBody((b) => {
        let list;
        if (Array.isArray(b)) list = b;
        else if (isObj(b) && Array.isArray(b.rules)) list = b.rules;
        else if (isObj(b) && isObj(b.rule)) list = [b.rule];
        else if (isObj(b) && isObj(b.action)) list = [b];
        else throw new Error('expected {"rules":[...]}');
        const compiled = list.map(compileRule);
        if (isObj(b) && b.replace === true) rules = compiled; else rules = rules.concat(compiled);
        return [200, { rules: rules.map(ruleView) }];
      });
    case '/_sandbox/webhook':
      if (m !== 'POST') break;
      return withBody((b) => { if (!isObj(b)) throw new Error('expected a JSON object'); return controlWebhook(b); });
    default:
      return ctlJson(res, 404, { error: 'no such sandbox route: ' + m + ' ' + path });
  }
  return ctlJson(res, 405, { error: 'method not allowed: ' + m + ' ' + path });
}

// ------------------------------------------------------------------ main --
function usage(msg) {
  if (msg) process.stderr.write('graph-sandbox: ' + msg + '\n');
  process.stderr.write(
    'usage: graph-sandbox.js --listen 127.0.0.1:PORT [--pidfile F] [--token TOKEN]...\n' +
    '         [--app-secret SECRET] [--webhook-url URL] [--auto-status none|sent|delivered|read]\n' +
    '         [--latency-ms N] [--max-records N] [--strict-templates] [--enforce-window]\n' +
    '         [--status-batch-ms N]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { tokens: [] };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const val = () => {
      if (v !== undefined) return v;
      if (i + 1 >= argv.length) usage(a + ' needs a value');
      return argv[++i];
    };
    switch (a) {
      case '--listen': o.listen = val(); break;
      case '--pidfile': o.pidfile = val(); break;
      case '--token': o.tokens.push(val()); break;
      case '--app-secret': o.appSecret = val(); break;
      case '--webhook-url': o.webhookUrl = val(); break;
      case '--auto-status': o.autoStatus = val(); break;
      case '--latency-ms': o.latencyMs = val(); break;
      case '--status-batch-ms': o.statusBatchMs = val(); break;
      case '--max-records': o.maxRecords = val(); break;
      case '--strict-templates': o.strictTemplates = true; break;
      case '--enforce-window': o.enforceWindow = true; break;
      case '-h': case '--help': usage(); break;
      default: usage('unknown argument ' + a);
    }
  }
  return o;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!o.listen) usage('--listen is required');
  const lm = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(o.listen);
  if (!lm) usage('--listen must be HOST:PORT');
  const host = lm[1] || lm[2];
  const port = parseInt(lm[3], 10);
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)))
    usage('--listen must be a loopback address (127.x.x.x, ::1 or localhost)');
  if (port > 65535) usage('bad port');
  try {
    const c = {};
    if (o.tokens.length) c.tokens = o.tokens;
    if (o.appSecret !== undefined) c.app_secret = o.appSecret;
    if (o.webhookUrl !== undefined) c.webhook_url = o.webhookUrl;
    if (o.autoStatus !== undefined) c.auto_status = o.autoStatus;
    if (o.latencyMs !== undefined) {
      c.latency_ms = Number(o.latencyMs);
      if (!Number.isFinite(c.latency_ms)) usage('--latency-ms must be a number');
    }
    if (o.statusBatchMs !== undefined) {
      c.status_batch_ms = Number(o.statusBatchMs);
      if (!Number.isFinite(c.status_batch_ms)) usage('--status-batch-ms must be a number');
    }
    if (o.maxRecords !== undefined) c.max_records = parseInt(o.maxRecords, 10);
    if (o.strictTemplates) c.strict_templates = true;
    if (o.enforceWindow) c.enforce_window = true;
    applyConfig(c);
  } catch (e) {
    usage(e.message);
  }

  const server = http.createServer((req, res) => {
    const t0 = nowMs();
    try {
      if (req.url.startsWith('/_sandbox')) onControl(req, res);
      else onGraph(req, res, t0);
    } catch (e) {
      try { ctlJson(res, 500, { error: String(e && e.stack || e) }); } catch (e2) { /* ignore */ }
    }
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 70000;
  server.requestTimeout = 0;
  server.on('clientError', (err, sock) => {
    if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else sock.destroy();
  });
  server.on('error', (e) => {
    process.stderr.write('graph-sandbox: ' + e.message + '\n');
    process.exit(1);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (o.pidfile) { try { fs.unlinkSync(o.pidfile); } catch (e) { /* ignore */ } }
    for (const r of held) r.socket && r.socket.destroy();
    server.close();
    if (server.closeAllConnections) server.closeAllConnections();
    httpAgent.destroy();
    httpsAgent.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  server.listen(port, host, () => {
    const a = server.address();
    if (o.pidfile) fs.writeFileSync(o.pidfile, process.pid + '\n');
    const shown = a.family === 'IPv6' || a.family === 6 ? '[' + a.address + ']' : a.address;
    process.stdout.write('graph-sandbox listening on ' + shown + ':' + a.port + '\n');
  });
}

if (require.main === module) main();
module.exports = { validateSend, parseGraphPath };
