import { createTenant, guardHeaders, type Tenant } from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';

/** A chat-completion request as OpenAI-style callers forward it, unset fields as null. */
const chatCompletion = {
  model: 'cogvlm-chat-17b',
  messages: [
    { role: 'system', content: 'You are a poetic assistant.' },
    { role: 'user', content: 'Compose a poem that explains recursion.' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'rhyme', arguments: '{"word":"recursion"}' },
        },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'excursion' },
  ],
  max_tokens: null,
  max_completion_tokens: null,
  temperature: 0.7,
  top_p: 1,
  n: 1,
  stream: true,
  stream_options: { include_usage: true },
  stop: null,
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: null,
  logprobs: null,
  top_logprobs: null,
  seed: null,
  user: 'end-user-42',
  tools: [
    {
      type: 'function',
      function: {
        name: 'rhyme',
        description: 'Finds a rhyme',
        parameters: { type: 'object', properties: { word: { type: 'string' } } },
      },
    },
  ],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  response_format: { type: 'text' },
  input_tokens: null,
  request_id: null,
};

describe('bodies from OpenAI-style callers', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '1000' });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterAll(() => testApp.close());

  const reservations = async () =>
    (
      await testApp.db.query(
        `SELECT trim_scale(amount)::text AS amount, request_id FROM reservations WHERE api_key_id = $1 ORDER BY created_at`,
        [tenant.apiKeyId],
      )
    ).rows;
  const reserved = async () =>
    (
      await testApp.db.query(
        `SELECT trim_scale(reserved)::text AS reserved FROM user_credits WHERE user_id = $1`,
        [tenant.userId],
      )
    ).rows[0].reserved as string;

  describe('POST /api/guard/auth', () => {
    it('answers a whole chat-completion body with nulls for unset fields, and reserves nothing', async () => {
      const { status, body } = await http.post(AUTH, chatCompletion, guardHeaders(tenant));
      expect({ status, body }).toEqual({
        status: 200,
        body: {
          status: 200,
          message: 'Success',
          api_key_id: tenant.apiKeyId,
          user_id: tenant.userId,
          organization_id: null,
          model: 'cogvlm-chat-17b',
          credit: { plan: 'prepaid', remaining: 10 },
        },
      });
      expect(await reservations()).toEqual([]);
      expect(await reserved()).toBe('0');
    });

    it('still reserves when max_tokens is a number beside the other nulls', async () => {
      const { status, body } = await http.post(
        AUTH,
        { ...chatCompletion, max_tokens: 256 },
        guardHeaders(tenant),
      );
      expect(status).toBe(200);
      // 256 output tokens at $0.5 per million; input_tokens null counts as none.
      expect(body.reservation).toEqual({
        id: expect.any(String),
        amount: 0.000128,
        expires_at: expect.any(String),
      });
      expect(await reservations()).toEqual([{ amount: '0.000128', request_id: null }]);
      expect(await reserved()).toBe('0.000128');
    });

    it.each([
      [{ max_tokens: '12' }, 'max_tokens'],
      [{ max_tokens: 1.5 }, 'max_tokens'],
      [{ input_tokens: '12' }, 'input_tokens'],
      [{ max_tokens: 12, input_tokens: '12' }, 'input_tokens'],
      [{ request_id: 12 }, 'request_id'],
      [{ max_tokens: 12, request_id: '' }, 'request_id'],
    ])('refuses %j with 400 and reserves nothing', async (fields, field) => {
      const before = await reservations();
      const { status, body } = await http.post(
        AUTH,
        { ...chatCompletion, ...fields },
        guardHeaders(tenant),
      );
      expect({ status, code: body.code, fields: body.errors.map((e: any) => e.field) }).toEqual({
        status: 400,
        code: 'validation_failed',
        fields: [field],
      });
      expect(await reservations()).toEqual(before);
    });
  });

  describe('POST /api/guard/log-usage', () => {
    it('takes null for every optional field as absent and stores NULLs', async () => {
      const { status, body } = await http.post(
        LOG,
        {
          model: 'cogvlm-chat-17b',
          input_tokens: 100,
          output_tokens: 80,
          max_tokens: null,
          temperature: null,
          top_p: null,
          input_cost: null,
          output_cost: null,
          total_cost: null,
          echo: null,
          stream: null,
          reservation_id: null,
          request_id: null,
        },
        guardHeaders(tenant),
      );
      expect({ status, body }).toEqual({
        status: 201,
        body: {
          status: 201,
          message: 'Success',
          id: expect.any(String),
          cost: {
            input: 0.00005,
            output: 0.00004,
            total: 0.00009,
            client_total: null,
            mismatch: false,
          },
          credit: { plan: 'prepaid', remaining: expect.any(Number) },
        },
      });
      const { rows } = await testApp.db.query(
        `SELECT max_tokens, temperature, top_p, echo, stream, client_input_cost, client_output_cost,
           client_total_cost, messages, messages_bytes, request_id, request_hash,
           trim_scale(total_cost)::text AS total_cost
         FROM usage_events WHERE id = $1`,
        [body.id],
      );
      expect(rows).toEqual([
        {
          max_tokens: null,
          temperature: null,
          top_p: null,
          echo: null,
          stream: null,
          client_input_cost: null,
          client_output_cost: null,
          client_total_cost: null,
          messages: null,
          messages_bytes: null,
          request_id: null,
          request_hash: null,
          total_cost: '0.00009',
        },
      ]);
      const requests = await testApp.db.query(
        `SELECT count(*)::int AS n FROM usage_requests WHERE api_key_id = $1`,
        [tenant.apiKeyId],
      );
      expect(requests.rows[0].n).toBe(0);
    });

    it('stores messages: null as no messages at all', async () => {
      const { status, body } = await http.post(
        LOG,
        { model: 'cogvlm-chat-17b', input_tokens: 1, output_tokens: 1, messages: null },
        guardHeaders(tenant),
      );
      expect(status).toBe(201);
      const { rows } = await testApp.db.query(
        `SELECT messages, messages_bytes FROM usage_events WHERE id = $1`,
        [body.id],
      );
      expect(rows).toEqual([{ messages: null, messages_bytes: null }]);
    });

    it('takes request_id: null beside an Idempotency-Key header as absent', async () => {
      const first = await http.post(
        LOG,
        { model: 'cogvlm-chat-17b', input_tokens: 2, output_tokens: 2, request_id: null },
        guardHeaders(tenant, { 'Idempotency-Key': 'null-beside-header' }),
      );
      expect(first.status).toBe(201);
      const { rows } = await testApp.db.query(`SELECT request_id FROM usage_events WHERE id = $1`, [
        first.body.id,
      ]);
      expect(rows).toEqual([{ request_id: 'null-beside-header' }]);
    });

    it('replays the same request whether its unset fields are null or left out', async () => {
      const fields = {
        model: 'cogvlm-chat-17b',
        input_tokens: 3,
        output_tokens: 3,
        request_id: 'nulls-or-not',
      };
      const first = await http.post(LOG, fields, guardHeaders(tenant));
      expect(first.status).toBe(201);
      const again = await http.post(
        LOG,
        { ...fields, temperature: null, messages: null },
        guardHeaders(tenant),
      );
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.text).toBe(first.text);
    });
  });
});
