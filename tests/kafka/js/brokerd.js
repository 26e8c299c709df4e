// Test support for the kafkajs tests: a real brokerd (BROKERD_BIN) on free loopback ports with its
// own data directory, and a deadline-bounded wait for a condition another process decides.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Starts brokerd with --kafka-listen on a free port; resolves to { kafka, grpc, stop() } once it
// printed its "listening on" line (after the Kafka listener's line).
function startBrokerd(extraArgs = []) {
  const binary = process.env.BROKERD_BIN;
  if (!binary) throw new Error('BROKERD_BIN is not set (ctest sets it to the brokerd target)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkajs-test-'));
  const child = spawn(binary, ['--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0',
                               '--kafka-listen', '127.0.0.1:0', ...extraArgs],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brokerd did not start in 30 s:\n${output}`)),
                             30000);
    const onData = (chunk) => {
      output += chunk;
      const kafka = /brokerd: kafka on (\S+)/.exec(output);
      const grpc = /brokerd: listening on (\S+)/.exec(output);
      if (!kafka || !grpc) return;
      clearTimeout(timer);
      resolve({
        kafka: kafka[1],
        grpc: grpc[1],
        output: () => output,
        async stop() {
          child.kill('SIGTERM');
          const { code } = await exited;
          fs.rmSync(dir, { recursive: true, force: true });
          if (code !== 0) throw new Error(`brokerd exited with ${code}:\n${output}`);
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code }) => reject(new Error(`brokerd exited (${code}) at start:\n${output}`)));
  });
}

// Resolves once `condition()` (sync or async) is true; rejects naming `what` after `timeoutMs`.
// For state another process decides (brokerd, kafkajs' background fetches): checks at 1 ms,
// doubling to 50 ms.
async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 50);
  }
}

module.exports = { startBrokerd, waitFor };
