import { type BeauvoirCliIo, runBeauvoir } from "../src/cli/run-beauvoir.js";

/**
 * Runs `beauvoir` in this process (so coverage counts it), capturing its output.
 * @param argv - the arguments.
 * @param extra - streams, environment, clock to use instead of the defaults.
 */
export async function beauvoir(argv: string[], extra: Partial<BeauvoirCliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: BeauvoirCliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: {},
    version: "test",
    ...extra,
  };
  const code = await runBeauvoir(argv, io);
  const stdout = out.join("");
  return { code, stdout, stderr: err.join(""), json: () => JSON.parse(stdout) };
}
