/** Where blob bytes live; metadata, quotas and expiry are the database's job. */
export interface BlobBackend {
  readonly name: string;
  /** Stores the bytes under `id`; rejects if `data` throws (the partial object is removed). */
  put(id: string, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** The bytes, or undefined when there is no such object. */
  get(id: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Removes the object; no error when it is already gone. */
  delete(id: string): Promise<void>;
  /** For the health check: true when usable, otherwise a reason. */
  check(): Promise<true | string>;
}
