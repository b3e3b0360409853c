import { credentialActions, showNewSecret } from '../credentials';
import { field, h, statusLine } from '../dom';
import { showInstant } from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface ServiceClient {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  rotated_at: string | null;
  previous_secret_valid_until: string | null;
  last_used_at: string | null;
}

export const serviceClientsView: View = (context) => {
  const name = h('input', { type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
  const createStatus = h('div');
  const create = h(
    'form',
    { class: 'controls', 'aria-label': 'Create service client' },
    h('h2', {}, 'Create service client'),
    field('client-name', 'Name', name),
    h('button', { type: 'submit' }, 'Create service client'),
    createStatus,
  );
  const secretPlace = h('div');
  const status = statusLine();
  const tablePlace = h('div');
  let shown: { model: TableModel; fileName: string } | null = null;
  context.main.append(
    h('h1', {}, 'Service clients'),
    create,
    secretPlace,
    h('h2', {}, 'Service clients'),
    h(
      'div',
      { class: 'controls' },
      csvButton(() => shown),
    ),
    status,
    tablePlace,
  );

  let clients: ServiceClient[] = [];

  const render = () => {
    const now = new Date().toISOString();
    const model: TableModel = {
      caption: `Service clients, revoked ones included: ${clients.length}`,
      columns: [
        'Name',
        'ID',
        'Secret prefix',
        'Created (UTC)',
        'Last used (UTC)',
        'Revoked (UTC)',
        'Previous secret valid until (UTC)',
      ],
      rows: clients.map((client) => [
        client.name,
        client.id,
        client.prefix,
        showInstant(client.created_at),
        showInstant(client.last_used_at),
        showInstant(client.revoked_at),
        showInstant(client.previous_secret_valid_until),
      ]),
    };
    shown = { model, fileName: `service-clients-${fileStamp(now)}-${fileStamp(now)}.csv` };
    tablePlace.replaceChildren(
      renderTable(model, {
        header: 'Actions',
        cell: (index) => {
          const client = clients[index];
          if (client.revoked_at) return h('span', {}, 'Revoked');
          return credentialActions({
            context,
            path: `/api/admin/service-clients/${client.id}`,
            id: client.id,
            name: client.name,
            secretField: 'secret_key',
            secretDescription: `The new SecretKey of ${client.name}.`,
            secretPlace,
            status,
            reload,
          });
        },
      }),
    );
  };

  const reload = async (announce = true) => {
    if (announce) status.textContent = 'Loading service clients…';
    try {
      clients = await context.api.get<ServiceClient[]>(
        '/api/admin/service-clients',
        {},
        context.signal,
      );
      if (announce) status.textContent = clients.length === 0 ? 'No service clients yet.' : '';
      render();
    } catch (error) {
      reportError(context, status, error);
    }
  };

  create.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      try {
        const created = await context.api.post<{ secret_key: string; name: string }>(
          '/api/admin/service-clients',
          { name: name.value.trim() },
          context.signal,
        );
        name.value = '';
        createStatus.replaceChildren();
        showNewSecret(
          secretPlace,
          created.secret_key,
          `The SecretKey of ${created.name}.`,
          context.onLeave,
        );
        await reload();
      } catch (error) {
        reportError(context, createStatus, error);
      }
    })();
  });
  void reload();
};
