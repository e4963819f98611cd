/**
 * A small tmpfs for disk-full tests: the kernel answers ENOSPC exactly as on a full disk. Mounting needs root,
 * which the tests have in CI; elsewhere the error says so.
 *
 *   const disk = mountTmpfs(4 * 1024 * 1024);
 *   disk.fill(64 * 1024);   // leave only 64 KiB free
 *   disk.free();            // remove the filler again
 *   disk.unmount();
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Bytes still free on the file system. */
  available(): number;
  /** Writes a filler file so that only about `leaveBytes` stay free (no-op when less is free already). */
  fill(leaveBytes: number): void;
  /** Deletes the filler file. */
  free(): void;
  /** Unmounts and removes the mount point (idempotent). */
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not mount a ${sizeBytes}-byte tmpfs for a disk-full test (run the tests as root): ${(err as Error).message}`
    );
  }
  const filler = path.join(dir, 'filler');
  let mounted = true;
  const available = () => {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    available,
    fill(leaveBytes) {
      const extra = available() - leaveBytes;
      if (extra <= 0) {
        return;
      }
      const fd = fs.openSync(filler, 'a');
      try {
        const chunk = Buffer.alloc(Math.min(extra, 1024 * 1024));
        let left = extra;
        while (left > 0) {
          left -= fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    unmount() {
      if (mounted) {
        mounted = false;
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
