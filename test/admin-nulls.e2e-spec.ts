import {
  createApiKey,
  createOrganization,
  createUser,
  databaseFingerprint,
  putModel,
} from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * `null` for an admin field that cannot be empty is a 400, not a 500 from the NOT NULL column
 * behind it; the fields that can be cleared (`rpm_limit`, `expires_at`, …) take null as before.
 */
describe('null in admin updates', () => {
  let testApp: TestApp;
  let http: Http;
  let paths: Record<string, string>;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
    await putModel(http);
    const user = await createUser(http);
    const key = await createApiKey(http, user.id);
    const organization = await createOrganization(http, user.id);
    paths = {
      key: `/api-keys/${key.id}`,
      user: `/users/${user.id}`,
      organization: `/organizations/${organization.id}`,
    };
  });
  afterAll(() => testApp.close());

  const cases: [string, string, string][] = [
    ['key', 'name', 'PATCH'],
    ['key', 'spend_period', 'PATCH'],
    ['key', 'metadata', 'PATCH'],
    ['key', 'limits_mode', 'PATCH'],
    ['user', 'credit_plan', 'PATCH'],
    ['organization', 'name', 'PATCH'],
    ['organization', 'spend_roles', 'PATCH'],
    ['organization', 'time_zone', 'PATCH'],
    ['organization', 'limits_mode', 'PATCH'],
  ];

  it.each(cases)('%s: %s null answers 400 and changes nothing', async (target, field, method) => {
    const before = await databaseFingerprint(testApp.db);
    const answer = await http.admin(method, paths[target], { [field]: null });
    expect({ status: answer.status, code: answer.body?.code }).toEqual({
      status: 400,
      code: 'validation_failed',
    });
    expect(answer.body.errors).toEqual([{ field, message: expect.any(String) }]);
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  it("takes a model's enabled: null as absent: the model keeps its state", async () => {
    const answer = await http.admin('PUT', '/models/cogvlm-chat-17b', {
      enabled: null,
      price_million_input: 1,
      price_million_output: 1,
    });
    expect({ status: answer.status, enabled: answer.body.enabled }).toEqual({
      status: 200,
      enabled: true,
    });
  });

  it('still clears the fields that may be empty', async () => {
    const answer = await http.admin('PATCH', paths.key, {
      rpm_limit: null,
      expires_at: null,
      allowed_models: null,
      limit_credit_dollar: null,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      rpm_limit: null,
      expires_at: null,
      allowed_models: null,
      limit_credit_dollar: null,
    });
  });
});
