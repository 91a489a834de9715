// Contacts: search and tag filter, paged list, create, edit (PUT).
import {
  $, el, clear, timeEl, emptyRow, boot, start, get, post, put, pager,
  clearError, showError, showNotice, formError, clearFieldErrors, splitList,
} from './app.js';

const form = $('#contact-form');
const tbody = $('#contact-list tbody');
const search = $('#contact-search');
const tag = $('#contact-tag');
const pg = pager('Contact pages', () => load().catch(showError));
const FIELDS = { name: 'contact-name', phone: 'contact-phone', email: 'contact-email', tags: 'contact-tags' };
let editing = null; // the contact being edited, or null
let seq = 0;
const shown = new Map(); // id → contact on this page

function row(c) {
  return el('tr', { dataset: { id: String(c.id) } },
    el('td', null, c.name || '—'),
    el('td', null, c.phone),
    el('td', null, c.email || '—'),
    el('td', null, el('span', { class: 'tags' },
      (c.tags || []).map((t) => el('span', { class: 'badge' }, t)))),
    el('td', null, c.opted_out ? 'yes' : 'no'),
    el('td', null, timeEl(c.created_at)),
    el('td', null, el('button', { type: 'button', dataset: { action: 'edit' },
      'aria-label': 'Edit ' + (c.name || c.phone) }, 'Edit')));
}

function query() {
  return { page: pg.page, per_page: 25, search: search.value.trim(), tag: tag.value.trim() };
}

async function load(pending) {
  const mine = ++seq;
  const r = await (pending || get('/contacts', query()));
  if (mine !== seq) return; // a newer search answered (or will)
  clear(tbody);
  shown.clear();
  for (const c of r.data) {
    shown.set(String(c.id), c);
    tbody.appendChild(row(c));
  }
  if (!r.data.length) {
    emptyRow(tbody, 7, search.value.trim() || tag.value.trim()
      ? 'No contacts match.' : 'No contacts yet.');
  }
  pg.update(r.meta);
}

function setEditing(c) {
  editing = c;
  clearFieldErrors(form);
  $('#contact-form-h').textContent = c ? 'Edit contact' : 'New contact';
  $('#contact-save').textContent = c ? 'Save contact' : 'Create contact';
  $('#contact-cancel').hidden = !c;
  $('#contact-name').value = c ? c.name || '' : '';
  $('#contact-phone').value = c ? c.phone || '' : '';
  $('#contact-email').value = c ? c.email || '' : '';
  $('#contact-tags').value = c ? (c.tags || []).join(', ') : '';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  clearFieldErrors(form);
  const body = {
    name: $('#contact-name').value.trim() || null,
    phone: $('#contact-phone').value.trim(),
    email: $('#contact-email').value.trim() || null,
    tags: splitList($('#contact-tags').value),
  };
  const button = $('#contact-save');
  button.disabled = true;
  try {
    if (editing) {
      await put('/contacts/' + encodeURIComponent(editing.id), body);
      showNotice('Contact saved.');
    } else {
      const r = await post('/contacts', body);
      showNotice('Contact ' + (r.data.name || r.data.phone) + ' created.');
      pg.page = 1;
    }
    setEditing(null);
    await load();
    $('#contact-name').focus();
  } catch (e) {
    formError(form, e, FIELDS);
  } finally {
    button.disabled = false;
  }
});

$('#contact-cancel').addEventListener('click', () => {
  setEditing(null);
  $('#contact-name').focus();
});

tbody.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action=edit]');
  if (!b) return;
  const c = shown.get(b.closest('tr[data-id]').dataset.id);
  if (!c) return;
  setEditing(c);
  form.scrollIntoView({ block: 'start' });
  $('#contact-name').focus();
});

// Filtering: at once on Enter, else shortly after typing stops.
let timer = 0;
function refilter() {
  clearTimeout(timer);
  pg.page = 1;
  clearError();
  load().catch(showError);
}
$('#contact-filter').addEventListener('submit', (ev) => { ev.preventDefault(); refilter(); });
for (const input of [search, tag]) {
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refilter, 300);
  });
}

start(async () => {
  $('#contact-pager').appendChild(pg.el);
  const first = get('/contacts', query());
  first.catch(() => {});
  await boot('contacts');
  await load(first);
});
