import './style.css';
import { AdminApi, ApiError } from './api';
import { alertLine, h } from './dom';
import type { View } from './view';
import { auditView } from './views/audit';
import { creditView } from './views/credit';
import { keysView } from './views/keys';
import { refusalsView } from './views/refusals';
import { serviceClientsView } from './views/service-clients';
import { topView } from './views/top';
import { usageView } from './views/usage';

const VIEWS: readonly { id: string; name: string; view: View }[] = [
  { id: 'usage', name: 'Usage', view: usageView },
  { id: 'top', name: 'Top spenders', view: topView },
  { id: 'credit', name: 'Credit and limits', view: creditView },
  { id: 'refusals', name: 'Refusals', view: refusalsView },
  { id: 'audit', name: 'Audit log', view: auditView },
  { id: 'keys', name: 'Keys', view: keysView },
  { id: 'service-clients', name: 'Service clients', view: serviceClientsView },
];

const main = document.getElementById('main')!;
const navigationPlace = document.getElementById('navigation')!;
const sessionPlace = document.getElementById('session')!;
const signInMarkup = main.cloneNode(true) as HTMLElement;

/** The one session: its token lives here and nowhere else. */
let session: { api: AdminApi; leave: (() => void) | null; nav: HTMLElement } | null = null;

document.querySelector<HTMLAnchorElement>('.skip-link')!.addEventListener('click', (event) => {
  // The hash names views; the skip link moves focus without changing it.
  event.preventDefault();
  main.focus();
});

/** Wires the sign-in form; `focus` after a sign-out (on load, Tab starts at the skip link). */
function bindSignIn(focus: boolean): void {
  const form = document.getElementById('sign-in') as HTMLFormElement;
  const input = document.getElementById('admin-token') as HTMLInputElement;
  const button = form.querySelector('button')!;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    void signIn(token).finally(() => {
      button.disabled = false;
    });
  });
  if (focus) input.focus();
}

function showSignInMessage(message: string): void {
  const form = document.getElementById('sign-in');
  if (!form) return;
  form.querySelector('[role="alert"]')?.remove();
  form.appendChild(alertLine(message));
}

async function signIn(token: string): Promise<void> {
  const api = new AdminApi(token);
  try {
    await api.get('/api/admin/users', { limit: '1' });
  } catch (error) {
    showSignInMessage(
      error instanceof ApiError && error.status === 401
        ? 'Admin token refused.'
        : `Cannot sign in: ${error instanceof Error ? error.message : String(error)}`,
    );
    return;
  }
  (document.getElementById('admin-token') as HTMLInputElement).value = '';
  const nav = h('nav', { 'aria-label': 'Dashboard' });
  const list = h('ul');
  for (const { id, name } of VIEWS) list.appendChild(h('li', {}, h('a', { href: `#${id}` }, name)));
  nav.appendChild(list);
  navigationPlace.replaceChildren(nav);
  const signOutButton = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOutButton.addEventListener('click', () => signOut());
  sessionPlace.replaceChildren(signOutButton);
  session = { api, leave: null, nav };
  route();
  // The form that had focus is gone: focus moves to the view, as after any navigation.
  main.focus();
}

function signOut(message?: string): void {
  session?.leave?.();
  session = null;
  navigationPlace.replaceChildren();
  sessionPlace.replaceChildren();
  delete document.body.dataset.ready;
  main.replaceChildren(...[...signInMarkup.childNodes].map((node) => node.cloneNode(true)));
  bindSignIn(true);
  if (message) showSignInMessage(message);
}

function route(): void {
  if (!session) return;
  const id = location.hash.slice(1);
  const target = VIEWS.find((one) => one.id === id) ?? (id ? null : VIEWS[0]);
  // Other hashes (the skip link's, say) leave the current view as it is.
  if (!target) return;
  session.leave?.();
  for (const link of session.nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#${target.id}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  session.leave = () => {
    controller.abort();
    for (const cleanup of cleanups) cleanup();
    if (session) session.leave = null;
  };
  main.replaceChildren();
  document.title = `${target.name} · Swarms Guard dashboard`;
  target.view({
    api: session.api,
    main,
    signal: controller.signal,
    onLeave: (cleanup) => cleanups.push(cleanup),
    signOut: (message) => signOut(message),
  });
}

window.addEventListener('hashchange', () => {
  route();
  if (session) main.focus();
});
bindSignIn(false);
