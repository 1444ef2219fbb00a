#!/usr/bin/env node
// Measures Node `jose` (WebCrypto) on the bank's JWE profile, as jwcrypto_bench.py does for
// Python: reads recipient.jwk, recipient.pub.jwk, payload.json and token.jwe (one of ours) from
// DIR, prints `OP node-jose OPS_PER_S` per operation (median over rounds), and leaves its own
// token in DIR/node-jose.jwe for `compare` to open.
//
//   jose_bench.mjs --dir DIR [--rounds N] [--seconds S] [--ops keygen,encrypt,decrypt]
//   jose_bench.mjs --dir DIR --serve
//
// With --serve it prints `ready` once set up, then answers each stdin line `OP SECONDS` with one
// line, the ops/s of OP measured for SECONDS: `compare` uses that to give it a turn in the same
// rotation as the other implementations.
//
// `jose` is the copy tests/interop installs (`npm ci --prefix tests/interop`), found from this
// file's own location, so the benches need no second npm install. INTEROP_DIR overrides it.

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const NAME = 'node-jose';
const BANK_ALG = 'ECDH-ES+A256KW';
const BANK_ENC = 'A256GCM';

const here = dirname(fileURLToPath(import.meta.url));
const interopDir = process.env.INTEROP_DIR ?? join(here, '..', '..', 'tests', 'interop');
// A bare `import 'jose'` would look beside this file; resolve it from tests/interop instead.
const requireFromInterop = createRequire(join(interopDir, 'package.json'));
const { CompactEncrypt, compactDecrypt, generateKeyPair, importJWK } = await import(
  pathToFileURL(requireFromInterop.resolve('jose')).href
);

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    rounds: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '0.25' },
    ops: { type: 'string', default: 'keygen,encrypt,decrypt' },
    serve: { type: 'boolean', default: false },
  },
});
if (args.dir === undefined) throw new Error('--dir is required');
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);

const readJson = (name) => JSON.parse(readFileSync(join(args.dir, name), 'utf8'));
// Imported once, as the Rust implementations parse their keys once before timing.
const privateKey = await importJWK({ ...readJson('recipient.jwk'), alg: BANK_ALG }, BANK_ALG);
const publicKey = await importJWK({ ...readJson('recipient.pub.jwk'), alg: BANK_ALG }, BANK_ALG);
const payload = readFileSync(join(args.dir, 'payload.json'));
const ours = readFileSync(join(args.dir, 'token.jwe'), 'ascii').trim();
const allow = { keyManagementAlgorithms: [BANK_ALG], contentEncryptionAlgorithms: [BANK_ENC] };

const jobs = {
  keygen: () => generateKeyPair(BANK_ALG, { crv: 'P-384' }),
  encrypt: () =>
    new CompactEncrypt(payload).setProtectedHeader({ alg: BANK_ALG, enc: BANK_ENC }).encrypt(publicKey),
  decrypt: async () => (await compactDecrypt(ours, privateKey, allow)).plaintext,
};

// Runs `job` (awaited, one at a time) for about `limit` seconds; returns operations per second.
async function measure(job, limit) {
  const start = process.hrtime.bigint();
  let count = 0;
  for (;;) {
    await job();
    count += 1;
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (elapsed >= limit) return count / elapsed;
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// Same work as ours: our token opens here, and ours must open this one (compare checks).
if (Buffer.compare(Buffer.from(await jobs.decrypt()), payload) !== 0) {
  throw new Error('jose decrypted our token to other bytes');
}
writeFileSync(join(args.dir, `${NAME}.jwe`), await jobs.encrypt());

if (args.serve) {
  console.log('ready');
  const warm = new Set();
  for await (const line of createInterface({ input: process.stdin })) {
    const [op, limit] = line.trim().split(/\s+/);
    const job = jobs[op];
    if (job === undefined) throw new Error(`unknown operation ${op}`);
    if (!warm.has(op)) {
      await measure(job, Math.min(Number(limit), 0.1)); // warm up the JIT
      warm.add(op);
    }
    console.log((await measure(job, Number(limit))).toFixed(3));
  }
} else {
  for (const op of args.ops.split(',')) {
    const job = jobs[op];
    if (job === undefined) throw new Error(`unknown operation ${op}`);
    await measure(job, Math.min(seconds, 0.1)); // warm up the JIT
    const rates = [];
    for (let i = 0; i < rounds; i += 1) rates.push(await measure(job, seconds));
    console.log(`${op} ${NAME} ${median(rates).toFixed(1)}`);
  }
}
