import 'reflect-metadata';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { getMetadataStorage, validateSync } from 'class-validator';
import fc from 'fast-check';
import { ListAuditQueryDto } from '../audit/dto/list-audit.query.dto.js';
import {
  CreateApiKeyDto,
  ImportApiKeyDto,
  RotateApiKeyDto,
  UpdateApiKeyDto,
} from '../auth/dto/create-api-key.dto.js';
import { ListApiKeysQueryDto } from '../auth/dto/list-api-keys.query.dto.js';
import { SEED_USAGE_BODY } from '../auth/seed-examples.js';
import { DecisionsQueryDto } from '../decisions/dto/decisions-query.dto.js';
import { PutModelDto } from '../models/dto/put-model.dto.js';
import { AddMemberDto } from '../organizations/dto/add-member.dto.js';
import { CreateOrganizationDto } from '../organizations/dto/create-organization.dto.js';
import {
  TransferOrganizationDto,
  UpdateMemberDto,
  UpdateOrganizationDto,
} from '../organizations/dto/update-organization.dto.js';
import { UsageEventsQueryDto, UsageReportQueryDto } from '../reports/dto/usage-report.query.dto.js';
import { CreateServiceClientDto } from '../service-clients/dto/create-service-client.dto.js';
import { RotateSecretDto } from '../service-clients/dto/rotate-secret.dto.js';
import { RecordUsageDto } from '../usage/dto/record-usage.dto.js';
import { AddCreditDto } from '../users/dto/add-credit.dto.js';
import { CreateUserDto } from '../users/dto/create-user.dto.js';
import { UpdateUserDto } from '../users/dto/update-user.dto.js';
import { compiledValidation, toInstance, validateDto, VALIDATOR_OPTIONS } from './validation.js';

/** Values of every JSON type, near the edges the DTOs' rules draw. */
const VALUE = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    1,
    -1,
    0.5,
    1.5,
    2,
    2.5,
    100,
    2_147_483_647,
    2_147_483_648,
    1_000_000_000,
    1e12,
    -0,
    '',
    ' ',
    'a',
    'gpt-4o',
    '12',
    '0.5',
    '-1',
    '1e3',
    'x'.repeat(256),
    '2026-12-01',
    '2026-12-01T00:00:00Z',
    'not-a-date',
    'UTC',
    'Europe/Berlin',
    'month',
    'monthly',
    'day',
    'hour',
    'model',
    'prepaid',
    'invoice',
    'admin',
    'member',
    'owner',
    'enforce',
    'shadow',
    '00000000-0000-0000-0000-000000000000',
    '2b1c7a4e-9f0d-4c1b-8e7a-3d5f6a7b8c9d',
    [],
    ['a'],
    ['admin', 'member'],
    {},
    { a: 1 },
  ),
  fc.uuid(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 20 }),
);

function fieldsOf(cls: ClassConstructor<object>): string[] {
  return [
    ...new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(cls, '', true, false)
        .map((metadata) => metadata.propertyName),
    ),
  ];
}

/** Bodies of a DTO's own fields, each absent, kept from `base`, or any value. */
function bodies(cls: ClassConstructor<object>, base: Record<string, unknown>) {
  const fields = Object.fromEntries(
    fieldsOf(cls).map((field) => [
      field,
      field in base
        ? fc.oneof({ arbitrary: fc.constant(base[field]), weight: 30 }, VALUE)
        : fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, VALUE),
    ]),
  );
  return fc.record(fields, { requiredKeys: Object.keys(base) });
}

const CLASSES: [ClassConstructor<object>, Record<string, unknown>][] = [
  [RecordUsageDto, { ...SEED_USAGE_BODY }],
  [CreateApiKeyDto, { name: 'k' }],
  [ImportApiKeyDto, {}],
  [UpdateApiKeyDto, {}],
  [RotateApiKeyDto, {}],
  [ListApiKeysQueryDto, {}],
  [ListAuditQueryDto, {}],
  [DecisionsQueryDto, {}],
  [PutModelDto, { price_million_input: 1, price_million_output: 2 }],
  [AddMemberDto, {}],
  [UpdateMemberDto, {}],
  [CreateOrganizationDto, { name: 'o' }],
  [UpdateOrganizationDto, {}],
  [TransferOrganizationDto, {}],
  [UsageReportQueryDto, {}],
  [UsageEventsQueryDto, {}],
  [CreateServiceClientDto, { name: 's' }],
  [RotateSecretDto, {}],
  [AddCreditDto, { amount: 1 }],
  [CreateUserDto, { email: 'a@example.com' }],
  [UpdateUserDto, {}],
];

/** Classes with `each` rules (lists of values): left to validateSync. */
const LEFT_TO_VALIDATE_SYNC: ClassConstructor<object>[] = [
  CreateApiKeyDto,
  ImportApiKeyDto,
  UpdateApiKeyDto,
  UpdateOrganizationDto,
  UsageReportQueryDto,
];

describe(compiledValidation.name, () => {
  it('takes the guard bodies, the hot path, without validateSync', () => {
    expect(compiledValidation(RecordUsageDto)).not.toBeNull();
  });

  it.each(CLASSES.map(([cls, base]) => [cls.name, cls, base] as const))(
    '%s: the same verdict as validateSync on any body of its fields',
    (_name, cls, base) => {
      const compiled = compiledValidation(cls);
      if (LEFT_TO_VALIDATE_SYNC.includes(cls)) expect(compiled).toBeNull();
      if (compiled === null) {
        expect(LEFT_TO_VALIDATE_SYNC).toContain(cls);
        return;
      }
      let valid = 0;
      fc.assert(
        fc.property(bodies(cls, base), (body) => {
          const dto = Object.assign(new cls(), body);
          const expected = validateSync(dto, VALIDATOR_OPTIONS).length === 0;
          if (expected) valid++;
          expect(compiled(dto)).toBe(expected);
        }),
        { numRuns: 1500, seed: 20261202 },
      );
      if (cls === RecordUsageDto) expect(valid).toBeGreaterThan(50);
    },
  );

  it('refuses a field without metadata, as forbidNonWhitelisted does', () => {
    const dto = Object.assign(new RecordUsageDto(), SEED_USAGE_BODY, { extra: 1 });
    expect(compiledValidation(RecordUsageDto)!(dto)).toBe(false);
  });
});

describe(toInstance.name, () => {
  it.each(CLASSES.map(([cls, base]) => [cls.name, cls, base] as const))(
    '%s: the same instance as class-transformer makes, on any body of its fields',
    (_name, cls, base) => {
      fc.assert(
        fc.property(bodies(cls, base), (generated) => {
          // A field left out is absent, as in parsed JSON.
          const body = JSON.parse(JSON.stringify(generated)) as Record<string, unknown>;
          const objects = Object.entries(body).filter(
            ([, v]) => v !== null && typeof v === 'object',
          );
          const expected = Object.assign(
            plainToInstance(
              cls,
              Object.fromEntries(
                Object.entries(body).filter(([, v]) => v === null || typeof v !== 'object'),
              ),
            ),
            Object.fromEntries(objects),
          );
          const made = toInstance(cls, body);
          expect(made).toBeInstanceOf(cls);
          expect(made).toStrictEqual(expected);
          expect(Object.keys(made)).toEqual(Object.keys(expected));
        }),
        { numRuns: 300, seed: 20261202 },
      );
    },
  );
});

describe(validateDto.name, () => {
  it('answers the same errors for a body the compiled check refuses', () => {
    const result = validateDto(RecordUsageDto, { ...SEED_USAGE_BODY, input_tokens: 1.5 });
    expect(result.errors).toEqual([
      { field: 'input_tokens', message: 'input_tokens must be an integer number' },
    ]);
  });

  it('answers a DTO instance for a valid body', () => {
    const result = validateDto(RecordUsageDto, { ...SEED_USAGE_BODY });
    expect(result.errors).toBeNull();
    expect(result.value).toBeInstanceOf(RecordUsageDto);
    expect(result.value).toMatchObject({ model: SEED_USAGE_BODY.model, input_tokens: 100 });
  });
});
