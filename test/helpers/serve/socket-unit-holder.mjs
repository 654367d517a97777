// The service side of a systemd-style socket unit for tests (test/helpers/serve/socket-unit.ts).
// Run by `systemd-socket-activate`, which opened the listening socket and passed it as fd 3 with
// LISTEN_FDS/LISTEN_FDNAMES. This process never listens on it; it only keeps it open across the
// service's restarts (as systemd's socket unit does) and starts the service on request, passing the
// socket on as fd 3 and LISTEN_PID set to the service's own pid (a shell sets it, then execs).
//
// Control: newline-delimited JSON over the Unix socket named by argv[2].
//   → {"cmd":"start","argv":[...],"env":{...},"stdout":path,"stderr":path}
//   ← {"event":"started","pid":n} / {"event":"exit","code":n|null,"signal":s|null} / {"event":"error","message":s}
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { connect } from 'node:net';

const control = connect(process.argv[2]);
const send = (message) => control.write(`${JSON.stringify(message)}\n`);
let buffered = '';
control.on('data', (chunk) => {
  buffered += chunk.toString();
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (line.trim() !== '') start(JSON.parse(line));
  }
});
// The harness went away (also when its test process died): so does the unit, and the service it
// started is stopped rather than left behind.
let current;
const leave = (code) => {
  if (current !== undefined && current.exitCode === null && current.signalCode === null) current.kill('SIGKILL');
  process.exit(code);
};
control.on('close', () => leave(0));
control.on('error', () => leave(1));

function start({ argv, env, stdout, stderr }) {
  const out = openSync(stdout, 'a');
  const err = openSync(stderr, 'a');
  try {
    const child = (current = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', 'sh', ...argv], {
      env: { ...env, LISTEN_FDS: process.env.LISTEN_FDS, LISTEN_FDNAMES: process.env.LISTEN_FDNAMES },
      stdio: ['ignore', out, err, 3],
    }));
    child.on('spawn', () => send({ event: 'started', pid: child.pid }));
    child.on('error', (e) => send({ event: 'error', message: e.message }));
    child.on('exit', (code, signal) => send({ event: 'exit', code, signal }));
  } finally {
    closeSync(out);
    closeSync(err);
  }
}
