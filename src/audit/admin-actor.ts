import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Who makes an admin change: the admin credential's identity, and the request it came in. */
export interface AdminActor {
  /** e.g. `admin-token:3fa2c1d9` (the start of the token's SHA-256, never the token). */
  name: string;
  requestId: string;
}

export interface AdminRequest extends FastifyRequest {
  adminActor?: string;
}

/** The {@link AdminActor} of an admin route, set by the access guard. */
export const Actor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AdminActor => {
    const request = context.switchToHttp().getRequest<AdminRequest>();
    return { name: request.adminActor ?? 'unknown', requestId: String(request.id) };
  },
);
