/** Defaults of the KV HTTP API shared by the server and the CLI (kept apart so `xraft kv` loads no server code). */

/** DEFAULT_HTTP_PORT is where `xraft start` serves the KV API unless told otherwise. */
export const DEFAULT_HTTP_PORT = 7070;
/** DEFAULT_MAX_BODY_BYTES is the largest request body accepted (larger: 413). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
