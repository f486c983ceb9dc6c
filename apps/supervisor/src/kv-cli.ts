/**
 * `xraft kv`: the KV store of a running `xraft start` from the shell, over its
 * HTTP API. Plain output by default (a value on stdout), the server's JSON with
 * `--json`. Exit codes: 0 ok; 1 key not found, nothing deleted or cas not
 * swapped; 2 usage error (also a request the server refused as malformed);
 * 3 server or connection error.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_HTTP_PORT } from './http/defaults.js';

/** DEFAULT_URL is where `xraft kv` looks for the app. */
export const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_HTTP_PORT}`;

/** EXIT are the exit codes of `xraft kv`. */
export const EXIT = { ok: 0, absent: 1, usage: 2, server: 3 } as const;

/** CommonOptions are the options of every `xraft kv` subcommand. */
interface CommonOptions {
  url: string;
  json: boolean;
  timeout: number;
  requestId?: string;
}

/** KvCliError ends a subcommand with an exit code and a message for stderr. */
class KvCliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

/** addKvCommand adds `xraft kv get|put|append|del|cas|list` to `program`. */
export function addKvCommand(program: Command): void {
  const kv = program
    .command('kv')
    .description('read and write the KV store of a running `xraft start` over its HTTP API')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok; 1 key not found, nothing deleted, or cas not swapped; 2 usage error; 3 server or connection error.',
    );

  common(kv.command('get <key>').description('print the value of <key>'))
    .addOption(
      new Option('--read <mode>', 'read mode (default linearizable)').choices([
        'linearizable',
        'lease',
        'stale',
      ]),
    )
    .action((key: string, o: CommonOptions & { read?: string }) =>
      act(o, async () => {
        const a = await call(o, 'GET', `/kv/${enc(key)}${o.read ? `?read=${o.read}` : ''}`);
        if (a.status === 404) throw new KvCliError(EXIT.absent, `key ${JSON.stringify(key)} not found`);
        if (o.json) return json(a.body);
        const { value, encoding } = a.body as { value: string; encoding?: string };
        if (encoding === 'base64') process.stdout.write(Buffer.from(value, 'base64'));
        else process.stdout.write(`${value}\n`);
      }),
    );

  common(mutating(kv.command('put <key> <value>').description('set <key> to <value>'))).action(
    (key: string, value: string, o: CommonOptions) =>
      act(o, async () => {
        await call(o, 'PUT', `/kv/${enc(key)}`, { value });
        o.json ? json({ ok: true }) : line('OK');
      }),
  );

  common(
    mutating(kv.command('append <key> <suffix>').description('append <suffix> to the value of <key>')),
  ).action((key: string, suffix: string, o: CommonOptions) =>
    act(o, async () => {
      await call(o, 'POST', `/kv/${enc(key)}/append`, { suffix });
      o.json ? json({ ok: true }) : line('OK');
    }),
  );

  common(
    mutating(kv.command('del <key>').alias('delete').description('delete <key> (exit 1 if it was absent)')),
  ).action((key: string, o: CommonOptions) =>
    act(o, async () => {
      const a = await call(o, 'DELETE', `/kv/${enc(key)}`);
      const existed = a.body?.existed === true;
      o.json ? json(a.body) : line(existed ? 'deleted' : 'not found');
      return existed ? EXIT.ok : EXIT.absent;
    }),
  );

  common(
    mutating(
      kv
        .command('cas <key> <values...>')
        .usage('<key> <expected> <value> | <key> --absent <value>')
        .description(
          'set <key> to <value> if it holds <expected> (--absent: if it is absent); exit 1 if not swapped',
        ),
    ),
  )
    .option('--absent', 'swap only if the key is absent', false)
    .action((key: string, values: string[], o: CommonOptions & { absent: boolean }, cmd: Command) => {
      if (values.length !== (o.absent ? 1 : 2)) {
        cmd.error(
          o.absent
            ? 'error: with --absent, cas takes <key> <value>'
            : 'error: cas takes <key> <expected> <value> (or <key> --absent <value>)',
          { exitCode: EXIT.usage },
        );
      }
      const [expected, value] = o.absent ? [null, values[0]!] : [values[0]!, values[1]!];
      return act(o, async () => {
        const a = await call(o, 'POST', `/kv/${enc(key)}/cas`, { expected, value });
        const swapped = a.body?.swapped === true;
        o.json ? json(a.body) : line(swapped ? 'swapped' : 'not swapped');
        return swapped ? EXIT.ok : EXIT.absent;
      });
    });

  common(
    kv
      .command('list [prefix]')
      .description('print the keys starting with [prefix] and their values, one per line'),
  )
    .addOption(new Option('--limit <n>', 'at most this many entries').default(1000).argParser(count))
    .action((prefix: string | undefined, o: CommonOptions & { limit: number }) =>
      act(o, async () => {
        const query = new URLSearchParams({ prefix: prefix ?? '', limit: String(o.limit) });
        const a = await call(o, 'GET', `/kv?${query}`);
        if (o.json) return json(a.body);
        const body = a.body as {
          entries: Array<{ key: string; value: string; encoding?: string }>;
          more: boolean;
        };
        for (const e of body.entries)
          line(`${e.key}\t${e.encoding === 'base64' ? `base64:${e.value}` : e.value}`);
        if (body.more) process.stderr.write(`(more entries: raise --limit)\n`);
      }),
    );
}

function common(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'the app to talk to', DEFAULT_URL)
    .option('--json', "print the server's JSON answer", false)
    .addOption(
      new Option('--timeout <s>', 'give up on the server after this long').default(15).argParser(seconds),
    );
}

function mutating(cmd: Command): Command {
  return cmd.option(
    '--request-id <id>',
    'send this Request-Id: rerunning with the same id never applies the write twice',
  );
}

/** act runs a subcommand body and sets the exit code: what it returns, or the code of the error it threw. */
async function act(o: CommonOptions, body: () => Promise<unknown>): Promise<void> {
  try {
    checkUrl(o.url);
    const code = await body();
    process.exitCode = typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    const e = err instanceof KvCliError ? err : new KvCliError(EXIT.server, (err as Error).message);
    process.stderr.write(`xraft kv: ${e.message}\n`);
    process.exitCode = e.exitCode;
  }
}

/**
 * call makes one request to the app: its status and JSON body for 2xx and 404;
 * a KvCliError for anything else (4xx: usage, 5xx and no answer: server).
 */
async function call(o: CommonOptions, method: string, path: string, body?: unknown): Promise<Answer> {
  const base = o.url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(o.requestId === undefined ? {} : { 'request-id': o.requestId }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(o.timeout * 1000),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new KvCliError(
        EXIT.server,
        `${base} did not answer within ${o.timeout} s${method === 'GET' ? '' : '; the write may or may not have been applied'}`,
      );
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new KvCliError(EXIT.server, `no xraft app at ${base}: start one with \`xraft start\` (${code})`);
  }
  const text = await res.text();
  let parsed: Record<string, unknown> | null = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new KvCliError(
        EXIT.server,
        `the server at ${base} did not answer like an xraft app (HTTP ${res.status}, not JSON): is --url right?`,
      );
    }
  }
  if (res.ok || res.status === 404) {
    if (res.status === 404 && typeof parsed?.error !== 'string') {
      throw new KvCliError(
        EXIT.server,
        `the server at ${base} did not answer like an xraft app: is --url right?`,
      );
    }
    return { status: res.status, body: parsed };
  }
  const message = typeof parsed?.error === 'string' ? parsed.error : `HTTP ${res.status}`;
  const retry = res.headers.get('retry-after');
  throw new KvCliError(
    res.status >= 500 ? EXIT.server : EXIT.usage,
    `${message}${retry === null ? '' : ` (the server suggests retrying in ${retry} s)`}`,
  );
}

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KvCliError(EXIT.usage, `--url ${JSON.stringify(url)} is not a URL: use e.g. ${DEFAULT_URL}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new KvCliError(EXIT.usage, `--url must be an http:// URL, got ${JSON.stringify(url)}`);
  }
}

function enc(key: string): string {
  return encodeURIComponent(key);
}

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

function json(value: unknown): void {
  line(JSON.stringify(value));
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}
