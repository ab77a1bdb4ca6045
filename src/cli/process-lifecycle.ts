// What the two long-running commands share: running until SIGTERM/SIGINT
// with JSON logs flushed on the way out.
import { pino, type Logger } from 'pino';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts a process's parts with a pino logger on stdout, then waits for
 * SIGTERM or SIGINT and stops them; a second signal exits at once.
 * Returns the exit status: 0 after a clean stop, 1 when it could not start.
 */
export async function serveUntilSignal(command: string, logLevel: string, start: (log: Logger) => Promise<Stoppable>, stoppingMessage = 'signal received'): Promise<number> {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const log = pino({ level: logLevel, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  // Request bytes never reach here: the admission seam answers every fault
  // itself (src/webhook/admission-transport.ts). What does is a bug whose state
  // cannot be trusted, so it is logged with its stack and the process exits
  // for the Deployment to restart a clean one.
  const fatal = (kind: string) => (e: unknown): void => {
    log.fatal({ err: e instanceof Error ? e.stack : String(e) }, `${command}: ${kind}; exiting (a bug: please report it with this line)`);
    destination.flushSync();
    process.exit(70);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
  let running: Stoppable;
  try {
    running = await start(log);
  } catch (e) {
    log.fatal({ err: (e as Error).message }, `${command} could not start`);
    destination.flushSync();
    process.stderr.write(`bluegreen-guard ${command}: ${(e as Error).message}\n`);
    return 1;
  }

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, stoppingMessage);
  process.once(signal, () => {
    destination.flushSync();
    process.exit(130);
  });
  await running.stop();
  destination.flushSync();
  return 0;
}
