import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Stands in for a request body that was not valid JSON. The parser does not fail the request
 * itself, so the guard routes can still answer their header checks first, in contract order.
 */
export class InvalidJsonBody {}

/** Stands in for a body sent as something other than JSON (415 on the admin API). */
export class NonJsonBody extends InvalidJsonBody {}

function parseJson(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, value?: unknown) => void,
) {
  const text = body.toString();
  if (text.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(text));
  } catch {
    done(null, new InvalidJsonBody());
  }
}

/** JSON bodies, parsed without failing the request; any other media type, marked. */
export function registerJsonParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) =>
    done(null, new NonJsonBody()),
  );
}
