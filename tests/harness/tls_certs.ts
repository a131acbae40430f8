/**
 * Certificates made at test time with Debian's `openssl`: a private CA and server certificates it signs for
 * `127.0.0.1` and `localhost`, in a temp folder that disappears with the test process.
 *
 * @module
 */
import { requireProgram } from "./required_program.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";

/** A CA and the files of the certificates it signed. */
export interface TestPki extends AsyncDisposable {
  /** The folder holding every file. */
  readonly dir: string;
  /** The CA certificate (PEM file). */
  readonly caCert: string;
  /** Signs a new server certificate for 127.0.0.1 and localhost; `name` becomes its subject CN. */
  serverCert(name: string): Promise<{ cert: string; key: string }>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const program = await requireProgram("openssl", "openssl");
  const { code, stderr } = await new Deno.Command(program, {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/** `openssl req` arguments for a new P-256 key `<file>.key` and its certificate `<file>.crt`, valid 2 days. */
function newCertArgs(commonName: string, file: string): string[] {
  return [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${commonName}`,
    "-keyout",
    `${file}.key`,
    "-out",
    `${file}.crt`,
  ];
}

/**
 * Makes a CA (`name` in its subject) in a new temp folder.
 *
 * @example
 * ```ts
 * await using pki = await makeTestPki("test CA");
 * const { cert, key } = await pki.serverCert("server one");
 * ```
 */
export async function makeTestPki(name: string): Promise<TestPki> {
  const dir = await makeTempDir("chat-tls-");
  await openssl(dir, [
    ...newCertArgs(name, "ca"),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]); // deno-fmt-ignore
  let serial = 0;
  return {
    dir,
    caCert: `${dir}/ca.crt`,
    async serverCert(subject: string) {
      const base = `server${++serial}`;
      await openssl(dir, [
        ...newCertArgs(subject, base),
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
      ]); // deno-fmt-ignore
      return { cert: `${dir}/${base}.crt`, key: `${dir}/${base}.key` };
    },
    [Symbol.asyncDispose]: () => removeTempDir(dir),
  };
}
