import { readFile } from 'node:fs/promises';

/**
 * CPU time of a child process, from Linux's `/proc/<pid>/stat` (ffmpeg is one process with threads:
 * its utime + stime cover every thread; Node's `process.cpuUsage()` only knows its own process).
 * The kernel reports these fields in USER_HZ ticks, which is 100 per second on every Linux
 * architecture Node runs on (`sysconf(_SC_CLK_TCK)`).
 */
export const USER_HZ = 100;

/**
 * utime + stime in seconds from the text of `/proc/<pid>/stat`. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the last `)`:
 * the first one there is field 3 (state), which puts utime (14) and stime (15) at offsets 11 and 12.
 */
export function cpuSecondsFromProcStat(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / USER_HZ;
}

/** CPU seconds `pid` has used so far; undefined when it is gone or this is not Linux. */
export async function readProcessCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    return cpuSecondsFromProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
