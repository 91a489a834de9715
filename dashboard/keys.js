// API keys (admins): list, create with scopes and expiry (the key shown
// once), revoke with an inline confirmation.
import {
  $, $$, el, clear, timeEl, emptyRow, boot, start, get, post, del, pager,
  isAdmin, showError, clearError, showNotice, formError, clearFieldErrors,
  copyText, ApiError,
} from './app.js';

const form = $('#key-form');
const tbody = $('#key-list tbody');
const newBox = $('#key-new');
const newValue = $('#key-new-value');
const pg = pager('API key pages', () => load().catch(showError));

function status(k) {
  if (k.revoked_at) return el('span', { class: 'badge revoked' }, 'Revoked ', timeEl(k.revoked_at));
  if (k.expires_at && new Date(k.expires_at).getTime() <= Date.now()) {
    return el('span', { class: 'badge bad' }, 'Expired');
  }
  return el('span', { class: 'badge ok' }, 'Active');
}

function actions(k) {
  const td = el('td', { class: 'actions-cell' });
  if (!k.revoked_at) {
    td.appendChild(el('div', { class: 'actions' },
      el('button', { type: 'button', dataset: { action: 'revoke' },
        'aria-label': 'Revoke key ' + k.prefix }, 'Revoke')));
  }
  return td;
}

function row(k) {
  const tr = el('tr', { dataset: { id: String(k.id) } },
    el('td', null, k.name || '—'),
    el('td', null, el('code', { class: 'nowrap' }, k.prefix + '…')),
    el('td', null, k.scopes && k.scopes.length ? k.scopes.join(', ') : 'all scopes'),
    el('td', null, timeEl(k.last_used_at)),
    el('td', null, timeEl(k.created_at)),
    el('td', null, k.expires_at ? timeEl(k.expires_at) : 'never'),
    el('td', null, status(k)),
    actions(k));
  if (k.revoked_at) tr.dataset.revoked = '1';
  return tr;
}

function fetchPage() {
  return get('/api-keys', { page: pg.page, per_page: 25 });
}

async function load(pending) {
  const r = await (pending || fetchPage());
  clear(tbody);
  for (const k of r.data) tbody.appendChild(row(k));
  if (!r.data.length) emptyRow(tbody, 8, 'No API keys yet.');
  pg.update(r.meta);
}

// The date input's day, as the end of that day in the user's time zone.
function expiresAt(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  clearFieldErrors(form);
  const body = {};
  const name = $('#key-name').value.trim();
  if (name) body.name = name;
  const scopes = $$('input[name=scope]:checked', form).map((i) => i.value);
  if (scopes.length) body.scopes = scopes;
  const exp = $('#key-expires').value;
  if (exp) {
    const at = expiresAt(exp);
    if (!at) {
      formError(form, new ApiError(422, 'VALIDATION_ERROR', '', { expires_at: ['Pick a date.'] }),
        { expires_at: 'key-expires' });
      return;
    }
    body.expires_at = at;
  }
  const button = $('#key-create');
  button.disabled = true;
  try {
    const r = await post('/api-keys', body);
    newValue.textContent = r.data.key;
    newBox.hidden = false;
    form.reset();
    showNotice('API key ' + r.data.prefix + '… created.');
    $('#key-copy').focus();
    pg.page = 1;
    await load();
  } catch (e) {
    formError(form, e, { name: 'key-name', scopes: 'key-scopes', expires_at: 'key-expires' });
  } finally {
    button.disabled = false;
  }
});

$('#key-copy').addEventListener('click', async () => {
  const ok = await copyText(newValue.textContent, newValue);
  showNotice(ok ? 'The key is on the clipboard.' : 'The key is selected: press Ctrl+C (or ⌘C) to copy it.');
});

$('#key-done').addEventListener('click', () => {
  newValue.textContent = '';
  newBox.hidden = true;
  $('#key-name').focus();
});

tbody.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const tr = b.closest('tr[data-id]');
  const id = tr.dataset.id;
  const cell = b.closest('td');
  if (b.dataset.action === 'revoke') {
    clear(cell).appendChild(el('div', { class: 'actions' },
      el('span', { class: 'confirm-text' }, 'Revoke this key? Requests with it stop at once.'),
      el('button', { type: 'button', class: 'danger', dataset: { action: 'confirm-revoke' } }, 'Revoke'),
      el('button', { type: 'button', dataset: { action: 'cancel-revoke' } }, 'Keep')));
    $('button[data-action=confirm-revoke]', cell).focus();
  } else if (b.dataset.action === 'cancel-revoke') {
    const keep = el('button', { type: 'button', dataset: { action: 'revoke' } }, 'Revoke');
    clear(cell).appendChild(el('div', { class: 'actions' }, keep));
    keep.focus();
  } else if (b.dataset.action === 'confirm-revoke') {
    clearError();
    b.disabled = true;
    try {
      await del('/api-keys/' + encodeURIComponent(id));
      showNotice('The key is revoked.');
      await load();
    } catch (e) {
      b.disabled = false;
      showError(e);
    }
  }
});

start(async () => {
  // The list is asked for while the session is checked (an agent's answer,
  // a 403, is dropped).
  const first = fetchPage();
  first.catch(() => {});
  const user = await boot('keys');
  if (!isAdmin(user)) {
    $('#keys-admin').remove();
    $('#forbidden').hidden = false;
    return;
  }
  $('#keys-admin').hidden = false;
  const min = new Date();
  $('#key-expires').min = min.getFullYear() + '-' + String(min.getMonth() + 1).padStart(2, '0') +
    '-' + String(min.getDate()).padStart(2, '0');
  $('#key-pager').appendChild(pg.el);
  await load(first);
});
