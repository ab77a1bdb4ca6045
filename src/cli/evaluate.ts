// Placeholder until the 'evaluate' command lands; replaced by its owner.
export function run(_argv: string[]): Promise<number> {
  return Promise.reject(new Error("the 'evaluate' command is not built yet"));
}
