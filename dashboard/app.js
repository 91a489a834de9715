// Wazera dashboard: the shared module (API client, session, nav, messages,
// field errors, pager, DOM helpers). Plain ES module, no build step. Data is
// only ever put into the page with textContent / createElement.

const API = '/api/v1';
const CSRF_KEY = 'wz_csrf';
const PAGES = ['inbox', 'contacts', 'campaigns', 'webhooks', 'keys'];

export const SCOPES = ['messages:send', 'messages:read', 'contacts:read',
  'contacts:write', 'webhooks:manage', 'account:read', 'conversations:read',
  'conversations:write', 'campaigns:read', 'campaigns:write'];

export const EVENTS = ['message.received', 'message.sent', 'message.delivered',
  'message.read', 'message.failed', 'conversation.created',
  'conversation.closed', 'contact.created', 'contact.updated',
  'campaign.completed'];

// ---- DOM helpers ----------------------------------------------------------

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// el('button', {type: 'button', dataset: {action: 'edit'}, class: 'x'}, 'Edit')
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'selected') e[k] = Boolean(v);
      else if (k === 'value') e.value = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(e, children);
  return e;
}

function append(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// A date in the user's locale, inside <time datetime=…>; '—' for none.
export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function timeEl(iso) {
  if (!iso) return document.createTextNode('—');
  return el('time', { datetime: iso, title: iso }, fmtDate(iso));
}

// A cell for every value; an empty table shows one row saying so.
export function emptyRow(tbody, cols, text) {
  tbody.appendChild(el('tr', { class: 'empty' }, el('td', { colspan: cols }, text)));
}

export function splitList(s) {
  const out = [];
  for (const part of String(s || '').split(',')) {
    const t = part.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

export function markReady() {
  document.body.dataset.ready = '1';
}

// ---- API client -----------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, details, retryAfter) {
    super(message || code || 'error');
    this.status = status;
    this.code = code || '';
    this.details = details || {};
    this.retryAfter = retryAfter;
  }
}

export function csrfToken() {
  try { return sessionStorage.getItem(CSRF_KEY) || ''; } catch (e) { return ''; }
}

export function setCsrf(token) {
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch (e) { /* storage off: requests will answer 403 and say so */ }
}

function currentPage() {
  const m = /([a-z]+)\.html$/.exec(location.pathname);
  return m ? m[1] : '';
}

let redirecting = false;
export function toLogin() {
  if (redirecting) return;
  redirecting = true;
  setCsrf('');
  const page = currentPage();
  const next = PAGES.includes(page) ? page + '.html' : '';
  location.replace('login.html' + (next ? '?next=' + encodeURIComponent(next) : ''));
}

async function rawRequest(method, path, body, query) {
  let url = API + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrfToken();
    if (t) headers['X-CSRF-Token'] = t;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', '', {});
  }
  let json = null;
  try { json = await res.json(); } catch (e) { json = null; }
  if (res.ok && json && json.success !== false) return json;
  const err = (json && json.error) || {};
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  throw new ApiError(res.status, err.code || '', err.message || '',
    err.details || {}, Number.isFinite(ra) ? ra : undefined);
}

// api('GET', '/contacts', undefined, {page: 2}) → the whole envelope
// ({success, data, meta}). Any 401 sends the browser to the sign-in page
// (unless opts.noRedirect). A 403 CSRF_TOKEN_INVALID refreshes the token from
// /auth/me once and retries.
export async function api(method, path, body, query, opts = {}) {
  try {
    return await rawRequest(method, path, body, query);
  } catch (e) {
    if (e.status === 403 && e.code === 'CSRF_TOKEN_INVALID' && !opts.retried) {
      try {
        const me = await rawRequest('GET', '/auth/me');
        setCsrf(me.data.csrf_token);
      } catch (e2) {
        if (e2.status === 401 && !opts.noRedirect) toLogin();
        throw e;
      }
      return api(method, path, body, query, { ...opts, retried: true });
    }
    if (e.status === 401 && !opts.noRedirect) toLogin();
    throw e;
  }
}

export const get = (path, query, opts) => api('GET', path, undefined, query, opts);
export const post = (path, body, opts) => api('POST', path, body, undefined, opts);
export const put = (path, body, opts) => api('PUT', path, body, undefined, opts);
export const del = (path, opts) => api('DELETE', path, undefined, undefined, opts);

// Every page of a list (for <select>s), at most `max` items.
export async function getAll(path, max = 500) {
  const out = [];
  for (let page = 1; out.length < max; page++) {
    const r = await get(path, { page, per_page: 100 });
    out.push(...r.data);
    if (!r.meta || page >= r.meta.last_page) break;
  }
  return out;
}

// ---- errors in the user's words ---------------------------------------------

const UNAVAILABLE = 'Wazera is unavailable right now — try again shortly.';

export function errorText(e) {
  if (!(e instanceof ApiError)) return UNAVAILABLE;
  switch (e.code) {
    case 'AUTHENTICATION_ERROR':
    case 'KEY_REVOKED':
      return 'Your session has ended — please sign in again.';
    case 'INSUFFICIENT_PERMISSIONS':
      return 'Your role can\'t do this.';
    case 'CSRF_TOKEN_INVALID':
      return 'Your session needs refreshing — reload the page.';
    case 'RESOURCE_NOT_FOUND':
      return 'It no longer exists.';
    case 'METHOD_NOT_ALLOWED':
      return 'That action isn\'t available.';
    case 'CONFLICT':
      return 'That can\'t be done right now' + (e.message ? ': ' + e.message : '.');
    case 'PAYLOAD_TOO_LARGE':
      return 'That is too large to send.';
    case 'VALIDATION_ERROR':
      return 'Please correct the marked fields.';
    case 'OUTSIDE_SERVICE_WINDOW':
      return 'The customer last wrote more than 24 hours ago: send an approved template instead.';
    case 'RATE_LIMIT_EXCEEDED':
      return 'Too many attempts — try again in ' +
        (e.retryAfter !== undefined ? e.retryAfter + (e.retryAfter === 1 ? ' second.' : ' seconds.') : 'a minute.');
    case 'BAD_REQUEST':
      return 'The request was not understood — reload the page and try again.';
    case 'WHATSAPP_ERROR':
      return 'WhatsApp did not accept this — try again shortly.';
    default:
      break;
  }
  if (e.status === 401) return 'Your session has ended — please sign in again.';
  if (e.status === 403) return 'Your role can\'t do this.';
  if (e.status === 404) return 'It no longer exists.';
  if (e.status === 409) return 'That can\'t be done right now.';
  if (e.status === 413) return 'That is too large to send.';
  if (e.status === 422) return 'Please correct the marked fields.';
  if (e.status === 429) return errorText(new ApiError(429, 'RATE_LIMIT_EXCEEDED', '', {}, e.retryAfter));
  return UNAVAILABLE;
}

// ---- page messages ----------------------------------------------------------

let noticeTimer = 0;

export function showError(e) {
  const box = $('#error');
  if (!box) return;
  const text = typeof e === 'string' ? e : errorText(e);
  clear(box);
  box.appendChild(el('p', null, text));
  box.hidden = false;
  showNotice('');
}

export function clearError() {
  const box = $('#error');
  if (!box) return;
  clear(box);
  box.hidden = true;
}

export function showNotice(text) {
  const box = $('#notice');
  if (!box) return;
  clearTimeout(noticeTimer);
  box.textContent = text || '';
  if (text) noticeTimer = setTimeout(() => { box.textContent = ''; }, 8000);
}

// A 422 VALIDATION_ERROR's details beside the inputs. `fields` maps an API
// field name (or the first part of a dotted one) to an input id; messages for
// fields without an input go into the error box (or `box`).
export function showFieldErrors(form, e, fields, box) {
  clearFieldErrors(form);
  const rest = [];
  const details = (e && e.details) || {};
  for (const [name, msgs] of Object.entries(details)) {
    const list = Array.isArray(msgs) ? msgs : [String(msgs)];
    let id = fields[name];
    if (!id) {
      const parts = name.split('.');
      while (parts.length > 1 && !id) { parts.pop(); id = fields[parts.join('.')]; }
    }
    const input = id && document.getElementById(id);
    if (!input) { rest.push(...list); continue; }
    const errId = id + '-error';
    let p = document.getElementById(errId);
    if (!p) {
      p = el('p', { class: 'field-error', id: errId });
      const wrap = input.closest('.field');
      if (wrap) wrap.appendChild(p); else input.after(p);
    }
    p.textContent = (p.textContent ? p.textContent + ' ' : '') + list.join(' ');
    input.setAttribute('aria-invalid', 'true');
    const desc = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!desc.includes(errId)) desc.push(errId);
    input.setAttribute('aria-describedby', desc.join(' '));
  }
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  const msg = errorText(e) + (rest.length ? ' ' + rest.join(' ') : '');
  if (box) { box.textContent = msg; box.hidden = false; } else showError(msg);
}

export function clearFieldErrors(form) {
  for (const p of $$('.field-error', form)) {
    const id = p.id.replace(/-error$/, '');
    const input = document.getElementById(id);
    if (input) {
      input.removeAttribute('aria-invalid');
      const desc = (input.getAttribute('aria-describedby') || '').split(' ')
        .filter((d) => d && d !== p.id);
      if (desc.length) input.setAttribute('aria-describedby', desc.join(' '));
      else input.removeAttribute('aria-describedby');
    }
    p.remove();
  }
}

// Shows the error of a form's request: 422 beside the inputs, else the box.
export function formError(form, e, fields, box) {
  if (e instanceof ApiError && e.code === 'VALIDATION_ERROR') {
    showFieldErrors(form, e, fields, box);
  } else if (box) {
    box.textContent = errorText(e);
    box.hidden = false;
  } else {
    showError(e);
  }
}

// Disables a button while a request runs.
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try { return await fn(); } finally { if (button) button.disabled = false; }
}

// ---- pager ------------------------------------------------------------------

// pager(label, onChange) → {el, page, update(meta)}; el is nav.pager.
export function pager(label, onChange) {
  const prev = el('button', { type: 'button', dataset: { page: 'prev' } }, '‹ Previous');
  const next = el('button', { type: 'button', dataset: { page: 'next' } }, 'Next ›');
  const info = el('span', { class: 'page-info', 'aria-live': 'polite' }, 'Page 1 of 1');
  const nav = el('nav', { class: 'pager', 'aria-label': label }, prev, info, next);
  const p = {
    el: nav, page: 1, last: 1,
    update(meta) {
      if (meta) { p.page = meta.current_page || p.page; p.last = Math.max(1, meta.last_page || 1); }
      if (p.page > p.last) p.page = p.last;
      info.textContent = 'Page ' + p.page + ' of ' + p.last;
      prev.disabled = p.page <= 1;
      next.disabled = p.page >= p.last;
    },
    go(n) { p.page = Math.max(1, n); onChange(p.page); },
  };
  prev.addEventListener('click', () => { if (p.page > 1) p.go(p.page - 1); });
  next.addEventListener('click', () => { if (p.page < p.last) p.go(p.page + 1); });
  p.update();
  return p;
}

// ---- session and nav --------------------------------------------------------

export function isAdmin(user) {
  return Boolean(user && user.role === 'admin');
}

// Checks the session (GET /auth/me, which also refreshes the CSRF token),
// renders the nav's user part and wires sign-out. Resolves to the user; on 401
// the browser goes to login.html?next=<page>.
export async function boot(page) {
  const signout = $('#signout');
  if (signout) signout.addEventListener('click', signOut);
  const r = await get('/auth/me');
  const user = r.data.user;
  setCsrf(r.data.csrf_token);
  renderNav(page, user);
  return user;
}

function renderNav(page, user) {
  const nav = $('#nav');
  if (nav) {
    if (isAdmin(user) && !$('a[data-nav="keys"]', nav)) {
      const ul = $('ul', nav);
      const a = el('a', { href: 'keys.html', dataset: { nav: 'keys' } }, 'API keys');
      if (ul) ul.appendChild(el('li', null, a)); else nav.appendChild(a);
    }
    if (!isAdmin(user)) {
      for (const a of $$('a[data-nav="keys"]', nav)) (a.closest('li') || a).remove();
    }
    for (const a of $$('a[data-nav]', nav)) {
      if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }
  const who = $('#whoami');
  if (who) who.textContent = (user.name || user.email) + ' (' + user.role + ')';
}

async function signOut(ev) {
  const b = ev && ev.currentTarget;
  if (b) b.disabled = true;
  try {
    await post('/auth/logout', {}, { noRedirect: true });
  } catch (e) {
    if (e.status !== 401) {
      if (b) b.disabled = false;
      showError(e);
      return;
    }
  }
  setCsrf('');
  location.replace('login.html');
}

// Runs fn every `ms` after the previous run ended, while `keep()` is true;
// skips runs while the tab is hidden. Returns a stop function.
export function poll(ms, fn, keep = () => true) {
  let timer = 0;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden && keep()) {
      try { await fn(); } catch (e) { /* the page shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => { stopped = true; clearTimeout(timer); };
}

// Copies text; falls back to selecting `node`'s text for Ctrl+C.
export async function copyText(text, node) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) { /* fall through to selecting */ }
  if (node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  return false;
}

// Wraps page start-up: a failure other than 401 shows in #error and still
// marks the page ready (the page shows what it could).
export async function start(fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    showError(e);
  }
  markReady();
}
