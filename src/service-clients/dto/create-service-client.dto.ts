import { IsString, Length } from 'class-validator';

export class CreateServiceClientDto {
  /** @example "model-server-eu-1" */
  @Length(1, 200)
  @IsString()
  name: string;
}
