/**
 * The local inspector server: an HTTP page and a WebSocket on 127.0.0.1 that
 * carry a cluster's inspection events to the Stately inspector in a browser.
 * The page embeds the inspector (https://stately.ai/inspect) and relays each
 * event from the WebSocket into it; any other WebSocket client (a script, a
 * test, the `@statelyai/inspect` receiver) gets the same JSON events.
 * The last events are kept, so a page opened late still draws every node.
 */
import { createServer, type Server } from 'node:http';
import { createInspector } from '@statelyai/inspect';
import { WebSocket, WebSocketServer } from 'ws';
import type { InspectorLike } from './inspection.js';

/** InspectorServerOptions configures {@link startInspectorServer}. */
export interface InspectorServerOptions {
  /** TCP port (default 8080; 0 picks a free one). */
  readonly port?: number;
  /** Interface to listen on (default 127.0.0.1: the events show the cluster's state). */
  readonly host?: string;
  /** The inspector page the bridge embeds (default https://stately.ai/inspect). */
  readonly inspectorUrl?: string;
  /** How many recent events a newly connected client is sent first (default 2000). */
  readonly replay?: number;
}

/** InspectorServer is a running inspector server. */
export interface InspectorServer {
  /** The page to open in a browser. */
  readonly url: string;
  /** The WebSocket that streams the events as JSON. */
  readonly wsUrl: string;
  /** The inspector to forward events to. */
  readonly inspector: InspectorLike;
  /** close stops serving and disconnects every client. */
  close(): Promise<void>;
}

/** PortInUseError: the inspector server's port is taken. */
export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`port ${port} on ${host} is in use: choose another port (or stop what listens there)`);
    this.name = 'PortInUseError';
  }
}

/** startInspectorServer listens on `host:port`; it rejects with {@link PortInUseError} when the port is taken. */
export async function startInspectorServer(options: InspectorServerOptions = {}): Promise<InspectorServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`inspector port must be an integer from 0 to 65535, got ${port}`);
  }
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect';
  const replay = options.replay ?? 2000;
  const recent: string[] = [];

  const http = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/' && req.url !== '/index.html')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: open / for the inspector\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(bridgePage(inspectorUrl));
  });
  await listen(http, host, port);
  // Made once listening: the WebSocket server re-emits the HTTP server's errors, and a failed listen is ours.
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => {
    for (const message of recent) ws.send(message);
  });
  const address = http.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;

  const inspector = createInspector(
    {
      send(event) {
        const message = JSON.stringify(event);
        recent.push(message);
        if (recent.length > replay) recent.splice(0, recent.length - replay);
        for (const client of wss.clients) {
          if (client.readyState === WebSocket.OPEN) client.send(message);
        }
      },
    },
    { autoStart: true },
  );

  return {
    url: `http://${host}:${bound}/`,
    wsUrl: `ws://${host}:${bound}/`,
    inspector: inspector as unknown as InspectorLike,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(host, port) : err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** bridgePage embeds the inspector and relays the WebSocket's events into it once it says it is connected. */
function bridgePage(inspectorUrl: string): string {
  const src = JSON.stringify(inspectorUrl);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>xraft: statechart inspector</title>
<style>html,body{margin:0;height:100%}iframe{border:0;width:100%;height:100%}</style></head>
<body>
<iframe id="inspector" title="Stately inspector"></iframe>
<script>
  const frame = document.getElementById('inspector');
  frame.src = ${src};
  const pending = [];
  let ready = false;
  addEventListener('message', (e) => {
    if (e.data && e.data.type === '@statelyai.connected' && !ready) {
      ready = true;
      for (const event of pending.splice(0)) frame.contentWindow.postMessage(event, '*');
    }
  });
  const ws = new WebSocket('ws://' + location.host + '/');
  ws.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (ready) frame.contentWindow.postMessage(event, '*');
    else pending.push(event);
  };
</script>
</body>
</html>
`;
}
