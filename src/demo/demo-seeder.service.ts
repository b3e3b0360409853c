import { Inject, Injectable } from '@nestjs/common';
import type { AdminActor } from '../audit/admin-actor.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { ModelsService } from '../models/models.service.js';
import { OrganizationsService } from '../organizations/organizations.service.js';
import { ServiceClientsService } from '../service-clients/service-clients.service.js';
import { UsersService } from '../users/users.service.js';

/** USD per million tokens, as their makers publish them (cogvlm-chat-17b: this platform's price). */
export const DEMO_PRICES: { model: string; input: number; output: number }[] = [
  { model: 'cogvlm-chat-17b', input: 0.5, output: 0.5 },
  { model: 'gpt-4o', input: 2.5, output: 10 },
  { model: 'gpt-4o-mini', input: 0.15, output: 0.6 },
  { model: 'claude-3-5-sonnet-20241022', input: 3, output: 15 },
  { model: 'claude-3-5-haiku-20241022', input: 0.8, output: 4 },
  { model: 'gemini-1.5-flash', input: 0.075, output: 0.3 },
];

export interface DemoCredentials {
  api_key: string;
  secret_key: string;
  admin_token: string | null;
  organization_public_id: string;
  model: string;
  user_id: string;
}

const FREE_CREDIT_DAYS = 365;
const SEEDER: AdminActor = { name: 'demo-seed', requestId: 'demo-seed' };

/** A working demo: prices, a user with free credit, an organization, a service client and a key. */
@Injectable()
export class DemoSeeder {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly models: ModelsService,
    private readonly users: UsersService,
    private readonly organizations: OrganizationsService,
    private readonly serviceClients: ServiceClientsService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async seed(): Promise<DemoCredentials> {
    for (const price of DEMO_PRICES) {
      await this.models.put(SEEDER, price.model, {
        price_million_input: price.input,
        price_million_output: price.output,
      });
    }
    const user = await this.users.create(SEEDER, { credit_plan: 'prepaid' });
    const expiresAt = new Date(Date.now() + FREE_CREDIT_DAYS * 86_400_000).toISOString();
    await this.users.addCredit(SEEDER, user.id, {
      amount: 10,
      kind: 'free',
      expires_at: expiresAt,
    });
    const organization = await this.organizations.create(SEEDER, {
      name: 'Demo Organization',
      owner_user_id: user.id,
    });
    const client = await this.serviceClients.create(SEEDER, { name: 'demo-model-server' });
    const key = await this.apiKeys.create(SEEDER, { user_id: user.id, name: 'demo' });
    return {
      api_key: key.key,
      secret_key: client.secret_key,
      admin_token: this.config.adminToken ?? null,
      organization_public_id: organization.public_id,
      model: DEMO_PRICES[0].model,
      user_id: user.id,
    };
  }
}
