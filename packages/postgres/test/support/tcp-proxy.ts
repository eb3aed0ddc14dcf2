import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * What the proxy does with the bytes of its connections:
 * - `pass`: forwards both ways (after `latencyMs`);
 * - `blackhole`: forwards nothing and reads nothing, like a partitioned
 *   network: bytes wait in the kernel and flow again on `pass`, unless a side
 *   gives up and closes first.
 */
export type ProxyMode = "pass" | "blackhole";

/** What {@link TcpProxy.dropReplyTo} reports. */
export interface DroppedReply {
  /** Whether a statement with the marker was sent. */
  triggered: boolean;
  /** The reply bytes thrown away on its connection. */
  bytes(): Buffer;
}

interface Link {
  client: Socket;
  server: Socket;
  /** Server→client bytes are read and thrown away (the replies are lost). */
  dropReplies: boolean;
  droppedReplies: Buffer[];
}

/**
 * A TCP proxy between the tests' clients and PostgreSQL, to partition a replica
 * (blackhole), lose the replies of statements that reached the server, reset
 * connections, or slow them down.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #armed: { marker: Buffer; dropped: DroppedReply; chunks: Buffer[] }[] = [];
  readonly port: number;
  #mode: ProxyMode = "pass";
  /** Added to every chunk, each way. */
  latencyMs = 0;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listens on a free loopback port and forwards to `targetPort`. */
  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.#accept(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === "object" && address ? address.port : 0);
    return proxy;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Switches every connection, open and future. */
  set mode(mode: ProxyMode) {
    this.#mode = mode;
    for (const link of this.#links) this.#apply(link);
  }

  /** Connections open now. */
  get connections(): number {
    return this.#links.size;
  }

  /**
   * From now on, the replies on the connections open now are read and thrown
   * away (what the server sends after a statement arrived: its result, and the
   * commit's confirmation). Connections opened later pass.
   */
  dropRepliesOnOpenConnections(): void {
    for (const link of this.#links) link.dropReplies = true;
  }

  /**
   * Loses the replies on the connection that next sends a statement whose text
   * contains `marker`: the statement reaches the server and runs (and commits),
   * but nothing the server answers reaches the client again on that connection.
   * @returns what happened: whether it triggered, and the bytes thrown away.
   */
  dropReplyTo(marker: string): DroppedReply {
    const chunks: Buffer[] = [];
    const dropped: DroppedReply = { triggered: false, bytes: () => Buffer.concat(chunks) };
    this.#armed.push({ marker: Buffer.from(marker), dropped, chunks });
    return dropped;
  }

  /** Every reply byte thrown away so far. */
  droppedReplyBytes(): Buffer {
    return Buffer.concat([...this.#links].flatMap((link) => link.droppedReplies));
  }

  /** Closes every open connection with a TCP reset, both sides. */
  resetAll(): void {
    for (const link of this.#links) {
      link.client.resetAndDestroy();
      link.server.resetAndDestroy();
    }
    this.#links.clear();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    const server = createConnection({ host, port });
    const link: Link = { client, server, dropReplies: false, droppedReplies: [] };
    this.#links.add(link);
    const end = () => {
      this.#links.delete(link);
      client.destroy();
      server.destroy();
    };
    client.on("error", end).on("close", end);
    server.on("error", end).on("close", end);
    // Listens before the forwarder, so the reply to the marked statement is already lost.
    client.on("data", (chunk: Buffer) => {
      const armed = this.#armed.find((candidate) => chunk.includes(candidate.marker));
      if (armed === undefined) return;
      this.#armed.splice(this.#armed.indexOf(armed), 1);
      armed.dropped.triggered = true;
      link.dropReplies = true;
      link.droppedReplies = armed.chunks;
    });
    this.#forward(
      client,
      server,
      () => false,
      () => {},
    );
    this.#forward(
      server,
      client,
      () => link.dropReplies,
      (chunk) => link.droppedReplies.push(chunk),
    );
    this.#apply(link);
  }

  #forward(
    from: Socket,
    to: Socket,
    dropping: () => boolean,
    onDrop: (chunk: Buffer) => void,
  ): void {
    let queue = Promise.resolve();
    from.on("data", (chunk: Buffer) => {
      if (dropping()) {
        onDrop(chunk);
        return;
      }
      const latency = this.latencyMs;
      if (latency <= 0) {
        to.write(chunk);
        return;
      }
      // Chunks keep their order behind the delay.
      queue = queue.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              if (!to.destroyed) to.write(chunk);
              resolve();
            }, latency),
          ),
      );
    });
  }

  #apply(link: Link): void {
    if (this.#mode === "blackhole") {
      link.client.pause();
      link.server.pause();
    } else {
      link.client.resume();
      link.server.resume();
    }
  }
}

/** Whether `bytes` hold a ReadyForQuery message: the server finished a statement (and its commit). */
export function containsReadyForQuery(bytes: Buffer): boolean {
  for (let index = bytes.indexOf(0x5a); index !== -1; index = bytes.indexOf(0x5a, index + 1)) {
    if (index + 5 < bytes.length && bytes.readUInt32BE(index + 1) === 5) return true;
  }
  return false;
}
