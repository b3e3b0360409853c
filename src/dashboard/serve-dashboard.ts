import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../common/all-exceptions.filter.js';
import { DomainError } from '../common/error-codes.js';

/**
 * Where `vite build` writes the page: `dist/dashboard/` of the checkout, found from this file
 * whether it runs compiled (`dist/dashboard/`) or from its source (`src/dashboard/`).
 */
export const DASHBOARD_ROOT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../dist/dashboard',
);

/** The page calls only its own origin; nothing inline, nothing from elsewhere. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const PREFIX = '/dashboard';
const logger = new Logger('Dashboard');

function isDashboardUrl(url: string): boolean {
  return url === PREFIX || /^\/dashboard[/?]/.test(url);
}

/**
 * Serves the admin dashboard on the API's own port: `/dashboard/` answers its index.html
 * (never cached: it names the current assets), `/dashboard/assets/*` the hashed bundles
 * (cached for good). The page holds no secret; it asks for the admin token and sends it to
 * the admin API, so the routes themselves are public.
 */
export function registerDashboard(fastify: FastifyInstance, root: string = DASHBOARD_ROOT): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (isDashboardUrl(request.url)) void reply.headers(DASHBOARD_HEADERS);
    done();
  });

  fastify.get(PREFIX, (request, reply) => {
    const query = request.url.slice(PREFIX.length);
    void reply.redirect(`${PREFIX}/${query}`, 308);
  });

  fastify.get(`${PREFIX}/`, async (request, reply) => {
    const html = await readIndex(root);
    if (html === null) {
      sendError(
        reply,
        request,
        new DomainError(
          'service_unavailable',
          'The dashboard is not built: run `npm run build` to build it',
        ),
        logger,
      );
      return reply;
    }
    return sendIndex(reply, html);
  });

  // Vite names every asset by its content hash, so an asset never changes under its name.
  // Before the first build the folder is missing and these routes answer 404.
  void fastify.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: `${PREFIX}/assets/`,
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    maxAge: '365d',
    immutable: true,
  });
}

async function readIndex(root: string): Promise<string | null> {
  try {
    return await readFile(join(root, 'index.html'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function sendIndex(reply: FastifyReply, html: string): FastifyReply {
  return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
}
