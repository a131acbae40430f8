/** A unique name (user or group) is already taken. */
export class NameTakenError extends Error {
  constructor(kind: "user" | "group", name: string) {
    super(`${kind} name already taken: ${JSON.stringify(name)}`);
    this.name = "NameTakenError";
  }
}

/** The database cannot be reached or did not answer in time; nothing was changed that the caller can see. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** The name a unique insert claims: what a {@linkcode NameTakenError} reports when it is taken. */
export interface UniqueName {
  kind: "user" | "group";
  name: string;
}

/** The database was written by a newer version of this server than the one running. */
export class SchemaVersionError extends Error {
  /** The database's schema version. */
  readonly databaseVersion: number;
  /** The newest schema version this code knows. */
  readonly codeVersion: number;

  constructor(databaseVersion: number, codeVersion: number) {
    super(
      `the database has schema version ${databaseVersion}, newer than version ${codeVersion} that this ` +
        `server knows; run a server release that knows version ${databaseVersion} or later`,
    );
    this.name = "SchemaVersionError";
    this.databaseVersion = databaseVersion;
    this.codeVersion = codeVersion;
  }
}
