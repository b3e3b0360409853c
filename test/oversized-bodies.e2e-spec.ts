import { connect } from 'node:net';
import { createTestDatabase } from './support/database.js';
import { rawRequest } from './support/raw-http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';

const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * A body over the limit, against the built service in a process of its own (in one process
 * with the client, the race below does not show).
 */
describe('bodies over the limit', () => {
  let database: { url: string; drop: () => Promise<void> };
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      METRICS_PORT: String(await freePort()),
      BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      LOG_LEVEL: 'warn',
    });
    await service.ready();
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('answer 413 in the error shape to a client still uploading', async () => {
    // Closing the connection under an upload resets it, and the reset used to destroy the
    // answer before the client read it (about half the time at this size).
    const body = Buffer.alloc(10 * BODY_LIMIT_BYTES, ' ');
    body.write('{"model":"', 0);
    for (let attempt = 0; attempt < 20; attempt++) {
      const response = await rawRequest(service.baseUrl, {
        method: 'POST',
        target: '/api/guard/log-usage',
        headers: [['Content-Type', 'application/json']],
        body,
      });
      expect({ attempt, status: response.status, body: response.json }).toEqual({
        attempt,
        status: 413,
        body: {
          status: 413,
          message: 'Request body is too large',
          code: 'payload_too_large',
          request_id: response.headers['x-request-id'],
        },
      });
    }
  });

  it('keep the connection usable once the refused body has arrived', async () => {
    const size = 3 * BODY_LIMIT_BYTES;
    const socket = connect(service.port, '127.0.0.1');
    let received = '';
    const answers = new Promise<string>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (/"status":"ok"/.test(received)) resolve(received);
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
    socket.write(
      `POST /api/guard/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(size, ' '));
    socket.write('GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await answers;
    socket.destroy();
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413', 'HTTP/1.1 200']);
  });
});
