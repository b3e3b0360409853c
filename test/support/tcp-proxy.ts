import { createServer, connect, type Server, type Socket } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy in front of Postgres or Redis whose connections can be frozen (bytes stop flowing
 * both ways and neither end is told, as when a NAT or load balancer drops a connection
 * silently), or cut: every connection closed and new ones refused, as when the server is down,
 * until `resume()`.
 */
export class TcpProxy {
  private readonly links: Link[] = [];
  private server: Server | null = null;
  private isCut = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.isCut) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      const link = { client, upstream };
      this.links.push(link);
      client.pipe(upstream);
      upstream.pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The URL `url` (a Postgres or Redis URL) through this proxy. */
  url(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /**
   * Freezes the link whose upstream side has local port `port` (as Postgres sees it in
   * `pg_stat_activity.client_port`). Answers whether one was found.
   */
  freeze(port: number): boolean {
    const link = this.links.find((candidate) => candidate.upstream.localPort === port);
    if (!link) return false;
    link.client.unpipe(link.upstream);
    link.upstream.unpipe(link.client);
    link.client.pause();
    link.upstream.pause();
    return true;
  }

  /** Closes every connection, and closes each new one at once, until {@link resume}. */
  cut(): void {
    this.isCut = true;
    for (const { client, upstream } of this.links.splice(0)) {
      client.destroy();
      upstream.destroy();
    }
  }

  /** Lets connections through again after {@link cut}. */
  resume(): void {
    this.isCut = false;
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
