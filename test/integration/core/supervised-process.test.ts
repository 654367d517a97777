/**
 * The supervised-process primitive with real processes. Its output streams keep what the child
 * wrote, and their end, until a consumer reads them: Node resumes (and so drains) a child's own
 * stdio pipes when it exits, which dropped both when the consumer attached after the exit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { LineRing, SupervisedProcess } from '../../../src/core/supervised-process.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('SupervisedProcess outputs', () => {
  it('keep the bytes and the end of a process that exited before anyone read them', async () => {
    const proc = new SupervisedProcess({
      command: 'ffmpeg',
      args: [
        '-hide_banner', '-loglevel', 'error', '-nostdin',
        '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=0.5',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5',
        '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof+frag_keyframe', 'pipe:3',
      ],
      outputFds: [3],
    });
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    await sleep(100); // well after Node's own handling of the exit
    const bytes = await readAll(proc.outputs.get(3)!);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.includes(Buffer.from('moof'))).toBe(true);
  });

  it('keeps stdout the same way when it is asked for', async () => {
    const proc = new SupervisedProcess({ command: 'sh', args: ['-c', 'printf hello'], outputFds: [1] });
    await proc.exited;
    await sleep(100);
    expect((await readAll(proc.outputs.get(1)!)).toString()).toBe('hello');
  });
});

describe('SupervisedProcess stderr', () => {
  it('reports complete lines through the mapping and keeps the last ones', async () => {
    const seen: string[] = [];
    const proc = new SupervisedProcess({
      command: 'sh',
      args: ['-c', 'for i in 1 2 3 4; do echo "line $i secret" >&2; done; printf "partial secret" >&2; exit 3'],
      outputFds: [],
      stderrLines: 3,
      mapStderrLine: (line) => line.replace('secret', '[redacted]'),
      onStderrLine: (line) => seen.push(line),
    });
    const exit = await proc.closed;
    expect(exit.code).toBe(3);
    expect(seen).toEqual(['line 1 [redacted]', 'line 2 [redacted]', 'line 3 [redacted]', 'line 4 [redacted]']);
    expect(proc.stderrTail()).toEqual(['line 3 [redacted]', 'line 4 [redacted]', 'partial [redacted]']);
  });
});

describe('SupervisedProcess lifecycle', () => {
  it('reports a missing binary as BinaryMissing, once, without a pid', async () => {
    const proc = new SupervisedProcess({ command: '/nonexistent/ffmpeg', args: [], outputFds: [1] });
    expect(proc.pid).toBeUndefined();
    const exit = await proc.exited;
    expect(isLivepipeError(exit.error, ErrorCode.BinaryMissing)).toBe(true);
    expect(exit.error?.message).toBe('ffmpeg not found (/nonexistent/ffmpeg); install ffmpeg');
    await proc.stop(); // nothing to stop: resolves
  });

  it('stops the whole process group, with SIGKILL after the grace when SIGTERM is ignored', async () => {
    // The shell ignores SIGTERM and starts a child that does too: both must be gone after stop().
    const proc = new SupervisedProcess({ command: 'sh', args: ['-c', "trap '' TERM; sleep 30 & wait"], outputFds: [] });
    await sleep(200);
    const started = Date.now();
    const exit = await proc.stop(300);
    expect(exit.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(() => process.kill(-proc.pid!, 0)).toThrow();
    expect(await proc.stop()).toBe(exit); // idempotent
  });

  it('stops at SIGTERM without waiting for the grace', async () => {
    const proc = new SupervisedProcess({ command: 'sleep', args: ['30'], outputFds: [] });
    await sleep(100);
    const started = Date.now();
    const exit = await proc.stop(5_000);
    expect(exit.signal).toBe('SIGTERM');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(proc.hasExited).toBe(true);
  });
});

describe('LineRing', () => {
  it('joins lines split across chunks and drops blank ones', () => {
    const ring = new LineRing(5);
    expect(ring.push('a\r\nb')).toEqual(['a']);
    expect(ring.push('c\n\n  \nd\n')).toEqual(['bc', 'd']);
    expect(ring.snapshot()).toEqual(['a', 'bc', 'd']);
  });

  it('drops the lines its map turns into undefined, complete or partial', () => {
    const ring = new LineRing(2, (line) => (line.startsWith('noise') ? undefined : line));
    expect(ring.push('a\nnoise 1\nnoise 2\nb\nnoise')).toEqual(['a', 'b']);
    expect(ring.snapshot()).toEqual(['a', 'b']);
  });
});
