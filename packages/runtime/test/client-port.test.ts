import { MessageChannel } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { ClientPorts, serveClientPort } from '../src/client-port.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** serve answers each request with its text reversed, and fails requests starting with '!'. */
function connect(warnings: string[] = []) {
  const { port1, port2 } = new MessageChannel();
  serveClientPort(
    port2,
    async (request) => {
      const s = text(request);
      if (s.startsWith('!')) throw new Error(`refused ${s}`);
      return bytes([...s].reverse().join(''));
    },
    (m) => warnings.push(m),
  );
  const ports = new ClientPorts(['n1']);
  ports.attach('n1', port1);
  return { ports, port1, port2 };
}

test('requests of one turn go as one frame, small or large, and each gets its own answer or error', async () => {
  const { ports, port2 } = connect();
  try {
    // One request (a small, cloned frame), then 500 of assorted sizes in one turn (a large, transferred one).
    expect(text(await ports.send('n1', bytes('abc'), 1000))).toBe('cba');
    const requests = Array.from({ length: 500 }, (_, i) =>
      i % 7 === 3 ? `!${i}` : `r${i}-${'x'.repeat(i % 50)}`,
    );
    const answers = await Promise.allSettled(requests.map((r) => ports.send('n1', bytes(r), 1000)));
    answers.forEach((a, i) => {
      const r = requests[i]!;
      if (r.startsWith('!')) {
        expect(a.status).toBe('rejected');
        expect((a as PromiseRejectedResult).reason.message).toBe(`n1: refused ${r}`);
      } else {
        expect(a.status).toBe('fulfilled');
        expect(text((a as PromiseFulfilledResult<Uint8Array>).value)).toBe([...r].reverse().join(''));
      }
    });
    // Empty requests and answers too.
    expect(text(await ports.send('n1', new Uint8Array(0), 1000))).toBe('');
  } finally {
    ports.close();
    port2.close();
  }
});

test('a malformed frame is dropped with one warning; the port keeps serving', async () => {
  const warnings: string[] = [];
  const { ports, port1, port2 } = connect(warnings);
  try {
    const bad = new Float64Array([3, 1, 2]); // Claims 3 messages, carries 2 ids and no ends.
    port1.postMessage(new Uint8Array(bad.buffer));
    port1.postMessage({ frame: 'no', errors: [] });
    port1.postMessage(new Uint8Array(5));
    expect(text(await ports.send('n1', bytes('ok'), 1000))).toBe('ko');
    expect(warnings).toEqual([
      'dropped a malformed client request frame (further ones are dropped silently)',
    ]);
  } finally {
    ports.close();
    port2.close();
  }
});
