// Debian-installed binaries the tests run (prometheus, promtool,
// prometheus-alertmanager): found on PATH, or at the path an environment
// variable names, with an error that says how to install them when missing.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function systemBinary(name: string, envOverride: string, debianPackage: string): string {
  const override = process.env[envOverride];
  if (override) {
    if (isExecutable(override)) return override;
    throw new Error(`${envOverride}=${override} is not an executable file; fix the variable or unset it to use ${name} from PATH`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `${name} is not installed (not on PATH). Fix: run 'bash scripts/setup.sh', or 'apt-get install ${debianPackage}', or set ${envOverride} to its path.`,
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
