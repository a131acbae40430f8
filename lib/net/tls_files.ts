/**
 * The chat port's certificate and key, read from the files `--tls-cert` and `--tls-key` name and checked
 * before they are used: a missing, unreadable or bad file becomes one message naming the flag and the fix.
 *
 * @module
 */
import { resolve } from "node:path";

/** A certificate chain and its private key, as PEM text. */
export interface TlsKeyPair {
  cert: string;
  key: string;
}

/** The file names of a {@linkcode TlsKeyPair}. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** A certificate or key file that cannot be used; the message names the flag, the file and why. */
export class TlsFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsFileError";
  }
}

async function readPem(flag: string, what: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new TlsFileError(
        `cannot read the ${what} ${resolve(path)} (${flag}): this process may not read it. ` +
          `Add --allow-read=${
            resolve(path)
          } to the deno command (\`deno task serve\` reads only ./data and ./sql)`,
        { cause: error },
      );
    }
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new TlsFileError(`cannot read the ${what} ${resolve(path)} (${flag}): ${reason}`, { cause: error });
  }
}

/**
 * Reads both files and checks that they hold a certificate and the key that matches it, by opening (and at
 * once closing) a TLS listener on a free loopback port: Deno parses the PEM and pairs the key only when a
 * listener is made. Rejects with a {@linkcode TlsFileError}.
 *
 * @example
 * ```ts
 * const pair = await readTlsFiles({ certFile: "/etc/chat/cert.pem", keyFile: "/etc/chat/key.pem" });
 * const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 6000, ...pair });
 * ```
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsKeyPair> {
  const cert = await readPem("--tls-cert", "TLS certificate", files.certFile);
  const key = await readPem("--tls-key", "TLS key", files.keyFile);
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new TlsFileError(
      `cannot use the TLS certificate ${resolve(files.certFile)} (--tls-cert) with the key ${
        resolve(files.keyFile)
      } (--tls-key): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { cert, key };
}
