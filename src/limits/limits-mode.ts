/** `enforce`: over a limit answers 429. `shadow`: counted and reported, never refused. */
export const LIMITS_MODES = ['enforce', 'shadow'] as const;

export type LimitsMode = (typeof LIMITS_MODES)[number];
