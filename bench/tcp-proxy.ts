/**
 * A TCP proxy on 127.0.0.1 that a benchmark can take down and bring back, to make a server look
 * unavailable without stopping it (the shared Elasticsearch must stay up for everyone else).
 * While down the port is closed, so a client's connections are refused, as with a stopped server.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #port = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  /** `http://127.0.0.1:<port>`; the port stays the same across `down` and `up`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens again (on a free port the first time, on the same port afterwards). */
  async up(): Promise<void> {
    if (this.#server !== undefined) return;

    const server = net.createServer((client) => this.#forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and cuts every open connection, as a server that dies does. */
  async down(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;

    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }

  #forward(client: net.Socket): void {
    const upstream = net.connect(this.#targetPort, this.#targetHost);
    this.#sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  }
}
