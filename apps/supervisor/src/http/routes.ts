/**
 * The routes of the KV HTTP API: each one a thin layer over one KvClient call
 * (DESIGN.md "The KvClient contract"), plus `/cluster` for the nodes' state.
 * Mutating routes go through {@link RequestDedup} when the request carries
 * a `Request-Id` (or `X-Request-Id`) header, so a retry is never applied twice.
 */
import type { Cluster, KvClient } from '@xraft/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestDedup } from './dedup.js';
import { errorBody, errorReply, HttpError, type Reply } from './errors.js';
import { appendBody, casBody, getQuery, listQuery, noQuery, putBody, type READ_MODES } from './schemas.js';
import { decodeValue, type Encoding, encodeValue } from './values.js';

/** KvApi is what the routes use of a {@link KvClient}. */
export type KvApi = Pick<KvClient, 'get' | 'put' | 'delete' | 'append' | 'cas' | 'list'>;

/** ClusterView is what `/cluster` reads of a {@link Cluster}. */
export type ClusterView = Pick<Cluster, 'ids' | 'state' | 'stats'>;

/** KvBackend is what the routes serve: a KV client and the cluster it talks to. */
export interface KvBackend {
  readonly kv: KvApi;
  readonly cluster: ClusterView;
}

/** DEFAULT_LIST_LIMIT is how many entries `GET /kv` returns when the query names no limit. */
export const DEFAULT_LIST_LIMIT = 1000;

/** MAX_REQUEST_ID_LENGTH bounds a `Request-Id` header (printable ASCII). */
export const MAX_REQUEST_ID_LENGTH = 200;

/** RouteContext is what {@link registerRoutes} needs besides the app. */
export interface RouteContext {
  /** The backend, or a throw (503) while the cluster is still starting. */
  readonly backend: () => KvBackend;
  readonly dedup: RequestDedup<Reply>;
  readonly maxBodyBytes: number;
}

/** ROUTES lists each path the API serves and its methods, for 405 answers and the 404 hint. */
const ROUTES: ReadonlyArray<{ readonly url: string; readonly methods: readonly string[] }> = [
  { url: '/kv/:key', methods: ['GET', 'PUT', 'DELETE'] },
  { url: '/kv/:key/cas', methods: ['POST'] },
  { url: '/kv/:key/append', methods: ['POST'] },
  { url: '/kv', methods: ['GET'] },
  { url: '/cluster', methods: ['GET'] },
];
const ALL_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'];

type KeyParams = { key: string };
type Body<F extends string> = { [K in F]: string } & { encoding?: Encoding };

/** registerRoutes adds every route of the API to `app`. */
export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const mutate = (req: FastifyRequest, res: FastifyReply, execute: (kv: KvApi) => Promise<Reply>) =>
    mutation(ctx, req, res, execute);

  app.get<{ Params: KeyParams; Querystring: { read?: (typeof READ_MODES)[number] } }>(
    '/kv/:key',
    { schema: { querystring: getQuery } },
    async (req, res) => {
      const { key } = req.params;
      const value = await ctx.backend().kv.get(key, req.query.read ? { read: req.query.read } : {});
      if (value === undefined) return send(res, notFound(key));
      return send(res, { status: 200, body: { key, ...encodeValue(value) } });
    },
  );

  app.put<{ Params: KeyParams; Body: Body<'value'> }>(
    '/kv/:key',
    { schema: { body: putBody, querystring: noQuery }, config: { usage: '{"value": "..."}' } },
    (req, res) =>
      mutate(req, res, async (kv) => {
        await kv.put(req.params.key, decodeValue('value', req.body.value, req.body.encoding));
        return { status: 204 };
      }),
  );

  app.delete<{ Params: KeyParams }>('/kv/:key', { schema: { querystring: noQuery } }, (req, res) =>
    mutate(req, res, async (kv) => ({ status: 200, body: { existed: await kv.delete(req.params.key) } })),
  );

  app.post<{ Params: KeyParams; Body: { expected: string | null; value: string; encoding?: Encoding } }>(
    '/kv/:key/cas',
    {
      schema: { body: casBody, querystring: noQuery },
      config: { usage: '{"expected": "..." or null, "value": "..."}' },
    },
    (req, res) =>
      mutate(req, res, async (kv) => {
        const { expected, value, encoding } = req.body;
        const swapped = await kv.cas(
          req.params.key,
          expected === null ? undefined : decodeValue('expected', expected, encoding),
          decodeValue('value', value, encoding),
        );
        return { status: 200, body: { swapped } };
      }),
  );

  app.post<{ Params: KeyParams; Body: Body<'suffix'> }>(
    '/kv/:key/append',
    { schema: { body: appendBody, querystring: noQuery }, config: { usage: '{"suffix": "..."}' } },
    (req, res) =>
      mutate(req, res, async (kv) => {
        await kv.append(req.params.key, decodeValue('suffix', req.body.suffix, req.body.encoding));
        return { status: 204 };
      }),
  );

  app.get<{ Querystring: { prefix?: string; limit?: string } }>(
    '/kv',
    { schema: { querystring: listQuery } },
    async (req, res) => {
      const limit = req.query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(req.query.limit);
      // One more than asked tells whether there are more.
      const pairs = await ctx.backend().kv.list(req.query.prefix ?? '', limit + 1);
      const entries = pairs.slice(0, limit).map((p) => ({ key: p.key, ...encodeValue(p.value) }));
      return send(res, { status: 200, body: { entries, more: pairs.length > limit } });
    },
  );

  app.get('/cluster', { schema: { querystring: noQuery } }, async (_req, res) =>
    send(res, { status: 200, body: clusterBody(ctx.backend().cluster) }),
  );

  // Known paths with another method: 405 with the methods that work.
  for (const route of ROUTES) {
    const allowed = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : route.methods;
    const others = ALL_METHODS.filter((m) => !allowed.includes(m));
    app.route({
      method: others,
      url: route.url,
      handler: async (req, res) =>
        send(res, {
          status: 405,
          body: errorBody(`${req.method} is not allowed on ${route.url}: use ${route.methods.join(', ')}`),
          headers: { allow: allowed.join(', ') },
        }),
    });
  }

  app.setNotFoundHandler(async (req, res) =>
    send(res, {
      status: 404,
      body: errorBody(
        `no route ${req.method} ${req.url.split('?')[0]}: the API serves ${ROUTES.map((r) => `${r.methods.join('|')} ${r.url}`).join(', ')}`,
      ),
    }),
  );

  app.setErrorHandler(async (err, req, res) => {
    const reply = errorReply(err, ctx.maxBodyBytes);
    const usage = (req.routeOptions.config as { usage?: string } | undefined)?.usage;
    if ((err as { validation?: unknown }).validation !== undefined && usage !== undefined) {
      return send(res, { ...reply, body: errorBody(`${(err as Error).message}: send ${usage}`) });
    }
    return send(res, reply);
  });
}

/**
 * mutation runs a write once per request id: without an id it just runs; with
 * one, a duplicate gets the first request's answer (header
 * `Idempotent-Replayed: true`), and an id reused for another request gets 422.
 */
async function mutation(
  ctx: RouteContext,
  req: FastifyRequest,
  res: FastifyReply,
  execute: (kv: KvApi) => Promise<Reply>,
): Promise<FastifyReply> {
  const run = async (): Promise<Reply> => {
    try {
      return await execute(ctx.backend().kv);
    } catch (err) {
      return errorReply(err, ctx.maxBodyBytes);
    }
  };
  const id = requestId(req);
  if (id === undefined) return send(res, await run());
  const fingerprint = `${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`;
  const outcome = await ctx.dedup.run(id, fingerprint, run);
  if (outcome.kind === 'conflict') {
    const before = outcome.previous.split('\n', 1)[0]!;
    const same = before === fingerprint.split('\n', 1)[0];
    return send(res, {
      status: 422,
      body: errorBody(
        `Request-Id ${JSON.stringify(id)} was already used for ${same ? `${before} with another body` : before}: use a new id for a new request`,
      ),
    });
  }
  return send(res, {
    ...outcome.value,
    headers: {
      ...outcome.value.headers,
      'request-id': id,
      ...(outcome.replayed ? { 'idempotent-replayed': 'true' } : {}),
    },
  });
}

/** requestId is the request's `Request-Id` (or `X-Request-Id`) header; undefined if none; 400 if malformed. */
function requestId(req: FastifyRequest): string | undefined {
  const raw = req.headers['request-id'] ?? req.headers['x-request-id'];
  if (raw === undefined) return undefined;
  const id = Array.isArray(raw) ? raw[0] : raw;
  if (
    id === undefined ||
    id.length === 0 ||
    id.length > MAX_REQUEST_ID_LENGTH ||
    !/^[\x21-\x7e]+$/.test(id) ||
    Array.isArray(raw)
  ) {
    throw new HttpError(
      400,
      `the Request-Id header must be one token of 1 to ${MAX_REQUEST_ID_LENGTH} printable ASCII characters (e.g. a UUID)`,
    );
  }
  return id;
}

function notFound(key: string): Reply {
  return { status: 404, body: errorBody(`key ${JSON.stringify(key)} not found`) };
}

/** send writes `reply` on `res`: status, headers, and the JSON body (none for 204). */
function send(res: FastifyReply, reply: Reply): FastifyReply {
  res.code(reply.status);
  if (reply.headers) res.headers(reply.headers);
  if (reply.body === undefined) return res.send();
  return res.type('application/json; charset=utf-8').send(JSON.stringify(reply.body));
}

/** clusterBody is `GET /cluster`: the leader of the highest term, each node's state, and traffic counters. */
function clusterBody(cluster: ClusterView) {
  const nodes = cluster.ids.map((id) => {
    const s = cluster.state(id);
    return s.alive
      ? {
          id,
          up: true,
          role: s.role,
          term: s.term,
          leader: s.leaderId,
          commitIndex: s.commitIndex,
          lastApplied: s.lastApplied,
          lastLogIndex: s.lastLogIndex,
          worker: s.worker,
        }
      : { id, up: false, worker: s.worker };
  });
  let leader: { id: string; term: number } | null = null;
  for (const n of nodes) {
    if (n.up && n.role === 'leader' && (leader === null || n.term! > leader.term))
      leader = { id: n.id, term: n.term! };
  }
  return { leader: leader?.id ?? null, term: leader?.term ?? null, nodes, stats: cluster.stats() };
}
