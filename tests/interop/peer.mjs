#!/usr/bin/env node
// Interop peer built on Node `jose` (v6, WebCrypto-based).
//
// Same commands and I/O conventions as `cargo run -p alliancepay-jose --example jose`:
//
//   peer.mjs keygen                          new private P-384 JWK on stdout
//   peer.mjs public                          private JWK on stdin -> public JWK on stdout
//   peer.mjs thumbprint FILE                 RFC 7638 SHA-256 thumbprint of the JWK in FILE
//   peer.mjs encrypt [--alg A] [--enc E] [--apu T] [--apv T] PUBLIC_JWK_FILE
//                                            plaintext on stdin -> compact JWE; --apu/--apv
//                                            put the UTF-8 bytes of T into the Concat KDF
//   peer.mjs decrypt [--allow-all] PRIVATE_JWK_FILE        compact JWE on stdin -> plaintext
//   peer.mjs version                         library name and version (an availability probe)
//
// Exit status 0 on success, 1 on failure, 2 on bad arguments; errors are one line on stderr.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  CompactEncrypt,
  calculateJwkThumbprint,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
} from 'jose';

const BANK_ALG = 'ECDH-ES+A256KW';
const BANK_ENC = 'A256GCM';
const ALGS = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'];
const ENCS = ['A128GCM', 'A192GCM', 'A256GCM'];
// Members of an EC JWK that only a private key has (RFC 7518 §6.2.2).
const PRIVATE_MEMBERS = ['d'];

class UsageError extends Error {}

const readJson = (bytes, where) => {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`${where}: ${e.message}`);
  }
};

const publicOf = (jwk) =>
  Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k)));

const line = (text) => process.stdout.write(`${text}\n`);

// Parses `[--flag VALUE | --switch]... FILE`; `valued` and `switches` name the allowed flags.
function parse(args, valued, switches) {
  const options = {};
  const files = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (valued.includes(arg)) {
      if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`);
      options[arg] = args[(i += 1)];
    } else if (switches.includes(arg)) {
      options[arg] = true;
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      files.push(arg);
    }
  }
  return { options, files };
}

function oneFile(files) {
  if (files.length !== 1) throw new UsageError('expected exactly one file');
  return files[0];
}

async function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'version': {
      const require = createRequire(import.meta.url);
      line(`jose ${require('jose/package.json').version}`);
      break;
    }
    case 'keygen': {
      const { privateKey } = await generateKeyPair(BANK_ALG, { crv: 'P-384', extractable: true });
      // The bank documents its keys with use=enc and alg=ECDH-ES+A256KW.
      line(JSON.stringify({ ...(await exportJWK(privateKey)), use: 'enc', alg: BANK_ALG }));
      break;
    }
    case 'public': {
      const jwk = readJson(readFileSync(0), 'stdin');
      if (typeof jwk.d !== 'string') throw new Error('stdin: not a private JWK');
      // Import first so a malformed key fails here rather than producing a bogus public JWK.
      await importJWK(jwk, BANK_ALG);
      line(JSON.stringify(publicOf(jwk)));
      break;
    }
    case 'thumbprint': {
      const file = oneFile(parse(rest, [], []).files);
      line(await calculateJwkThumbprint(readJson(readFileSync(file), file), 'sha256'));
      break;
    }
    case 'encrypt': {
      const { options, files } = parse(rest, ['--alg', '--enc', '--apu', '--apv'], []);
      const file = oneFile(files);
      const alg = options['--alg'] ?? BANK_ALG;
      const enc = options['--enc'] ?? BANK_ENC;
      if (!ALGS.includes(alg)) throw new UsageError(`unsupported --alg ${alg}`);
      if (!ENCS.includes(enc)) throw new UsageError(`unsupported --enc ${enc}`);
      const jwk = readJson(readFileSync(file), file);
      if ('d' in jwk) throw new Error(`${file}: expected a public JWK`);
      // The key's own `alg` member names the bank's algorithm; import for the one we use.
      const key = await importJWK({ ...jwk, alg }, alg);
      const partyInfo = {};
      for (const member of ['apu', 'apv']) {
        const text = options[`--${member}`];
        if (text !== undefined) partyInfo[member] = new TextEncoder().encode(text);
      }
      const token = await new CompactEncrypt(readFileSync(0))
        .setProtectedHeader({ alg, enc })
        .setKeyManagementParameters(partyInfo)
        .encrypt(key);
      line(token);
      break;
    }
    case 'decrypt': {
      const { options, files } = parse(rest, [], ['--allow-all']);
      const file = oneFile(files);
      const jwk = readJson(readFileSync(file), file);
      const token = readFileSync(0).toString('ascii').trim();
      const allowAll = options['--allow-all'] === true;
      const { plaintext } = await compactDecrypt(
        token,
        async (header) => importJWK({ ...jwk, alg: header.alg }, header.alg),
        {
          keyManagementAlgorithms: allowAll ? ALGS : [BANK_ALG],
          contentEncryptionAlgorithms: allowAll ? ENCS : [BANK_ENC],
        },
      );
      process.stdout.write(plaintext);
      break;
    }
    default:
      throw new UsageError(command === undefined ? 'missing command' : `unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`peer.mjs: ${e.code ?? e.name}: ${e.message}`.replace(/\n/g, ' ') + '\n');
  if (e instanceof UsageError) {
    process.stderr.write('usage: peer.mjs keygen|public|thumbprint FILE|encrypt [--alg A] [--enc E] [--apu T] [--apv T] FILE|decrypt [--allow-all] FILE|version\n');
  }
  // Set the code rather than calling process.exit(), so pending stdout writes still flush.
  process.exitCode = e instanceof UsageError ? 2 : 1;
});
