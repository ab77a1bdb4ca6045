// One keep-alive HTTP/1.1 connection over TLS, one request at a time (the API
// server does not pipeline to webhooks), with the least possible client-side
// work: the request is written as prepared bytes and the response is framed by
// Content-Length or chunked encoding. A benchmark's client must cost far less
// than the server it measures; node:https's client costs about as much.
import { connect, type TLSSocket } from 'node:tls';

export interface Http1Response {
  status: number;
  body: Buffer;
}

export interface TlsTarget {
  host: string;
  port: number;
  /** PEM of the CA that signed the server's certificate. */
  ca: string | Buffer;
  /** The name the certificate must carry, when it is not `host` (a certificate for `localhost` reached at 127.0.0.1). */
  servername?: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class Http1Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: Http1Response) => void; reject: (e: Error) => void } | undefined;
  private closedWith: Error | undefined;

  private constructor(private readonly socket: TLSSocket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    const fail = (e: Error): void => {
      this.closedWith ??= e;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  /** Opens the connection and completes the TLS handshake. */
  static open(target: TlsTarget): Promise<Http1Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port, ca: target.ca, servername: target.servername ?? (/^[\d.]+$/.test(target.host) ? undefined : target.host) }, () => {
        socket.off('error', reject);
        resolve(new Http1Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  get usable(): boolean {
    return this.closedWith === undefined;
  }

  /** Writes a complete request (head and body) and resolves with the response. */
  send(request: Buffer): Promise<Http1Response> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    if (!this.pending) return;
    const headEnd = this.buffered.indexOf(HEADER_END);
    if (headEnd < 0) return;
    const head = this.buffered.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const bodyStart = headEnd + HEADER_END.length;
    let body: Buffer;
    let consumed: number;
    if (lengthMatch) {
      const length = Number(lengthMatch[1]);
      if (this.buffered.length < bodyStart + length) return;
      body = this.buffered.subarray(bodyStart, bodyStart + length);
      consumed = bodyStart + length;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const chunks: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = this.buffered.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffered.toString('latin1', at, lineEnd), 16);
        if (this.buffered.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        chunks.push(this.buffered.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      this.closedWith = new Error(`a response without Content-Length or chunked encoding cannot be framed: ${head.split('\r\n')[0]}`);
      this.pending.reject(this.closedWith);
      this.pending = undefined;
      this.socket.destroy();
      return;
    }
    this.buffered = this.buffered.subarray(consumed);
    const p = this.pending;
    this.pending = undefined;
    p.resolve({ status, body: Buffer.from(body) });
  }
}

/** The bytes of a POST request, prepared once and written as they are. */
export function postRequest(host: string, port: number, path: string, body: Buffer): Buffer {
  const head =
    `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: kube-apiserver-admission\r\n` +
    `Accept: application/json, */*\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
