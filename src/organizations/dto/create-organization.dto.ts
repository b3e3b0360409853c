import { IsString, IsUUID, Length } from 'class-validator';

export class CreateOrganizationDto {
  /** @example "Acme Research" */
  @Length(1, 200)
  @IsString()
  name: string;

  /** The user who owns the organization and pays for its usage. */
  @IsUUID()
  owner_user_id: string;
}
