import { parseArgs } from "node:util";
import { BeauvoirError, escapeControlCharacters } from "@beauvoir/core";
import { exportAuditHistory } from "../audit-export.js";
import { migrate } from "../migrate.js";
import { SCHEMA_VERSION } from "../migrations.js";
import type { PoolLike } from "../queryable.js";
import { quoteSchemaName } from "../schema-name.js";
import { readSchemaState } from "../schema-version.js";

/** A pool the command line made, closed when the command ends. */
export interface ClosablePool extends PoolLike {
  end(): Promise<void>;
}

/** Where the tool reads and writes; `process` and `pg` in the bin, fakes in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  /** Makes the pool for a connection string. */
  createPool(connectionString: string): Promise<ClosablePool> | ClosablePool;
}

/** Exit codes: 0 done, 1 the schema is not usable (`status`), 2 usage or database error. */
export type ExitCode = 0 | 1 | 2;

export const USAGE = `Usage: beauvoir-postgres <command> [options]

Commands:
  migrate                Apply the schema migrations this version needs (safe to run
                         from several replicas at once; never downgrades)
  status                 Print the schema version and what the tables hold.
                         Exit 1 when this version cannot run on the schema
  audit export <file>    Write the sealed audit history as JSONL (0600, never
                         overwrites); check it with: beauvoir-audit verify <file>

Options:
  --database-url URL     Default: $BEAUVOIR_DATABASE_URL, else $DATABASE_URL
  --schema NAME          Default: beauvoir
  --json                 Print the result as JSON
  -h, --help             This text
`;

/**
 * Runs the `beauvoir-postgres` command line.
 * @param argv - the arguments after the program name.
 * @param io - streams, environment, pool maker.
 * @returns the exit code.
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    (command === undefined && !values.help ? io.stderr : io.stdout).write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const schema = values.schema ?? "beauvoir";
  const url = values["database-url"] ?? io.env.BEAUVOIR_DATABASE_URL ?? io.env.DATABASE_URL;
  const usage = (message: string): ExitCode => {
    io.stderr.write(`beauvoir-postgres: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    quoteSchemaName(schema);
  } catch (error) {
    return usage((error as Error).message);
  }
  const known = command === "migrate" || command === "status" || command === "audit";
  if (!known) return usage(`unknown command ${JSON.stringify(command)}`);
  if (command === "audit" && (rest[0] !== "export" || rest[1] === undefined)) {
    return usage("audit needs: audit export <file>");
  }
  if (url === undefined || url.length === 0) {
    return usage("no database: pass --database-url or set BEAUVOIR_DATABASE_URL");
  }
  const pool = await io.createPool(url);
  try {
    const print = (text: string, data: unknown) =>
      io.stdout.write(values.json ? `${JSON.stringify(data)}\n` : `${text}\n`);
    if (command === "migrate") {
      const report = await migrate({ pool, schema });
      const applied = report.applied.map((step) => `  ${step.version}: ${step.name}`).join("\n");
      print(
        report.applied.length === 0
          ? `Schema "${schema}" is at version ${report.toVersion}; nothing to apply`
          : `Schema "${schema}" migrated from ${report.fromVersion ?? "nothing"} to ${report.toVersion}:\n${applied}`,
        report,
      );
      return 0;
    }
    if (command === "status") return await status(pool, schema, print);
    const report = await exportAuditHistory({ pool, schema, path: rest[1]! });
    print(`Wrote ${report.records} records (${report.bytes} bytes) to ${report.path}`, report);
    return 0;
  } catch (error) {
    const code = BeauvoirError.isInstance(error) ? ` [${error.code}]` : "";
    io.stderr.write(
      `beauvoir-postgres: ${escapeControlCharacters((error as Error)?.message ?? String(error))}${code}\n`,
    );
    return 2;
  } finally {
    await pool.end();
  }
}

async function status(
  pool: PoolLike,
  schema: string,
  print: (text: string, data: unknown) => void,
): Promise<ExitCode> {
  const state = await readSchemaState(pool, schema, 10_000);
  const usable =
    state.version !== null &&
    (state.version === SCHEMA_VERSION ||
      (state.version > SCHEMA_VERSION &&
        (state.compatibleFrom ?? state.version) <= SCHEMA_VERSION));
  const report: Record<string, unknown> = {
    schema,
    version: state.version,
    compatibleFrom: state.compatibleFrom,
    packageVersion: SCHEMA_VERSION,
    usable,
  };
  if (state.version !== null) {
    const s = quoteSchemaName(schema);
    const { rows } = await pool.query<Record<string, string>>({
      text: `SELECT
        (SELECT count(*) FROM ${s}.instances WHERE stopped_at IS NULL AND lease_expires_at > now())::text AS live_instances,
        (SELECT count(*) FROM ${s}.idempotency_keys WHERE status = 'pending')::text AS pending_keys,
        (SELECT count(*) FROM ${s}.audit_records WHERE seq IS NULL)::text AS unsealed_records,
        (SELECT seq FROM ${s}.audit_head)::text AS sealed_records`,
      query_timeout: 10_000,
    });
    for (const [name, value] of Object.entries(rows[0] ?? {})) {
      report[name.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase())] = Number(value);
    }
  }
  const lines = [
    `Schema "${schema}": ${state.version === null ? "no Beauvoir tables" : `version ${state.version} (compatible from ${state.compatibleFrom})`}`,
    `This package: version ${SCHEMA_VERSION}, ${usable ? "can run on it" : "cannot run on it (run: beauvoir-postgres migrate)"}`,
  ];
  if (state.version !== null) {
    lines.push(
      `Live instances: ${report.liveInstances}, pending keys: ${report.pendingKeys}, audit records sealed: ${report.sealedRecords}, waiting: ${report.unsealedRecords}`,
    );
  }
  print(lines.join("\n"), report);
  return usable ? 0 : 1;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "database-url": { type: "string" },
      schema: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
