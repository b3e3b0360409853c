import type { FastifyInstance } from 'fastify';

/**
 * Stands in for a request body that was not valid JSON. The parser does not fail the request
 * itself, so the guard routes can still answer their header checks first, in contract order.
 */
export class InvalidJsonBody {}

export function registerJsonParser(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (_request, body, done) => {
      const text = body as string;
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(null, new InvalidJsonBody());
      }
    },
  );
}
