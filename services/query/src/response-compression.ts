import { promisify } from "node:util";
import * as zlib from "node:zlib";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

const gzip = promisify(zlib.gzip);
const brotliCompress = promisify(zlib.brotliCompress);

/**
 * The encodings the API answers in, at fast levels. connect-node's own use
 * zlib's defaults: gzip level 6, and brotli quality 11, which took 1.2 s of
 * CPU to compress one 820 KB GetStats answer (a robot's five sensors over
 * 30 days, hourly) where quality 4 takes 10 ms for 27 % more bytes; any
 * client that lists `br` first (`Accept-Encoding: br, gzip`) got it, a
 * thousand-fold CPU amplification per request. gzip level 1 compresses the
 * same answer in 6.7 ms instead of 18 ms for 9 % more bytes (measured on the
 * 2-core development machine). Request bodies are decompressed by
 * connect-node's own code, with its size limit (readMaxBytes).
 */
export const fastGzip: Compression = {
  name: compressionGzip.name,
  compress: async (bytes) => arrayBufferBacked(await gzip(bytes, { level: 1 })),
  decompress: compressionGzip.decompress,
};

export const fastBrotli: Compression = {
  name: compressionBrotli.name,
  compress: async (bytes) =>
    arrayBufferBacked(await brotliCompress(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })),
  decompress: compressionBrotli.decompress,
};

/** zlib's Buffers sit on an ArrayBuffer; copied only if one ever does not (as connect-node does). */
function arrayBufferBacked(bytes: Buffer): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
