// Entry point of the `bluegreen-guard` command. Each subcommand lives in its
// own module, loaded only when asked for, and is its process's composition root.

interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

const commands: Record<string, Command> = {
  webhook: { summary: 'serve the validating admission webhook', load: () => import('./webhook.js') },
  watcher: { summary: 'evaluate rollback thresholds and roll back on a breach', load: () => import('./watcher.js') },
  preflight: { summary: 'judge a VirtualService/DestinationRule change offline (CI pipelines)', load: () => import('./preflight.js') },
  evaluate: { summary: 'print what the watcher would decide for one service', load: () => import('./evaluate.js') },
  ack: { summary: 'clear the rollback latch on a VirtualService (traffic may go back to a rolled-back revision)', load: () => import('./ack.js') },
  tls: { summary: 'keep the webhook\'s self-managed CA and serving certificate renewed (chart sidecar)', load: () => import('./tls.js') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ['usage: bluegreen-guard <command> [options]', '', 'commands:', ...lines, '', "run 'bluegreen-guard <command> --help' for a command's options"].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`bluegreen-guard: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bluegreen-guard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
