import { writevSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/**
 * fsyncDir makes a directory's entries durable: a file created, renamed or
 * deleted in `dir` survives a crash only once this resolves.
 */
export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory to sync it; NTFS journals its directory entries itself.
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** IOV_MAX on Linux: writev takes at most this many buffers per call. */
const IOV_MAX = 1024;

/** writeAllAt writes `bufs` back to back from `position`, as few writev calls as the OS allows; returns the bytes written. */
export async function writeAllAt(
  fh: FileHandle,
  bufs: readonly Uint8Array[],
  position: number,
): Promise<number> {
  let at = position;
  for (let i = 0; i < bufs.length; i += IOV_MAX) {
    let part = bufs.slice(i, i + IOV_MAX);
    let want = part.reduce((n, b) => n + b.length, 0);
    while (want > 0) {
      const { bytesWritten } = await fh.writev(part, at);
      at += bytesWritten;
      want -= bytesWritten;
      if (want > 0) part = skip(part, bytesWritten); // a short write: go on from where it stopped
    }
  }
  return at - position;
}

/** writeAllAtSync is {@link writeAllAt} with blocking `writev` calls on file descriptor `fd`. */
export function writeAllAtSync(fd: number, bufs: readonly Uint8Array[], position: number): number {
  let at = position;
  for (let i = 0; i < bufs.length; i += IOV_MAX) {
    let part = bufs.slice(i, i + IOV_MAX);
    let want = part.reduce((n, b) => n + b.length, 0);
    while (want > 0) {
      const written = writevSync(fd, part, at);
      at += written;
      want -= written;
      if (want > 0) part = skip(part, written);
    }
  }
  return at - position;
}

function skip(bufs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let left = n;
  for (const b of bufs) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
