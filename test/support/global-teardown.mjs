import { withAdminClient } from './global-setup.mjs';

export default async function globalTeardown() {
  const serverUrl = process.env.GUARD_TEST_SERVER_URL;
  const template = process.env.GUARD_TEST_TEMPLATE;
  if (serverUrl && template) {
    await withAdminClient(serverUrl, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`),
    );
  }
  await globalThis.guardTestEmbedded?.stop();
}
