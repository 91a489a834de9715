// Sign in: POST /auth/login, keep the CSRF token, go to ?next= or the inbox.
import { $, post, setCsrf, formError, clearFieldErrors, markReady } from './app.js';

const PAGES = ['inbox.html', 'contacts.html', 'campaigns.html', 'webhooks.html', 'keys.html'];

function nextPage() {
  const n = new URLSearchParams(location.search).get('next') || '';
  return PAGES.includes(n) ? n : 'inbox.html';
}

const form = $('#login-form');
const box = $('#login-error');
const submit = $('#login-submit');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  box.hidden = true;
  box.textContent = '';
  clearFieldErrors(form);
  const email = $('#email').value.trim();
  const password = $('#password').value;
  submit.disabled = true;
  try {
    const r = await post('/auth/login', { email, password }, { noRedirect: true });
    setCsrf(r.data.csrf_token);
    location.replace(nextPage());
    return;
  } catch (e) {
    if (e.status === 401) {
      box.textContent = 'The email or password is incorrect.';
      box.hidden = false;
      $('#password').value = '';
      $('#password').focus();
    } else {
      formError(form, e, { email: 'email', password: 'password' }, box);
    }
  }
  submit.disabled = false;
});
// Enabled only now: a form sent before this script ran would go to the
// static server (method post: never with the password in a URL).
submit.disabled = false;

$('#email').focus();
markReady();
