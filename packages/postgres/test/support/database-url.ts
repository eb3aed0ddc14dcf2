/** Every database the tests make starts with this, so a run can find and drop its own. */
export const TEST_DATABASE_PREFIX = "beauvoir_test_";

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The same server and database, reached through another host and port (a proxy). */
export function withAddress(url: string, host: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  parsed.port = String(port);
  return parsed.toString();
}
