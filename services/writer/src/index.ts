export { createWriterApp, type WriterApp, type WriterDeps, type WriterStats } from "./app.ts";
export { loadWriterConfig, type WriterConfig, writerEnv } from "./config.ts";
