/**
 * The KV HTTP API server (fastify) on 127.0.0.1: JSON in and out, a body-size
 * limit, schema-checked input, and exactly-once retries by request id. It can
 * listen before the cluster exists (so a taken port fails before any worker
 * starts) and answers 503 until a cluster is attached.
 */
import type { Cluster, KvClientOptions } from '@xraft/runtime';
import { PortInUseError } from '@xraft/runtime';
import Fastify from 'fastify';
import { DEFAULT_DEDUP_CAPACITY, RequestDedup } from './dedup.js';
import { DEFAULT_HTTP_PORT, DEFAULT_MAX_BODY_BYTES } from './defaults.js';
import { HttpError, RETRY_AFTER_S, type Reply } from './errors.js';
import { type ClusterView, type KvApi, type KvBackend, registerRoutes } from './routes.js';
import { formatSchemaError } from './schemas.js';

export { DEFAULT_HTTP_PORT, DEFAULT_MAX_BODY_BYTES };

/** MAX_KEY_LENGTH is the longest key a URL path may carry (characters, after decoding: longer gets 404). */
export const MAX_KEY_LENGTH = 4096;

/** ClusterLike is a cluster the server can make its own KV client of. */
export type ClusterLike = ClusterView & Pick<Cluster, 'client'>;

/** KvHttpServerOptions configure {@link startKvHttpServer}. */
export interface KvHttpServerOptions {
  /** TCP port; 0 picks a free one. Default {@link DEFAULT_HTTP_PORT}. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Largest request body in bytes. Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** How many request ids are remembered for exactly-once retries. Default {@link DEFAULT_DEDUP_CAPACITY}. */
  readonly dedupCapacity?: number;
  /**
   * Options of the server's own KvClient (timeouts, leader search). `read=lease`
   * needs `leaseClockDriftMs`; it defaults to 0 here, so a lease read is only
   * taken as such on a cluster started with `maxClockDriftMs: 0`, and is
   * otherwise served as a ReadIndex read.
   */
  readonly client?: KvClientOptions;
  /** Serve this at once (else call {@link KvHttpServer.attach} later). */
  readonly cluster?: ClusterLike | KvBackend;
}

/** KvHttpServer is a running KV HTTP API server. */
export interface KvHttpServer {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  readonly port: number;
  /**
   * attach starts serving `target`: a cluster (the server makes, and at close
   * closes, its own KvClient) or a backend whose client stays the caller's.
   */
  attach(target: ClusterLike | KvBackend): void;
  /** close fails the requests in flight with 503 (their KvClient is closed), then stops listening. */
  close(): Promise<void>;
}

/**
 * startKvHttpServer listens on `host:port` and serves the KV API; it rejects
 * with PortInUseError when the port is taken.
 */
export async function startKvHttpServer(options: KvHttpServerOptions = {}): Promise<KvHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_HTTP_PORT;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`HTTP port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new RangeError(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  const dedup = new RequestDedup<Reply>(
    options.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY,
    (reply) => reply.notApplied !== true,
  );
  let backend: KvBackend | null = null;
  let ownedClient: { close(): Promise<void> } | null = null;

  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    routerOptions: { maxParamLength: MAX_KEY_LENGTH },
    schemaErrorFormatter: formatSchemaError,
    // While closing, requests still go to the routes, whose closed KvClient answers 503 in the API's own words.
    return503OnClosing: false,
    // Strict input: "5" is not a number and 5 is not a string; nothing is silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
  });
  // Bodies are JSON whatever their Content-Type says (so a bare `curl -d` works); an empty body is no body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new HttpError(400, `malformed JSON body: ${(err as Error).message}`), undefined);
    }
  });
  registerRoutes(app, {
    dedup,
    maxBodyBytes,
    backend: () => {
      if (backend === null) {
        throw new HttpError(503, 'the cluster is still starting: retry shortly', {
          'retry-after': String(RETRY_AFTER_S),
        });
      }
      return backend;
    },
  });

  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => {});
    throw (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new PortInUseError(host, port) : err;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;

  const server: KvHttpServer = {
    url: `http://${host}:${bound}`,
    port: bound,
    attach(target) {
      if (backend !== null) throw new Error('KvHttpServer.attach: a cluster is already attached');
      if ('kv' in target) {
        backend = target;
        return;
      }
      const kv = target.client({ leaseClockDriftMs: 0, ...options.client });
      ownedClient = kv;
      backend = { kv: kv satisfies KvApi, cluster: target };
    },
    async close() {
      await ownedClient?.close();
      await app.close();
    },
  };
  if (options.cluster !== undefined) server.attach(options.cluster);
  return server;
}
