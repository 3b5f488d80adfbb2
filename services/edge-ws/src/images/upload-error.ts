/** Machine-readable answers to a refused image upload; each maps to one HTTP status. */
export const UPLOAD_ERRORS = {
  bad_method: 405,
  unauthorized: 401,
  wrong_device: 403,
  missing_session: 400,
  session_mismatch: 400,
  missing_file: 400,
  bad_request: 400,
  bad_device_id: 400,
  timeout: 408,
  not_an_image: 415,
  too_large: 413,
  too_many_pixels: 413,
  corrupt_image: 422,
  rate_limited: 429,
  busy: 503,
  unavailable: 503,
  storage_quota: 507,
} as const;

export type UploadErrorCode = keyof typeof UPLOAD_ERRORS;

export class UploadError extends Error {
  readonly status: number;

  constructor(
    readonly code: UploadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UploadError";
    this.status = UPLOAD_ERRORS[code];
  }
}
