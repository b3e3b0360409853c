import { h } from './dom';
import { reportError, type ViewContext } from './view';

/**
 * Shows a secret the API returned once, in `<section aria-label="New secret">`. Done (or
 * leaving the view) removes it from the DOM and drops the only reference to it.
 */
export function showNewSecret(
  place: HTMLElement,
  secret: string,
  description: string,
  onLeave: (cleanup: () => void) => void,
): void {
  let value: string | null = secret;
  const output = h('output', { 'data-testid': 'new-secret', class: 'secret' }, value);
  const copy = h('button', { type: 'button' }, 'Copy');
  const done = h('button', { type: 'button', class: 'secondary' }, 'Done');
  const copied = h('p', { role: 'status', class: 'status' });
  const section = h(
    'section',
    { 'aria-label': 'New secret', class: 'new-secret' },
    h('h2', {}, 'New secret'),
    h('p', {}, `${description} It is shown this once: store it now.`),
    output,
    h('div', { class: 'buttons' }, copy, done),
    copied,
  );
  const remove = () => {
    value = null;
    section.remove();
  };
  copy.addEventListener('click', () => {
    if (value === null) return;
    navigator.clipboard.writeText(value).then(
      () => (copied.textContent = 'Copied.'),
      () => {
        // No clipboard permission: select the text so the keyboard can copy it.
        getSelection()?.selectAllChildren(output);
        copied.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
      },
    );
  });
  done.addEventListener('click', remove);
  onLeave(remove);
  place.replaceChildren(section);
  copy.focus();
}

/**
 * The controls of one credential's row (an API key or a service client): `Rotate` with its
 * grace period in seconds, which shows the new secret once in `secretPlace`, and `Revoke` with
 * a confirmation step. Both then reload the list; an error goes to `status`.
 */
export function credentialActions(options: {
  context: ViewContext;
  /** The credential's admin path, e.g. `/api/admin/api-keys/<id>`. */
  path: string;
  id: string;
  name: string;
  /** The rotate answer's field that holds the new secret. */
  secretField: 'key' | 'secret_key';
  /** What the new secret is, as shown above it. */
  secretDescription: string;
  secretPlace: HTMLElement;
  status: HTMLElement;
  reload: (announce?: boolean) => Promise<void>;
}): HTMLElement {
  const { context, path, status, reload } = options;
  const onRotate = async (graceSeconds: number) => {
    try {
      const rotated = await context.api.post<Record<string, string>>(
        `${path}/rotate`,
        { grace_seconds: graceSeconds },
        context.signal,
      );
      showNewSecret(
        options.secretPlace,
        rotated[options.secretField],
        options.secretDescription,
        context.onLeave,
      );
      await reload();
    } catch (error) {
      reportError(context, status, error);
    }
  };
  const onRevoke = async () => {
    try {
      await context.api.delete(path, context.signal);
      status.textContent = `Revoked ${options.name}.`;
      await reload(false);
    } catch (error) {
      reportError(context, status, error);
    }
  };
  const graceId = `grace-${options.id}`;
  const grace = h('input', {
    id: graceId,
    type: 'number',
    min: 0,
    max: 604800,
    step: 1,
    value: 0,
    inputmode: 'numeric',
    class: 'grace',
  });
  const rotate = h('button', { type: 'button' }, 'Rotate');
  const revoke = h('button', { type: 'button', class: 'danger' }, 'Revoke');
  const confirm = h('span', { class: 'confirm', hidden: true });
  const confirmButton = h('button', { type: 'button', class: 'danger' }, 'Confirm revoke');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  confirm.append(h('span', {}, `Revoke ${options.name}?`), confirmButton, cancel);
  const busy = (on: boolean) => {
    for (const button of [rotate, revoke, confirmButton, cancel]) button.disabled = on;
  };

  rotate.addEventListener('click', () => {
    if (!grace.checkValidity() || grace.value === '') {
      grace.reportValidity();
      return;
    }
    busy(true);
    void onRotate(Number(grace.value)).finally(() => busy(false));
  });
  revoke.addEventListener('click', () => {
    revoke.hidden = true;
    confirm.hidden = false;
    confirmButton.focus();
  });
  cancel.addEventListener('click', () => {
    confirm.hidden = true;
    revoke.hidden = false;
    revoke.focus();
  });
  confirmButton.addEventListener('click', () => {
    busy(true);
    void onRevoke().finally(() => busy(false));
  });
  return h(
    'div',
    { class: 'row-actions' },
    h('label', { for: graceId }, 'Grace period (seconds)'),
    grace,
    rotate,
    revoke,
    confirm,
  );
}
