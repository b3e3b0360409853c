export class OrganizationResponseDto {
  /** Internal id, used in admin paths. */
  id: string;
  /** The id callers send in `Swarms-Organization`. */
  public_id: string;
  name: string;
  owner_user_id: string;
  created_at: Date;
}

export class MemberResponseDto {
  organization_id: string;
  user_id: string;
  /** @example "reader" */
  role: 'manager' | 'reader';
  created_at: Date;
}
