/** What a batch answers for one of its items: a value, or the error of that item alone. */
export type Outcome<O> = { value: O } | { error: unknown };

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
  /** performance.now() when it was submitted. */
  since: number;
}

/**
 * Writes a batch and answers each item's outcome. `sent` is called once the batch has been
 * handed to the database (its statement written to the connection), if it gets that far.
 */
export type BatchWriter<I, O> = (items: I[], sent: () => void) => Promise<Outcome<O>[]>;

/** The batch after a committed one: see {@link GroupCommit.startNext}. */
interface NextBatch {
  handedOver: Promise<void>;
  answered: () => void;
}

/** How long an item may wait for a batch to take it, and what it is refused with after. */
export interface QueueBound {
  maxWaitMs: number;
  error: () => unknown;
}

/**
 * Group commit: items submitted while a batch is being written wait and go together in the
 * next one, so a busy service writes many items per transaction and an idle one adds no wait
 * (an item submitted when nothing is in flight starts at once, in the same event-loop turn's
 * microtasks). At most `maxInFlight` batches are being written at a time, of at most `maxBatch`
 * items each; each item is answered when its batch has committed. A second batch in flight
 * waits on the rows the first holds, so it starts the moment the first commits.
 *
 * When a batch commits, the next one (the items that came meanwhile) is handed to the database
 * before the committed items are answered, so the database writes it while the answers are
 * sent. Answering first would run every answer's continuation (its whole response) in the
 * microtasks ahead of the step that takes the next batch's connection, which comes on a later
 * tick, and leave the database idle meanwhile. The answers wait for that hand-off at most until
 * the event loop's next turn: a next batch that is still waiting for a connection does not hold
 * them.
 *
 * With a {@link QueueBound}, an item still queued (in no batch yet, so nothing of it written)
 * after `maxWaitMs` is refused with its error: when a batch is stuck (on a lock, or waiting
 * for a connection), the calls behind it fail fast instead of piling up.
 */
export class GroupCommit<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private drained: (() => void)[] = [];
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly write: BatchWriter<I, O>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
    private readonly bound?: QueueBound,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, since: performance.now() });
      this.schedule();
      this.watchQueue();
    });
  }

  /** While items wait in the queue, refuses those past the bound, checked a few times a wait. */
  private watchQueue(): void {
    if (!this.bound || this.expiryTimer) return;
    const { maxWaitMs, error } = this.bound;
    const every = Math.max(5, Math.floor(maxWaitMs / 4));
    this.expiryTimer = setInterval(() => {
      const oldest = performance.now() - maxWaitMs;
      let expired = 0;
      while (expired < this.queue.length && this.queue[expired].since <= oldest) expired++;
      for (const waiting of this.queue.splice(0, expired)) waiting.reject(error());
      if (this.queue.length === 0) {
        clearInterval(this.expiryTimer!);
        this.expiryTimer = null;
        if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
      }
    }, every);
    this.expiryTimer.unref();
  }

  /** Resolves once every item submitted so far has been answered. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /**
   * Starts the next batch. `handedOver` resolves once it has been handed to the database, or on
   * the event loop's next turn if that takes longer (or the batch ends before it); the batch
   * answers only after `answered` is called, so batches answer in the order they were written.
   */
  private startNext(): NextBatch {
    let answered!: () => void;
    const answeredBefore = new Promise<void>((resolve) => (answered = resolve));
    const handedOver = new Promise<void>((resolve) => {
      const bound = setImmediate(resolve);
      void this.flush(() => {
        clearImmediate(bound);
        resolve();
      }, answeredBefore);
    });
    return { handedOver, answered };
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight || this.scheduled) return;
    this.scheduled = true;
    // Items submitted in the same turn of the event loop join this batch.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /**
   * Writes the next batch; `sent` is called when it has been handed to the database, and its
   * items are answered after `answeredBefore` (the batch before it answering) resolves.
   */
  private async flush(sent?: () => void, answeredBefore?: Promise<void>): Promise<void> {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.inFlight++;
    const batch = this.queue.splice(0, this.maxBatch);
    // Called again by a batch that is retried or split; the hand-off ignores all but the first.
    const onSent = sent ?? (() => undefined);
    let answer: () => void;
    try {
      const outcomes = await this.write(
        batch.map((waiting) => waiting.item),
        onSent,
      );
      answer = () =>
        batch.forEach((waiting, index) => {
          const outcome = outcomes[index];
          if (outcome && 'value' in outcome) waiting.resolve(outcome.value);
          else waiting.reject(outcome ? outcome.error : new Error('the batch answered no outcome'));
        });
    } catch (error) {
      answer = () => {
        for (const waiting of batch) waiting.reject(error);
      };
    }
    // A batch that ended before it was sent releases the answers of the one before it.
    onSent();
    await answeredBefore;
    this.inFlight--;
    let next: NextBatch | undefined;
    if (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      next = this.startNext();
      await next.handedOver;
    }
    answer();
    next?.answered();
    if (this.inFlight === 0 && this.queue.length === 0) {
      for (const resolve of this.drained.splice(0)) resolve();
    }
  }
}
