import { Registry } from 'prom-client';
import { BufferedCounter } from './metrics.service.js';

async function values(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name);
  return (await metric!.get()).values.map(({ labels, value }) => ({ labels, value }));
}

describe('BufferedCounter', () => {
  it('counts what inc and a bound incrementer add to the same label set, exactly once per scrape', async () => {
    const registry = new Registry();
    const counter = new BufferedCounter(
      { name: 'test_lookups_total', help: 'test', labelNames: ['kind', 'outcome'] },
      registry,
    );
    const hit = counter.bind({ kind: 'key', outcome: 'hit' });
    hit();
    hit();
    counter.inc({ kind: 'key', outcome: 'hit' }, 3);
    counter.inc({ kind: 'key', outcome: 'miss' });

    expect(await values(registry, 'test_lookups_total')).toEqual([
      { labels: { kind: 'key', outcome: 'hit' }, value: 5 },
      { labels: { kind: 'key', outcome: 'miss' }, value: 1 },
    ]);

    hit();
    expect(await values(registry, 'test_lookups_total')).toEqual([
      { labels: { kind: 'key', outcome: 'hit' }, value: 6 },
      { labels: { kind: 'key', outcome: 'miss' }, value: 1 },
    ]);
  });

  it('shows a bound label set only once it has been counted', async () => {
    const registry = new Registry();
    const counter = new BufferedCounter(
      { name: 'test_unused_total', help: 'test', labelNames: ['kind'] },
      registry,
    );
    counter.bind({ kind: 'org' });
    expect(await values(registry, 'test_unused_total')).toEqual([]);
  });
});
