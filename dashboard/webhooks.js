// Webhooks: list, create (secret shown once), edit, enable/disable, delete
// (inline confirmation), test ping, the delivery log with attempts and
// redelivery.
import {
  $, $$, el, clear, timeEl, emptyRow, boot, start, get, post, put, del, pager,
  clearError, showError, showNotice, formError, clearFieldErrors, copyText,
  isAdmin,
} from './app.js';

const form = $('#webhook-form');
const tbody = $('#webhook-list tbody');
const dsec = $('#deliveries');
const dbody = $('#delivery-list tbody');
const attempts = $('#attempts');
const FIELDS = { url: 'webhook-url', events: 'webhook-events', secret: 'webhook-secret', status: 'webhook-url' };
const pg = pager('Webhook pages', () => load().catch(showError));
const dpg = pager('Delivery pages', () => loadDeliveries().catch(showError));
const shown = new Map();
let editing = null;
let current = null; // the webhook whose deliveries are shown

function row(w) {
  const st = el('span', { class: 'badge ' + w.status }, w.status);
  return el('tr', { dataset: { id: String(w.id), status: w.status } },
    el('td', null, el('code', null, w.url)),
    el('td', null, w.events.join(', ')),
    el('td', null, st, w.disabled_reason ? el('div', { class: 'hint' }, w.disabled_reason) : null),
    el('td', null, timeEl(w.created_at)),
    el('td', { class: 'actions-cell' }, rowActions(w)));
}

function rowActions(w) {
  const b = (action, text) => el('button', { type: 'button', dataset: { action } }, text);
  return el('div', { class: 'actions' },
    b('test', 'Test'),
    b('deliveries', 'Deliveries'),
    b('edit', 'Edit'),
    b('toggle', w.status === 'active' ? 'Disable' : 'Enable'),
    b('delete', 'Delete'));
}

async function load(pending) {
  const r = await (pending || get('/webhooks', { page: pg.page, per_page: 25 }));
  clear(tbody);
  shown.clear();
  for (const w of r.data) {
    shown.set(String(w.id), w);
    tbody.appendChild(row(w));
  }
  if (!r.data.length) emptyRow(tbody, 5, 'No webhooks yet.');
  pg.update(r.meta);
  for (const tr of $$('tr[data-id]', tbody)) {
    tr.classList.toggle('selected', current !== null && tr.dataset.id === String(current.id));
  }
}

function checkedEvents() {
  return $$('input[name=event]:checked', form).map((i) => i.value);
}

function setEditing(w) {
  editing = w;
  clearFieldErrors(form);
  $('#webhook-form-h').textContent = w ? 'Edit webhook' : 'New webhook';
  $('#webhook-create').textContent = w ? 'Save webhook' : 'Create webhook';
  $('#webhook-cancel').hidden = !w;
  $('#webhook-secret-hint').textContent = w
    ? 'Leave empty to keep the current secret; a new one signs everything from now on.'
    : 'Leave empty to have one generated.';
  $('#webhook-url').value = w ? w.url : '';
  $('#webhook-secret').value = '';
  for (const i of $$('input[name=event]', form)) i.checked = Boolean(w && w.events.includes(i.value));
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  clearFieldErrors(form);
  const body = { url: $('#webhook-url').value.trim(), events: checkedEvents() };
  const secret = $('#webhook-secret').value.trim();
  if (secret) body.secret = secret;
  const button = $('#webhook-create');
  button.disabled = true;
  try {
    if (editing) {
      await put('/webhooks/' + editing.id, body);
      showNotice('Webhook saved.');
    } else {
      const r = await post('/webhooks', body);
      $('#webhook-secret-new').textContent = r.data.secret;
      $('#webhook-secret-box').hidden = false;
      showNotice('Webhook created. Keep its signing secret: it is shown only now.');
      pg.page = 1;
    }
    setEditing(null);
    await load();
  } catch (e) {
    formError(form, e, FIELDS);
  } finally {
    button.disabled = false;
  }
});

$('#webhook-cancel').addEventListener('click', () => { setEditing(null); $('#webhook-url').focus(); });
$('#webhook-secret-copy').addEventListener('click', async () => {
  const code = $('#webhook-secret-new');
  const ok = await copyText(code.textContent, code);
  showNotice(ok ? 'The secret is on the clipboard.' : 'The secret is selected: press Ctrl+C (or ⌘C) to copy it.');
});
$('#webhook-secret-done').addEventListener('click', () => {
  $('#webhook-secret-new').textContent = '';
  $('#webhook-secret-box').hidden = true;
  $('#webhook-url').focus();
});

function confirmDelete(cell, w) {
  clear(cell).appendChild(el('div', { class: 'actions' },
    el('span', { class: 'confirm-text' }, 'Delete this webhook and its log?'),
    el('button', { type: 'button', class: 'danger', dataset: { action: 'confirm-delete' } }, 'Delete'),
    el('button', { type: 'button', dataset: { action: 'cancel-delete' } }, 'Keep')));
  $('button[data-action=confirm-delete]', cell).focus();
  void w;
}

tbody.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const tr = b.closest('tr[data-id]');
  const w = shown.get(tr.dataset.id);
  if (!w) return;
  const cell = b.closest('td');
  const action = b.dataset.action;
  clearError();
  try {
    if (action === 'delete') {
      confirmDelete(cell, w);
    } else if (action === 'cancel-delete') {
      clear(cell).appendChild(rowActions(w));
      $('button[data-action=delete]', cell).focus();
    } else if (action === 'confirm-delete') {
      b.disabled = true;
      await del('/webhooks/' + w.id);
      if (editing && editing.id === w.id) setEditing(null);
      if (current && current.id === w.id) hideDeliveries();
      showNotice('Webhook deleted.');
      await load();
    } else if (action === 'edit') {
      setEditing(w);
      form.scrollIntoView({ block: 'start' });
      $('#webhook-url').focus();
    } else if (action === 'toggle') {
      b.disabled = true;
      const status = w.status === 'active' ? 'disabled' : 'active';
      await put('/webhooks/' + w.id, { status });
      showNotice(status === 'active' ? 'Webhook enabled.' : 'Webhook disabled.');
      await load();
      const again = $('tr[data-id="' + w.id + '"] button[data-action=toggle]', tbody);
      if (again) again.focus();
    } else if (action === 'test') {
      b.disabled = true;
      const r = await post('/webhooks/' + w.id + '/test');
      const d = r.data;
      showNotice('Test ping ' + (d.status === 'pending' ? 'queued' : 'sent: ' + describe(d)) + '.');
      await showDeliveries(w);
      // The ping goes out at once; look again shortly for its answer.
      for (const ms of [1500, 4000]) {
        setTimeout(() => { if (current === w) loadDeliveries().catch(() => {}); }, ms);
      }
      b.disabled = false;
    } else if (action === 'deliveries') {
      await showDeliveries(w);
      $('#deliveries-h').focus();
    }
  } catch (e) {
    b.disabled = false;
    showError(e);
  }
});

function describe(d) {
  if (d.status === 'succeeded') return 'delivered' + (d.last_status_code ? ' (HTTP ' + d.last_status_code + ')' : '');
  if (d.status === 'pending') return 'pending' + (d.last_error ? ' — ' + d.last_error : '');
  return 'failed' + (d.last_status_code ? ' (HTTP ' + d.last_status_code + ')' : '') +
    (d.last_error ? ' — ' + d.last_error : '');
}

// ---- deliveries --------------------------------------------------------------

async function showDeliveries(w) {
  if (!current || current.id !== w.id) {
    dpg.page = 1;
    attempts.hidden = true;
  }
  current = w;
  $('#deliveries-h').textContent = 'Deliveries to ' + w.url;
  dsec.hidden = false;
  for (const tr of $$('tr[data-id]', tbody)) tr.classList.toggle('selected', tr.dataset.id === String(w.id));
  await loadDeliveries();
}

function hideDeliveries() {
  current = null;
  dsec.hidden = true;
  attempts.hidden = true;
  for (const tr of $$('tr.selected', tbody)) tr.classList.remove('selected');
}

function answer(d) {
  const parts = [];
  if (d.last_status_code !== null && d.last_status_code !== undefined) parts.push('HTTP ' + d.last_status_code);
  if (d.last_error) parts.push(d.last_error);
  return parts.length ? parts.join(' — ') : '—';
}

function deliveryRow(d) {
  return el('tr', { dataset: { id: String(d.id), event: d.event, status: d.status } },
    el('td', null, d.event),
    el('td', null, el('span', { class: 'badge ' + d.status }, d.status)),
    el('td', { class: 'num' }, String(d.attempts)),
    el('td', null, answer(d)),
    el('td', null, timeEl(d.last_attempt_at)),
    el('td', null, timeEl(d.next_attempt_at)),
    el('td', null, timeEl(d.created_at)),
    el('td', null, el('div', { class: 'actions' },
      el('button', { type: 'button', dataset: { action: 'attempts' } }, 'Attempts'),
      el('button', { type: 'button', dataset: { action: 'redeliver' },
        disabled: d.status === 'pending' }, 'Redeliver'))));
}

async function loadDeliveries() {
  if (!current) return;
  const w = current;
  const r = await get('/webhooks/' + w.id + '/deliveries',
    { page: dpg.page, per_page: 25, status: $('#delivery-status').value });
  if (current !== w) return;
  clear(dbody);
  for (const d of r.data) dbody.appendChild(deliveryRow(d));
  if (!r.data.length) emptyRow(dbody, 8, 'No deliveries.');
  dpg.update(r.meta);
}

async function showAttempts(id) {
  const w = current;
  const r = await get('/webhooks/' + w.id + '/deliveries/' + id);
  const d = r.data;
  const ab = $('#attempt-list tbody');
  clear(ab);
  $('#attempts-h').textContent = 'Attempts of delivery ' + d.id + ' (' + d.event + ', ' +
    d.attempt_count + (d.attempt_count === 1 ? ' attempt)' : ' attempts)');
  for (const a of d.attempts) {
    ab.appendChild(el('tr', null,
      el('td', null, timeEl(a.attempted_at)),
      el('td', null, a.status_code === null ? 'no answer' : String(a.status_code)),
      el('td', { class: 'num' }, a.duration_ms + ' ms'),
      el('td', null, [a.error_class, a.error].filter(Boolean).join(': ') || '—'),
      el('td', null, a.response_body ? el('div', { class: 'response-body' }, a.response_body) : '—')));
  }
  if (!d.attempts.length) emptyRow(ab, 5, 'No attempts yet.');
  attempts.hidden = false;
}

dbody.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b || !current) return;
  const id = b.closest('tr[data-id]').dataset.id;
  clearError();
  b.disabled = true;
  try {
    if (b.dataset.action === 'attempts') {
      await showAttempts(id);
      b.disabled = false;
    } else if (b.dataset.action === 'redeliver') {
      await post('/webhooks/' + current.id + '/deliveries/' + id + '/redeliver');
      showNotice('Delivery ' + id + ' queued once more.');
      await loadDeliveries();
    }
  } catch (e) {
    b.disabled = false;
    showError(e);
  }
});

$('#deliveries-refresh').addEventListener('click', async (ev) => {
  const b = ev.currentTarget;
  clearError();
  b.disabled = true;
  try {
    await loadDeliveries();
    if (!attempts.hidden) attempts.hidden = true;
  } catch (e) {
    showError(e);
  } finally {
    b.disabled = false;
  }
});
$('#delivery-status').addEventListener('change', () => { dpg.page = 1; loadDeliveries().catch(showError); });
$('#deliveries-hide').addEventListener('click', () => { hideDeliveries(); });

start(async () => {
  $('#webhook-pager').appendChild(pg.el);
  $('#delivery-pager').appendChild(dpg.el);
  $('#deliveries-h').tabIndex = -1;
  const first = get('/webhooks', { page: 1, per_page: 25 });
  first.catch(() => {});
  const user = await boot('webhooks');
  if (!isAdmin(user)) {
    $('#webhooks-admin').remove();
    $('#forbidden').hidden = false;
    return;
  }
  await load(first);
});
