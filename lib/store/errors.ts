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
