import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { ACCESS, type Access } from './access.js';
import { hashSecret, safeEqual } from './crypto.js';
import type { AdminRequest } from '../audit/admin-actor.js';
import { DomainError } from './error-codes.js';

/**
 * Global guard, deny by default: every route declares its access with `@Public()`,
 * `@AdminOnly()` or `@ApiKeyAuth()`. Admin routes are checked here; API-key routes by
 * their own `ApiKeyGuard`, which runs next.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly actorName: string;
  /** Each handler's declared access (per controller class), read from its metadata once. */
  private readonly declared = new WeakMap<object, WeakMap<object, Access | undefined>>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const fingerprint = hashSecret(config.adminToken ?? '')
      .toString('hex')
      .slice(0, 8);
    this.actorName = `admin-token:${fingerprint}`;
  }

  canActivate(context: ExecutionContext): boolean {
    const access = this.access(context);
    if (access === 'public' || access === 'api-key') return true;
    if (access !== 'admin') throw new DomainError('forbidden');

    if (this.config.adminToken === undefined) throw new DomainError('admin_disabled');
    const request = context.switchToHttp().getRequest<AdminRequest>();
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization?.trim() ?? '');
    if (!match || !safeEqual(match[1].trim(), this.config.adminToken)) {
      throw new DomainError('admin_unauthorized');
    }
    request.adminActor = this.actorName;
    return true;
  }

  private access(context: ExecutionContext): Access | undefined {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byClass = this.declared.get(handler);
    if (!byClass) this.declared.set(handler, (byClass = new WeakMap()));
    if (!byClass.has(controller)) {
      byClass.set(
        controller,
        this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [handler, controller]),
      );
    }
    return byClass.get(controller);
  }
}
