// Placeholder until the 'watcher' command lands; replaced by its owner.
export function run(_argv: string[]): Promise<number> {
  return Promise.reject(new Error("the 'watcher' command is not built yet"));
}
