import { constants } from "node:fs";

/** @internal What an `open` call asks for, from Node's string or numeric flags. */
export interface OpenFlags {
  readonly readable: boolean;
  readonly writable: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly truncate: boolean;
  readonly append: boolean;
  readonly noFollow: boolean;
  readonly directory: boolean;
  /** `O_SYNC` or `O_DSYNC`: every write is durable when it returns. */
  readonly synchronous: boolean;
}

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_SYNC } = constants;

/** Node's string flags (`lib/internal/fs/utils.js` `stringToFlags`). */
const STRING_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  r: O_RDONLY,
  rs: O_RDONLY | O_SYNC,
  sr: O_RDONLY | O_SYNC,
  "r+": O_RDWR,
  "rs+": O_RDWR | O_SYNC,
  "sr+": O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY,
  wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  "w+": O_TRUNC | O_CREAT | O_RDWR,
  "wx+": O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  "xw+": O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY,
  ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  "a+": O_APPEND | O_CREAT | O_RDWR,
  "ax+": O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  "xa+": O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  "as+": O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  "sa+": O_APPEND | O_CREAT | O_RDWR | O_SYNC,
});

/**
 * @internal Decodes `open` flags as Node and Linux do.
 * @param flags - a Node flag string (`"wx"`) or a number of `O_*` bits.
 * @returns the decoded flags.
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) for an unknown string, as Node does.
 */
export function parseOpenFlags(flags: string | number): OpenFlags {
  let bits: number;
  if (typeof flags === "number") {
    bits = flags;
  } else {
    const known = STRING_FLAGS[flags];
    if (known === undefined) {
      throw Object.assign(
        new TypeError(`The argument 'flags' is invalid. Received ${JSON.stringify(flags)}`),
        { code: "ERR_INVALID_ARG_VALUE" },
      );
    }
    bits = known;
  }
  const access = bits & (O_RDONLY | O_WRONLY | O_RDWR);
  return {
    readable: access === O_RDONLY || access === O_RDWR,
    writable: access === O_WRONLY || access === O_RDWR,
    create: (bits & O_CREAT) !== 0,
    exclusive: (bits & O_EXCL) !== 0,
    truncate: (bits & O_TRUNC) !== 0,
    append: (bits & O_APPEND) !== 0,
    noFollow: (bits & constants.O_NOFOLLOW) !== 0,
    directory: (bits & constants.O_DIRECTORY) !== 0,
    synchronous: (bits & (O_SYNC | constants.O_DSYNC)) !== 0,
  };
}
