/** What a query answers: its rows (and, for writes, how many rows it touched). */
export interface QueryResultLike<Row> {
  rows: Row[];
  rowCount: number | null;
}

/**
 * One statement to send. `query_timeout` is node-postgres' client-side read
 * timeout for this statement (it closes the connection when it fires).
 */
export interface QueryConfigLike {
  text: string;
  values?: unknown[];
  query_timeout?: number;
}

/**
 * The one call this package makes on a database handle: `pg.Pool`, `pg.Client`
 * and `pg.PoolClient` all fit, as does any wrapper with the same shape.
 */
export interface Queryable {
  // Method syntax on purpose: pg's overloads are then accepted as they are.
  query<Row = Record<string, unknown>>(config: QueryConfigLike): Promise<QueryResultLike<Row>>;
}

/** A connection checked out of a pool, for the few multi-statement transactions. */
export interface PoolClientLike extends Queryable {
  /** Returns it to the pool; with an error, the pool closes it instead. */
  release(error?: Error | boolean): void;
  /** node-postgres clients emit `error` when their connection dies while checked out. */
  on?(event: "error", listener: (error: Error) => void): unknown;
  removeListener?(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * What the backend needs from the caller's pool: `pg.Pool` fits. Single
 * statements go through `query()`; transactions and the heartbeat's own
 * connection through `connect()`.
 */
export interface PoolLike extends Queryable {
  connect(): Promise<PoolClientLike>;
  /** `pg.Pool` emits `error` for idle connections that die; the backend listens so they cannot crash the process. */
  on?(event: "error", listener: (error: Error) => void): unknown;
  removeListener?(event: "error", listener: (error: Error) => void): unknown;
}
