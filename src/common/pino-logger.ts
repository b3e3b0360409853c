import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import type { AppConfig, LogLevel } from '../config/app-config.js';

const PINO_LEVEL: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

const SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'secretkey',
  'cookie',
  '"set-cookie"',
  '"x-api-key"',
];

/** Header paths censored in every line, wherever a `headers` object is logged. */
export const REDACTED_PATHS = SECRET_HEADERS.flatMap((name) => [
  `headers.${name}`,
  `*.headers.${name}`,
]);

// The request line's fields, shown on one readable line in development.
const REQUEST_FIELDS = [
  'request_id',
  'method',
  'route',
  'status',
  'latency_ms',
  'decision',
  'code',
];

// API keys (legacy ones included) and service-client secrets, and SHA-256 hex digests.
const SECRET_TEXT = /\b(sk|ss)-[\w-]{8,}|\b[0-9a-f]{64}\b/gi;

/** `text` with anything shaped like a key, a secret or their hash (and `known`) masked. */
export function scrubSecrets(text: string, known: readonly string[] = []): string {
  let scrubbed = text.replace(SECRET_TEXT, '[redacted]');
  for (const secret of known) scrubbed = scrubbed.split(secret).join('[redacted]');
  return scrubbed;
}

/**
 * The service's one pino logger: JSON lines in production, readable lines otherwise, at
 * `LOG_LEVEL`. Secret headers are censored by path; messages (error stacks included) are
 * scrubbed of anything shaped like a key, a secret, their hash or the admin token.
 */
export async function createPinoLogger(config: AppConfig): Promise<Logger> {
  const known = config.adminToken ? [config.adminToken] : [];
  const scrub = (value: unknown) =>
    typeof value === 'string' ? scrubSecrets(value, known) : value;
  const destination: DestinationStream = config.production
    ? pino.destination({ dest: 1, sync: true })
    : // Loaded only in development: production startup does not pay for it.
      (await import('pino-pretty')).default({
        sync: true,
        colorize: process.stdout.isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: `pid,hostname,context,${REQUEST_FIELDS.join(',')},headers`,
        messageFormat:
          '{if context}[{context}] {end}{msg}' +
          '{if method} {method} {route} {status} {latency_ms} ms{end}' +
          '{if decision} {decision}{end}{if request_id} id={request_id}{end}',
        // A stack on lines of its own rather than as one escaped string.
        customPrettifiers: { stack: (stack) => String(stack).replace(/\n/g, '\n      ') },
      });
  return pino(
    {
      level: PINO_LEVEL[config.logLevel],
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map(scrub) as typeof args;
          const fields = scrubbed[0] as unknown;
          if (typeof fields === 'object' && fields !== null && 'stack' in fields) {
            scrubbed[0] = { ...fields, stack: scrub(fields.stack) };
          }
          method.apply(this, scrubbed);
        },
      },
    },
    destination,
  );
}

/**
 * Nest's `LoggerService` on pino, so every `new Logger(context)` call of the service (and of
 * Nest itself) becomes a pino line with its `context`. A message that is an object is merged
 * into the line as fields (its `msg` as the message).
 */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Logger) {}

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest passes the context last, and for errors the stack before it.
    const rest = [...params];
    const context = rest.length > 0 && typeof rest.at(-1) === 'string' ? rest.pop() : undefined;
    const stack = withStack && typeof rest[0] === 'string' ? rest.shift() : undefined;
    const fields: Record<string, unknown> = { context };
    if (stack !== undefined) fields.stack = stack;
    if (message instanceof Error) {
      fields.stack ??= message.stack;
      this.pino[level](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const { msg, ...more } = message as Record<string, unknown>;
      this.pino[level]({ ...fields, ...more }, typeof msg === 'string' ? msg : '');
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
