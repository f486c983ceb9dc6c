import { describe, expect, test } from 'vitest';
import {
  checkHistory,
  explanationTimeline,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
  renderTimeline,
} from '../src/index.js';
import { get, ok, put, unknown } from './support.js';

const MS = 1_000_000; // these histories use milliseconds, in ns

/** A stale read on key "x" among healthy traffic on key "y". */
function staleRead(): Operation<KvInput, KvOutput>[] {
  return [
    ok(1, put('x', 'a'), undefined, 0, 1 * MS),
    ok(2, put('y', 'q'), undefined, 0, 1 * MS),
    ok(1, put('x', 'b'), undefined, 2 * MS, 3 * MS),
    unknown(3, put('x', '<&>'), 2.5 * MS),
    ok(2, get('x'), 'a', 4 * MS, 5 * MS),
    ok(2, get('y'), 'q', 6 * MS, 7 * MS),
    ok(1, get('x'), 'b', 6 * MS, 8 * MS),
  ];
}

describe('explanations', () => {
  test('name the key, the longest prefix, and what cannot come next, with relative times', () => {
    const r = checkHistory(kvModel, staleRead());
    expect(r.result).toBe('illegal');
    const e = r.explanation!;
    expect(e.key).toBe('x');
    expect(e.text).toBe(e.lines.join('\n'));
    expect(e.lines[0]).toBe(
      'not linearizable on key "x": 5 operations; the longest linearizable prefix has 2',
    );
    expect(e.lines[1]).toMatch(/^ {5}1\. client 1 {2}put\("x", "a"\) +0\.000 ms \.\. 1\.000 ms$/);
    expect(e.lines[2]).toMatch(/^ {5}2\. client 1 {2}put\("x", "b"\) +2\.000 ms \.\. 3\.000 ms$/);
    expect(e.lines[3]).toBe('  state after the prefix: "b"');
    expect(e.lines[4]).toBe('none of these can be linearized next:');
    expect(e.lines[5]).toMatch(
      /client 2 {2}get\("x"\) -> "a" +4\.000 ms \.\. 5\.000 ms {2}<- illegal in state "b"$/,
    );
    expect(e.lines[6]).toBe('  (1 operation of unknown outcome may also take effect here, or never)');
    expect(e.lines[7]).toMatch(
      /1 more operation, called after client 2's get\("x"\) -> "a" returned at 5\.000 ms, must come later/,
    );
    expect(e.prefix.map((i) => e.labels[i])).toEqual(['put("x", "a")', 'put("x", "b")']);
    expect(e.stuck.map((i) => e.labels[i])).toEqual(['get("x") -> "a"']);
  });

  test('long prefixes show only their end', () => {
    const ops: Operation<KvInput, KvOutput>[] = [];
    for (let k = 0; k < 30; k++) ops.push(ok(1, put('x', `v${k}`), undefined, 10 * k, 10 * k + 5));
    ops.push(ok(2, get('x'), 'v3', 400, 410));
    const e = checkHistory(kvModel, ops).explanation!;
    expect(e.prefix).toHaveLength(30);
    expect(e.lines[1]).toBe('  ... 18 earlier operations');
    expect(e.lines[2]).toMatch(/^ {4}19\. client 1/);
  });

  test('an unpartitioned model names no key', async () => {
    const { registerModel } = await import('../src/index.js');
    const e = checkHistory(registerModel, [
      ok(1, { op: 'write', value: 1 }, undefined, 0, 10),
      ok(2, { op: 'read' }, null, 20, 30),
    ]).explanation!;
    expect(e.lines[0]).toBe('not linearizable: 2 operations; the longest linearizable prefix has 1');
    expect(e.lines).toContain('  state after the prefix: 1');
  });
});

describe('timelines', () => {
  test('draw one lane per client, open-ended unknown operations, and the explanation highlighted', () => {
    const e = checkHistory(kvModel, staleRead()).explanation!;
    const svg = explanationTimeline(e);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('not linearizable: key &#34;x&#34;');
    for (const c of [1, 2, 3]) expect(svg).toContain(`>client ${c}</text>`);
    expect(svg.match(/<g class="op stuck">/g)).toHaveLength(1);
    expect(svg.match(/<g class="op lin">/g)).toHaveLength(2);
    expect(svg.match(/<g class="op unknown">/g)).toHaveLength(1);
    expect(svg).toContain('class="edge"'); // the open-ended outline
    expect(svg).toContain('#1 put(&#34;x&#34;, &#34;a&#34;)');
    // Values are escaped: the document stays well-formed.
    expect(svg).toContain('&#60;&#38;&#62;');
    expect(svg).not.toMatch(/<&>/);
  });

  test('render any history with default labels', () => {
    const svg = renderTimeline(staleRead(), { title: 'raw', highlight: [0] });
    expect(svg).toContain('>raw</text>');
    expect(svg).toContain('{&#34;op&#34;:&#34;put&#34;');
    expect(svg.match(/<g class="op stuck">/g)).toHaveLength(1);
    expect(renderTimeline([])).toContain('</svg>');
  });
});
