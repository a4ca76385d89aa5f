export { createWriterApp, type WriterApp, type WriterDeps, type WriterStats } from "./app.ts";
export { loadWriterConfig, type WriterConfig, writerEnv } from "./config.ts";
export {
  COPY_COLUMNS,
  COPY_COLUMNS_WITHOUT_SOURCE,
  COPY_HEADER_BYTES,
  COPY_TRAILER_BYTES,
  toCopyRows,
} from "./reading-copy.ts";
export { type DecodedDelivery, toReadingColumns } from "./reading-rows.ts";
