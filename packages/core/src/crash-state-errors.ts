import { constants } from "node:os";
import { SIMULATED_CRASH } from "./faulty-file-system.js";

/** The libuv wording of each error code the crash-state filesystem raises. */
const DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  EBADF: "bad file descriptor",
  EBUSY: "resource busy or locked",
  EEXIST: "file already exists",
  EINVAL: "invalid argument",
  EISDIR: "illegal operation on a directory",
  ELOOP: "too many symbolic links encountered",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  ENOTEMPTY: "directory not empty",
  EPERM: "operation not permitted",
});

/** A Node.js system error as `node:fs` raises it. */
export interface CrashStateSystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
}

/**
 * @internal Builds an error shaped like the ones `node:fs/promises` throws:
 * `code`, negative `errno`, `syscall`, `path` and `dest`, and Node's message
 * (`ENOENT: no such file or directory, open '/x'`), so code that inspects
 * errors behaves as it does on a real disk.
 */
export function systemError(
  code: string,
  syscall: string,
  path?: string,
  dest?: string,
): CrashStateSystemError {
  const errno = (constants.errno as Record<string, number | undefined>)[code] ?? 0;
  let message = `${code}: ${DESCRIPTIONS[code] ?? "system error"}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const error = new Error(message) as CrashStateSystemError;
  error.errno = -errno;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  if (dest !== undefined) error.dest = dest;
  return error;
}

/** @internal What Node throws for a call on a closed `FileHandle`. */
export function closedHandleError(syscall: string): Error {
  return Object.assign(new Error("file closed"), { code: "EBADF", syscall });
}

/** @internal The error every call fails with once the simulated machine lost power. */
export function crashedError(operation: string, path: string): Error {
  return Object.assign(new Error(`simulated power loss before ${operation} '${path}'`), {
    code: SIMULATED_CRASH,
  });
}
