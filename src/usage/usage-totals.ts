import { Column } from 'typeorm';

/** The counters every usage rollup row keeps: requests, tokens and exact cost. */
export abstract class UsageTotals {
  @Column({ type: 'bigint' })
  requests: string;

  @Column({ name: 'input_tokens', type: 'bigint' })
  inputTokens: string;

  @Column({ name: 'output_tokens', type: 'bigint' })
  outputTokens: string;

  @Column({ type: 'numeric' })
  cost: string;
}
