// /dashboard/: to the inbox when signed in, else to the sign-in page.
import { get, setCsrf } from './app.js';

(async () => {
  try {
    const r = await get('/auth/me', undefined, { noRedirect: true });
    setCsrf(r.data.csrf_token);
    location.replace('inbox.html');
  } catch (e) {
    location.replace('login.html');
  }
})();
