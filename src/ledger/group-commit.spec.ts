import { GroupCommit, type Outcome } from './group-commit.js';

describe(GroupCommit.name, () => {
  it('refuses items still queued after the bound, and answers those in the stuck batch', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const written: number[][] = [];
    const commit = new GroupCommit<number, number>(
      async (items): Promise<Outcome<number>[]> => {
        written.push(items);
        await stuck;
        return items.map((value) => ({ value }));
      },
      10,
      1,
      { maxWaitMs: 50, error: () => new Error('queue wait over') },
    );
    const first = commit.submit(1);
    await Promise.resolve();
    // The first batch is being written (and stuck); these wait in the queue.
    const queued = [commit.submit(2), commit.submit(3)];
    const started = performance.now();
    const refusals = await Promise.allSettled(queued);
    expect(refusals.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value))).toEqual([
      'Error: queue wait over',
      'Error: queue wait over',
    ]);
    expect(performance.now() - started).toBeLessThan(500);
    release();
    await expect(first).resolves.toBe(1);
    // Nothing refused was ever handed to a batch.
    expect(written).toEqual([[1]]);
    await commit.drain();
  });

  it('batches what arrives while a batch is written, without any bound', async () => {
    const written: number[][] = [];
    const commit = new GroupCommit<number, number>(async (items) => {
      written.push(items);
      await new Promise((resolve) => setTimeout(resolve, 10));
      return items.map((value) => ({ value: value * 2 }));
    }, 10);
    const answers = await Promise.all([1, 2, 3].map((n) => commit.submit(n)));
    expect(answers).toEqual([2, 4, 6]);
    expect(written).toEqual([[1, 2, 3]]);
  });

  it('hands the next batch to the writer before answering the batch that just committed', async () => {
    const events: string[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number, number>(async (items) => {
      events.push(`write ${items.join(',')}`);
      if (items[0] === 1) await stuck;
      return items.map((value) => ({ value }));
    }, 10);
    const first = commit.submit(1).then((value) => events.push(`answered ${value}`));
    await Promise.resolve();
    const rest = [2, 3].map((n) =>
      commit.submit(n).then((value) => events.push(`answered ${value}`)),
    );
    release();
    await Promise.all([first, ...rest]);
    expect(events).toEqual(['write 1', 'write 2,3', 'answered 1', 'answered 2', 'answered 3']);
    await commit.drain();
  });

  it('answers a committed batch once the next one is sent, when taking a connection takes a tick', async () => {
    const events: string[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number, number>(async (items, sent) => {
      // A pooled connection is handed out on a later tick, as pg-pool does.
      await new Promise<void>((resolve) => process.nextTick(resolve));
      events.push(`sent ${items.join(',')}`);
      sent();
      if (items[0] === 1) await stuck;
      return items.map((value) => ({ value }));
    }, 10);
    const answered = (value: number) => events.push(`answered ${value}`);
    const first = commit.submit(1).then(answered);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const rest = [2, 3].map((n) => commit.submit(n).then(answered));
    release();
    await Promise.all([first, ...rest]);
    expect(events).toEqual(['sent 1', 'sent 2,3', 'answered 1', 'answered 2', 'answered 3']);
    await commit.drain();
  });

  it('does not hold committed answers while the next batch waits for a connection', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let unblock!: () => void;
    const noConnection = new Promise<void>((resolve) => (unblock = resolve));
    const commit = new GroupCommit<number, number>(async (items, sent) => {
      if (items[0] !== 1) await noConnection;
      sent();
      if (items[0] === 1) await stuck;
      return items.map((value) => ({ value }));
    }, 10);
    const first = commit.submit(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const second = commit.submit(2);
    release();
    // Answered while the second batch still has no connection.
    await expect(first).resolves.toBe(1);
    unblock();
    await expect(second).resolves.toBe(2);
    await commit.drain();
  });
});
