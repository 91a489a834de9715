// The inbox: conversations by status, a conversation's messages (polled every
// 3 s while open), reply with text inside the 24-hour window or with a
// template outside it, close, assign.
import {
  $, el, clear, fmtDate, timeEl, boot, start, get, getAll, post, put, pager,
  poll, isAdmin, clearError, showError, showNotice, formError,
  clearFieldErrors, ApiError,
} from './app.js';

const DAY = 24 * 3600 * 1000;
const list = $('#conv-list');
const statusSel = $('#conv-status');
const convSec = $('#conv');
const msgs = $('#conv-messages');
const form = $('#reply-form');
const text = $('#reply-text');
const assignSel = $('#conv-assign');
const closeBtn = $('#conv-close');
const pg = pager('Conversation pages', () => loadList().catch(showError));
const FIELDS = {
  'content.body': 'reply-text', message: 'reply-text', content: 'reply-text',
  'content.name': 'reply-template-name', 'content.language': 'reply-template-language',
};

let me = null;
let admin = false;
const users = new Map(); // id → user (admins)
let conv = null; // the open conversation (detail)
let listSig = '';
let msgSig = '';
let listSeq = 0;
// Template mode: when the window is closed by our reckoning, or the server
// said so (OUTSIDE_SERVICE_WINDOW) while the latest inbound message was
// `refusedAfter`; `forceText` when the user chose to try a text anyway.
let refusedAfter = null;
let forceText = false;

// ---- the list ----------------------------------------------------------------

function who(id) {
  if (id === null || id === undefined) return 'unassigned';
  if (me && id === me.id) return 'you';
  const u = users.get(id);
  return u ? u.name : 'user ' + id;
}

function convItem(c) {
  const name = c.contact.name || c.contact.phone || 'Deleted contact';
  const li = el('li', { tabindex: '0', dataset: { id: String(c.id), status: c.status },
    'aria-label': name + ', ' + c.status + ', ' + who(c.assigned_to) },
  el('span', { class: 'conv-name' }, name),
  el('span', { class: 'conv-meta' },
    (c.contact.name && c.contact.phone ? c.contact.phone + ' · ' : '') + c.status + ' · ' +
    who(c.assigned_to) + ' · ', c.last_message_at ? timeEl(c.last_message_at) : 'no messages'));
  if (conv && conv.id === c.id) li.setAttribute('aria-current', 'true');
  return li;
}

async function loadList(pending) {
  const mine = ++listSeq;
  const status = statusSel.value === 'all' ? '' : statusSel.value;
  const r = await (pending || get('/conversations', { page: pg.page, per_page: 25, status }));
  if (mine !== listSeq) return;
  pg.update(r.meta);
  const sig = JSON.stringify([r.data, [...users.keys()], conv && conv.id]);
  if (sig === listSig) return;
  listSig = sig;
  const focused = document.activeElement && list.contains(document.activeElement)
    ? document.activeElement.dataset.id : null;
  clear(list);
  for (const c of r.data) list.appendChild(convItem(c));
  if (!r.data.length) list.appendChild(el('li', { class: 'empty' }, 'No conversations here.'));
  if (focused) {
    const again = list.querySelector('li[data-id="' + focused + '"]');
    if (again) again.focus();
  }
}

statusSel.addEventListener('change', () => {
  pg.page = 1;
  clearError();
  loadList().catch(showError);
});

function pick(ev) {
  const li = ev.target.closest('li[data-id]');
  if (!li) return;
  clearError();
  openConv(Number(li.dataset.id)).catch(showError);
}
list.addEventListener('click', pick);
list.addEventListener('keydown', (ev) => {
  if ((ev.key === 'Enter' || ev.key === ' ') && ev.target.matches('li[data-id]')) {
    ev.preventDefault();
    pick(ev);
  }
});

// ---- one conversation ----------------------------------------------------------

function describe(m) {
  const c = m.content || {};
  const t = m.type;
  if (t === 'text') return (c.body !== undefined ? c.body : c.text && c.text.body) || '';
  if (t === 'template') {
    const lang = typeof c.language === 'object' && c.language ? c.language.code : c.language;
    return 'Template ' + (c.name || (c.template && c.template.name) || '') + (lang ? ' (' + lang + ')' : '');
  }
  const media = c[t] && typeof c[t] === 'object' ? c[t] : c;
  if (['image', 'video', 'audio', 'document', 'sticker'].includes(t)) {
    return '[' + t + ']' + (media.caption ? ' ' + media.caption : '') +
      (media.filename ? ' ' + media.filename : '');
  }
  if (t === 'location') {
    const l = c.location || c;
    return '[location] ' + [l.name, l.address].filter(Boolean).join(', ') +
      (l.latitude !== undefined ? ' (' + l.latitude + ', ' + l.longitude + ')' : '');
  }
  if (t === 'button' && c.button) return c.button.text || '[button]';
  if (t === 'interactive') {
    const i = c.interactive || c;
    const reply = i.button_reply || i.list_reply;
    if (reply) return reply.title || '[reply]';
    return '[interactive' + (i.type ? ' ' + i.type : '') + ']';
  }
  if (t === 'reaction' && c.reaction) return 'Reacted ' + (c.reaction.emoji || '');
  return '[' + t + ']';
}

function messageItem(m) {
  const meta = [fmtDate(m.created_at)];
  if (m.direction === 'outbound') meta.push(m.status);
  const li = el('li', { dataset: { id: String(m.id), direction: m.direction, status: m.status },
    class: m.status === 'failed' ? 'msg-failed' : null },
  el('span', { class: 'msg-body' }, describe(m)),
  el('span', { class: 'msg-meta' },
    el('time', { datetime: m.created_at }, meta.join(' · ')),
    m.error ? ' — ' + [m.error.title, m.error.message].filter(Boolean).join(': ') +
      ' (' + m.error.code + ')' : null));
  return li;
}

function latestInbound(c) {
  for (let i = c.messages.length - 1; i >= 0; i--) {
    if (c.messages[i].direction === 'inbound') return c.messages[i];
  }
  return null;
}

function windowOpen(c) {
  const m = latestInbound(c);
  if (!m) return false;
  if (refusedAfter !== null && refusedAfter === m.id) return false;
  return Date.now() - new Date(m.created_at).getTime() < DAY;
}

function setMode() {
  const template = !(forceText || windowOpen(conv));
  $('#window-closed').hidden = !template;
  $('#text-reply').hidden = template;
  $('#reply-send').textContent = template ? 'Send template' : 'Send';
  form.dataset.mode = template ? 'template' : 'text';
  const noPhone = !conv.contact.phone;
  $('#reply-send').disabled = noPhone;
}

function fillAssign(c) {
  if (document.activeElement === assignSel) return; // not while the user picks
  clear(assignSel);
  assignSel.appendChild(el('option', { value: '' }, 'Unassigned'));
  if (admin) {
    for (const u of users.values()) {
      assignSel.appendChild(el('option', { value: String(u.id) },
        u.name + (u.id === me.id ? ' (you)' : '') + (u.role ? ' — ' + u.role : '')));
    }
  }
  if (!admin || !users.has(me.id)) {
    assignSel.appendChild(el('option', { value: String(me.id) }, 'Me (' + (me.name || me.email) + ')'));
  }
  if (c.assigned_to !== null && !assignSel.querySelector('option[value="' + c.assigned_to + '"]')) {
    assignSel.appendChild(el('option', { value: String(c.assigned_to) }, who(c.assigned_to)));
  }
  assignSel.value = c.assigned_to === null ? '' : String(c.assigned_to);
}

function renderConv(c, first) {
  conv = c;
  convSec.hidden = false;
  $('#conv-none').hidden = true;
  $('#conv-title').textContent = c.contact.name || c.contact.phone || 'Deleted contact';
  $('#conv-info').textContent = [c.contact.name ? c.contact.phone : null, 'status ' + c.status,
    c.assigned_to === null ? 'unassigned' : 'assigned to ' + who(c.assigned_to)].filter(Boolean).join(' · ');
  convSec.dataset.id = String(c.id);
  convSec.dataset.status = c.status;
  closeBtn.disabled = c.status === 'closed';
  closeBtn.textContent = c.status === 'closed' ? 'Closed' : 'Close conversation';
  fillAssign(c);
  const sig = JSON.stringify(c.messages.map((m) => [m.id, m.status]));
  if (sig !== msgSig || first) {
    msgSig = sig;
    const atEnd = first || msgs.scrollHeight - msgs.scrollTop - msgs.clientHeight < 40;
    clear(msgs);
    for (const m of c.messages) msgs.appendChild(messageItem(m));
    if (!c.messages.length) msgs.appendChild(el('li', { class: 'empty' }, 'No messages yet.'));
    if (atEnd) msgs.scrollTop = msgs.scrollHeight;
  }
  setMode();
  for (const li of list.querySelectorAll('li[data-id]')) {
    if (li.dataset.id === String(c.id)) li.setAttribute('aria-current', 'true');
    else li.removeAttribute('aria-current');
  }
}

// The conversation asked for last (the answer of another one is dropped).
let wantId = null;

function show(data) {
  const first = !conv || conv.id !== data.id;
  if (first) {
    refusedAfter = null;
    forceText = false;
    clearFieldErrors(form);
    text.value = '';
    history.replaceState(null, '', '#c' + data.id);
  }
  renderConv(data, first);
  return first;
}

async function openConv(id) {
  wantId = id;
  const r = await get('/conversations/' + id);
  if (wantId !== id) return;
  if (show(r.data)) $('#conv-title').focus();
}

async function refreshConv() {
  if (wantId === null) return;
  const id = wantId;
  try {
    const r = await get('/conversations/' + id);
    if (wantId === id) show(r.data);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && wantId === id) {
      showError(e);
      conv = null;
      wantId = null;
      convSec.hidden = true;
      $('#conv-none').hidden = false;
    }
    throw e;
  }
}

// ---- reply ---------------------------------------------------------------------

async function send() {
  if (!conv) return;
  clearError();
  clearFieldErrors(form);
  const template = form.dataset.mode === 'template';
  const body = { to: conv.contact.phone, whatsapp_account_id: conv.whatsapp_account_id };
  if (template) {
    body.type = 'template';
    body.content = {
      name: $('#reply-template-name').value.trim(),
      language: $('#reply-template-language').value.trim() || 'en',
    };
  } else {
    body.type = 'text';
    body.content = { body: text.value };
    if (!text.value.trim()) {
      formError(form, new ApiError(422, 'VALIDATION_ERROR', '', { 'content.body': ['Write a message first.'] }), FIELDS);
      return;
    }
  }
  const b = $('#reply-send');
  b.disabled = true;
  try {
    const r = await post('/messages/send', body);
    if (template) $('#reply-template-name').value = '';
    else text.value = '';
    showNotice(template ? 'Template queued.' : 'Message queued.');
    if (r.data.conversation_id !== conv.id) {
      // A closed conversation: the message went into the contact's open one.
      await openConv(r.data.conversation_id);
      await loadList();
    } else {
      await refreshConv();
    }
  } catch (e) {
    if (e instanceof ApiError && e.code === 'OUTSIDE_SERVICE_WINDOW') {
      const m = latestInbound(conv);
      refusedAfter = m ? m.id : null;
      forceText = false;
      setMode();
      showError(e);
      $('#reply-template-name').focus();
    } else {
      formError(form, e, FIELDS);
    }
  } finally {
    b.disabled = !conv || !conv.contact.phone;
  }
}

form.addEventListener('submit', (ev) => { ev.preventDefault(); send(); });
text.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    send();
  }
});
$('#reply-try-text').addEventListener('click', () => {
  forceText = true;
  setMode();
  text.focus();
});

closeBtn.addEventListener('click', async () => {
  if (!conv) return;
  clearError();
  closeBtn.disabled = true;
  try {
    const r = await put('/conversations/' + conv.id, { status: 'closed' });
    showNotice('Conversation closed.');
    conv.status = r.data.status;
    await refreshConv();
    await loadList();
  } catch (e) {
    closeBtn.disabled = false;
    showError(e);
  }
});

assignSel.addEventListener('change', async () => {
  if (!conv) return;
  clearError();
  const v = assignSel.value;
  assignSel.disabled = true;
  try {
    await put('/conversations/' + conv.id, { assigned_to: v ? Number(v) : null });
    showNotice(v ? 'Assigned to ' + who(Number(v)) + '.' : 'Unassigned.');
    assignSel.disabled = false;
    assignSel.blur();
    await refreshConv();
    await loadList();
  } catch (e) {
    assignSel.disabled = false;
    showError(e);
  }
  assignSel.focus();
});

// ---- start ---------------------------------------------------------------------

start(async () => {
  $('#conv-pager').appendChild(pg.el);
  $('#conv-title').tabIndex = -1;
  const firstList = get('/conversations', { page: 1, per_page: 25, status: 'open' });
  firstList.catch(() => {});
  const m = /^#c(\d+)$/.exec(location.hash);
  me = await boot('inbox');
  admin = isAdmin(me);
  await loadList(statusSel.value === 'open' ? firstList : undefined);
  if (m) await openConv(Number(m[1])).catch(showError);
  poll(3000, refreshConv, () => wantId !== null);
  poll(15000, () => loadList());
  if (admin) {
    getAll('/users').then((us) => {
      for (const u of us) users.set(u.id, u);
      listSig = '';
      loadList().catch(() => {});
      if (conv) fillAssign(conv);
    }).catch(() => {});
  }
});
