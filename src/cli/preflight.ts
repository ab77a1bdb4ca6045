// Placeholder until the 'preflight' command lands; replaced by its owner.
export function run(_argv: string[]): Promise<number> {
  return Promise.reject(new Error("the 'preflight' command is not built yet"));
}
