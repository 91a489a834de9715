// Segments and campaigns: campaigns with live stats (polled every 2 s while
// one is scheduled or running), create, cancel, recipients; segments list,
// create, delete.
import {
  $, $$, el, clear, timeEl, emptyRow, boot, start, get, getAll, post, del,
  pager, poll, isAdmin, clearError, showError, showNotice, formError,
  clearFieldErrors, splitList,
} from './app.js';

const STATS = ['total', 'queued', 'sent', 'delivered', 'read', 'failed'];
const ACTIVE = ['scheduled', 'running'];
const ctbody = $('#campaign-list tbody');
const stbody = $('#segment-list tbody');
const rtbody = $('#recipient-list tbody');
const cpg = pager('Campaign pages', () => loadCampaigns().catch(showError));
const spg = pager('Segment pages', () => loadSegments().catch(showError));
const rpg = pager('Recipient pages', () => loadRecipients().catch(showError));
let admin = false;
let campaigns = [];
let recipientsOf = null; // the campaign whose recipients are shown
const segmentNames = new Map();

// ---- campaigns ---------------------------------------------------------------

function statusBadge(c) {
  const s = el('span', { class: 'badge ' + c.status }, c.status);
  if (c.status === 'failed' && c.error) {
    return [s, el('div', { class: 'hint' }, [c.error.title, c.error.message].filter(Boolean).join(': ') ||
      'Error ' + c.error.code)];
  }
  return s;
}

function campaignActions(c) {
  const box = el('div', { class: 'actions' });
  if (admin && ACTIVE.includes(c.status)) {
    box.appendChild(el('button', { type: 'button', dataset: { action: 'cancel' },
      'aria-label': 'Cancel campaign ' + c.name }, 'Cancel'));
  }
  box.appendChild(el('button', { type: 'button', dataset: { action: 'recipients' },
    'aria-label': 'Recipients of ' + c.name }, 'Recipients'));
  return box;
}

function campaignRow(c) {
  const tr = el('tr', { dataset: { id: String(c.id), status: c.status } },
    el('td', null, c.name),
    el('td', { class: 'status' }, statusBadge(c)),
    STATS.map((k) => el('td', { class: 'num stat-' + k }, String(c.stats[k]))),
    el('td', null, el('code', null, c.template_name), ' (' + c.template_language + ')'),
    el('td', null, timeEl(c.scheduled_at)),
    el('td', { class: 'actions-cell' }, campaignActions(c)));
  return tr;
}

// Updates the rows in place when the same campaigns are shown (so focus and
// scrolling stay), else draws them anew.
function renderCampaigns(list) {
  const rows = $$('tr[data-id]', ctbody);
  const same = rows.length === list.length && rows.every((tr, i) => tr.dataset.id === String(list[i].id));
  if (!same) {
    clear(ctbody);
    for (const c of list) ctbody.appendChild(campaignRow(c));
    if (!list.length) emptyRow(ctbody, 11, 'No campaigns yet.');
  } else {
    list.forEach((c, i) => {
      const tr = rows[i];
      for (const k of STATS) {
        const td = $('td.stat-' + k, tr);
        if (td.textContent !== String(c.stats[k])) td.textContent = String(c.stats[k]);
      }
      if (tr.dataset.status !== c.status) {
        tr.dataset.status = c.status;
        clear($('td.status', tr)).append(...[statusBadge(c)].flat());
        const cell = $('td.actions-cell', tr);
        const hadFocus = cell.contains(document.activeElement);
        clear(cell).appendChild(campaignActions(c));
        if (hadFocus) $('button', cell).focus();
      }
    });
  }
  campaigns = list;
}

async function loadCampaigns(pending) {
  const r = await (pending || get('/campaigns', { page: cpg.page, per_page: 25 }));
  renderCampaigns(r.data);
  cpg.update(r.meta);
  if (recipientsOf) {
    const c = r.data.find((x) => x.id === recipientsOf.id);
    if (c && JSON.stringify(c.stats) !== JSON.stringify(recipientsOf.stats)) {
      recipientsOf = c;
      await loadRecipients();
    }
  }
}

const anyActive = () => campaigns.some((c) => ACTIVE.includes(c.status));
// A campaign that finished within the hour with messages not yet read or
// failed: its delivered/read receipts still move the stats.
const anyRecent = () => campaigns.some((c) => !ACTIVE.includes(c.status) &&
  c.finished_at && Date.now() - new Date(c.finished_at).getTime() < 3600 * 1000 &&
  c.stats.queued + c.stats.sent + c.stats.delivered > 0);
let ticks = 0;
// Every 2 s while a campaign is scheduled or running, every 4 s while a
// recent one may still change.
function pollTick() {
  ticks++;
  if (anyActive() || ticks % 2 === 0) return loadCampaigns();
  return null;
}

ctbody.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const id = Number(b.closest('tr[data-id]').dataset.id);
  const c = campaigns.find((x) => x.id === id);
  if (!c) return;
  clearError();
  try {
    if (b.dataset.action === 'cancel') {
      b.disabled = true;
      await post('/campaigns/' + id + '/cancel');
      showNotice('Campaign ' + c.name + ' cancelled.');
      await loadCampaigns();
    } else if (b.dataset.action === 'recipients') {
      recipientsOf = c;
      rpg.page = 1;
      $('#recipient-status').value = '';
      $('#recipients-h').textContent = 'Recipients of ' + c.name;
      $('#recipients').hidden = false;
      await loadRecipients();
      $('#recipients-h').focus();
    }
  } catch (e) {
    b.disabled = false;
    showError(e);
  }
});

// ---- recipients --------------------------------------------------------------

function errText(e) {
  if (!e) return '—';
  return [e.code, e.title, e.message].filter((x) => x !== null && x !== undefined && x !== '').join(' — ');
}

async function loadRecipients() {
  if (!recipientsOf) return;
  const c = recipientsOf;
  const r = await get('/campaigns/' + c.id + '/recipients',
    { page: rpg.page, per_page: 25, status: $('#recipient-status').value });
  if (recipientsOf !== c && (!recipientsOf || recipientsOf.id !== c.id)) return;
  clear(rtbody);
  for (const x of r.data) {
    rtbody.appendChild(el('tr', { dataset: { id: String(x.contact_id), status: x.status } },
      el('td', null, String(x.contact_id)),
      el('td', null, x.phone),
      el('td', null, el('span', { class: 'badge ' + x.status }, x.status)),
      el('td', null, x.message_id ? String(x.message_id) : '—'),
      el('td', null, errText(x.error)),
      el('td', null, timeEl(x.updated_at))));
  }
  if (!r.data.length) {
    emptyRow(rtbody, 6, ACTIVE.includes(c.status) && c.status === 'scheduled'
      ? 'The audience is taken when the campaign starts.' : 'No recipients.');
  }
  rpg.update(r.meta);
}

$('#recipient-status').addEventListener('change', () => { rpg.page = 1; loadRecipients().catch(showError); });
$('#recipients-hide').addEventListener('click', () => {
  recipientsOf = null;
  $('#recipients').hidden = true;
});

// ---- new campaign ------------------------------------------------------------

const cform = $('#campaign-form');
const CFIELDS = {
  name: 'campaign-name', segment_id: 'campaign-segment', whatsapp_account_id: 'campaign-account',
  template_name: 'campaign-template', template_language: 'campaign-language',
  template_components: 'campaign-template',
};

function fillSelect(select, items, label, none) {
  const keep = select.value;
  clear(select);
  if (!items.length) select.appendChild(el('option', { value: '' }, none));
  for (const x of items) select.appendChild(el('option', { value: String(x.id) }, label(x)));
  if (keep && items.some((x) => String(x.id) === keep)) select.value = keep;
}

async function loadSegmentOptions() {
  const segs = await getAll('/segments');
  segmentNames.clear();
  for (const s of segs) segmentNames.set(s.id, s.name);
  fillSelect($('#campaign-segment'), segs, (s) => s.name + ' (' + s.contact_count +
    (s.contact_count === 1 ? ' contact)' : ' contacts)'), 'Create a segment first');
}

async function loadAccountOptions() {
  const accts = await getAll('/whatsapp-accounts');
  fillSelect($('#campaign-account'), accts, (a) => a.display_phone + ' (number id ' + a.phone_number_id + ')',
    'No WhatsApp number yet');
}

cform.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  clearFieldErrors(cform);
  const body = {
    name: $('#campaign-name').value.trim(),
    template_name: $('#campaign-template').value.trim(),
    template_language: $('#campaign-language').value.trim() || 'en',
  };
  const seg = $('#campaign-segment').value;
  const acct = $('#campaign-account').value;
  if (seg) body.segment_id = Number(seg);
  if (acct) body.whatsapp_account_id = Number(acct);
  const b = $('#campaign-create');
  b.disabled = true;
  try {
    const r = await post('/campaigns', body);
    showNotice('Campaign ' + r.data.name + ' created.');
    $('#campaign-name').value = '';
    $('#campaign-template').value = '';
    cpg.page = 1;
    await loadCampaigns();
  } catch (e) {
    formError(cform, e, CFIELDS);
  } finally {
    b.disabled = false;
  }
});

// ---- segments ----------------------------------------------------------------

const sform = $('#segment-form');
const SFIELDS = { name: 'segment-name', filter: 'segment-tags', 'filter.tags': 'segment-tags',
  'filter.match': 'segment-match' };
const segments = new Map();

function segmentActions(s) {
  if (!admin) return null;
  return el('div', { class: 'actions' }, el('button', { type: 'button', dataset: { action: 'delete' },
    'aria-label': 'Delete segment ' + s.name }, 'Delete'));
}

async function loadSegments(pending) {
  const r = await (pending || get('/segments', { page: spg.page, per_page: 25 }));
  clear(stbody);
  segments.clear();
  for (const s of r.data) {
    segments.set(String(s.id), s);
    stbody.appendChild(el('tr', { dataset: { id: String(s.id) } },
      el('td', null, s.name),
      el('td', null, s.filter.tags.length
        ? el('span', { class: 'tags' }, s.filter.tags.map((t) => el('span', { class: 'badge' }, t)))
        : 'every contact'),
      el('td', null, s.filter.match),
      el('td', { class: 'num contact-count' }, String(s.contact_count)),
      el('td', null, timeEl(s.created_at)),
      el('td', { class: 'actions-cell' }, segmentActions(s))));
  }
  if (!r.data.length) emptyRow(stbody, 6, 'No segments yet.');
  spg.update(r.meta);
}

sform.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  clearFieldErrors(sform);
  const body = {
    name: $('#segment-name').value.trim(),
    filter: { tags: splitList($('#segment-tags').value), match: $('#segment-match').value },
  };
  const b = $('#segment-create');
  b.disabled = true;
  try {
    const r = await post('/segments', body);
    showNotice('Segment ' + r.data.name + ' created: ' + r.data.contact_count +
      (r.data.contact_count === 1 ? ' contact.' : ' contacts.'));
    sform.reset();
    spg.page = 1;
    await Promise.all([loadSegments(), loadSegmentOptions()]);
  } catch (e) {
    formError(sform, e, SFIELDS);
  } finally {
    b.disabled = false;
  }
});

stbody.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const tr = b.closest('tr[data-id]');
  const s = segments.get(tr.dataset.id);
  const cell = b.closest('td');
  if (!s) return;
  if (b.dataset.action === 'delete') {
    clear(cell).appendChild(el('div', { class: 'actions' },
      el('span', { class: 'confirm-text' }, 'Delete this segment?'),
      el('button', { type: 'button', class: 'danger', dataset: { action: 'confirm-delete' } }, 'Delete'),
      el('button', { type: 'button', dataset: { action: 'cancel-delete' } }, 'Keep')));
    $('button[data-action=confirm-delete]', cell).focus();
  } else if (b.dataset.action === 'cancel-delete') {
    clear(cell).appendChild(segmentActions(s));
    $('button', cell).focus();
  } else if (b.dataset.action === 'confirm-delete') {
    clearError();
    b.disabled = true;
    try {
      await del('/segments/' + s.id);
      showNotice('Segment ' + s.name + ' deleted.');
      await Promise.all([loadSegments(), loadSegmentOptions()]);
    } catch (e) {
      b.disabled = false;
      showError(e);
    }
  }
});

// ---- start -------------------------------------------------------------------

start(async () => {
  $('#campaign-pager').appendChild(cpg.el);
  $('#segment-pager').appendChild(spg.el);
  $('#recipient-pager').appendChild(rpg.el);
  $('#recipients-h').tabIndex = -1;
  const firstC = get('/campaigns', { page: 1, per_page: 25 });
  const firstS = get('/segments', { page: 1, per_page: 25 });
  firstC.catch(() => {});
  firstS.catch(() => {});
  const user = await boot('campaigns');
  admin = isAdmin(user);
  if (!admin) {
    $('#campaign-new').remove();
    sform.remove();
  }
  await Promise.all([loadCampaigns(firstC), loadSegments(firstS)]);
  poll(2000, pollTick, () => anyActive() || anyRecent());
  if (admin) {
    // The selects are filled after the first render (they are not needed
    // for it).
    Promise.all([loadSegmentOptions(), loadAccountOptions()]).catch(showError);
  }
});
