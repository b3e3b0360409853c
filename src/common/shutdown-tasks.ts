import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

/**
 * Work to do when the application shuts down (on SIGTERM/SIGINT or `app.close()`), after its
 * modules: stopping the embedded Postgres, for one.
 */
@Injectable()
export class ShutdownTasks implements OnApplicationShutdown {
  private readonly logger = new Logger(ShutdownTasks.name);
  private readonly tasks: (() => Promise<void>)[] = [];

  add(task: () => Promise<void>): void {
    this.tasks.push(task);
  }

  async onApplicationShutdown(): Promise<void> {
    for (const task of this.tasks.splice(0).reverse()) {
      await task().catch((error: unknown) =>
        this.logger.error(`Shutdown task failed: ${String(error)}`),
      );
    }
  }
}
