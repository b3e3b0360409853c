import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto.js';

export const ACCESS = 'access';
export type Access = 'public' | 'admin' | 'api-key';

/** Open to anyone: health checks and the like. */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);

/** Admin API: `Authorization: Bearer <ADMIN_TOKEN>`. */
export const AdminOnly = () =>
  applyDecorators(
    SetMetadata(ACCESS, 'admin' satisfies Access),
    ApiBearerAuth('admin'),
    ApiResponse({
      status: 401,
      description: 'Missing or wrong admin token',
      type: ErrorResponseDto,
    }),
    ApiResponse({ status: 503, description: 'ADMIN_TOKEN is not set', type: ErrorResponseDto }),
  );
