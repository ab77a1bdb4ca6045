// Placeholder until the 'webhook' command lands; replaced by its owner.
export function run(_argv: string[]): Promise<number> {
  return Promise.reject(new Error("the 'webhook' command is not built yet"));
}
