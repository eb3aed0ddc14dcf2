/**
 * Key names whose values are replaced whole, whatever the value looks like:
 * HTTP credential headers and fields named like a password, secret or token.
 * Keys are compared after {@link normalizeKey}, so `X-Api-Key`, `x_api_key`
 * and `xApiKey` are one key.
 */

/** Lower case without `-`, `_`, `.` and blanks: `X-GitHub-Token` → `xgithubtoken`. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, "");
}

/**
 * Endings of normalised key names, longest first, and the placeholder name
 * each one gets. An ending, not a whole name, so that `githubToken`,
 * `DB_PASSWORD` and `proxy-authorization` are covered; `max_tokens`,
 * `tokenType` and `passwordPolicy` are not.
 */
const SENSITIVE_ENDINGS: readonly (readonly [ending: string, name: string])[] = [
  ["sharedaccesskey", "azure-key"],
  ["secretaccesskey", "aws-secret"],
  ["authorization", "authorization"],
  ["encryptionkey", "secret"],
  ["signingkey", "secret"],
  ["privatekey", "secret"],
  ["passphrase", "password"],
  ["secretkey", "secret"],
  ["password", "password"],
  ["cookies", "cookie"],
  ["accountkey", "azure-key"],
  ["passwd", "password"],
  ["secret", "secret"],
  ["cookie", "cookie"],
  ["apikey", "api-key"],
  ["token", "token"],
];

/**
 * Normalised key names whose values are replaced whole only when the key is
 * exactly that: npm's `_auth` and Docker's `auth` (base64 of user:password),
 * but not `oauth` or `author`.
 */
const SENSITIVE_NAMES: ReadonlyMap<string, string> = new Map([["auth", "auth"]]);

/**
 * Decides which object keys hold credentials.
 */
export class SensitiveKeys {
  readonly #extra: ReadonlyMap<string, string>;

  /** @param extra - more key names (compared normalised) whose values are replaced whole. */
  constructor(extra: readonly string[]) {
    this.#extra = new Map(extra.map((key) => [normalizeKey(key), normalizeKey(key)]));
  }

  /** @returns the placeholder name for the value under `key`, or `undefined` for an ordinary key. */
  placeholderFor(key: string): string | undefined {
    const normalized = normalizeKey(key);
    const exact = this.#extra.get(normalized) ?? SENSITIVE_NAMES.get(normalized);
    if (exact !== undefined) return exact;
    for (const [ending, name] of SENSITIVE_ENDINGS) {
      if (normalized.endsWith(ending)) return name;
    }
    return undefined;
  }
}
