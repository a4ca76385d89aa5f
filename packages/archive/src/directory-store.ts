import { copyFile, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { ArchiveStore } from "./archive-store.ts";

/** An archive in a local directory: the quick start's default. Writes are atomic (temp file, rename). */
export class DirectoryStore implements ArchiveStore {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.location = `file:${root}`;
  }

  private path(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === "")) throw new Error(`bad archive key ${key}`);
    return join(this.root, ...key.split("/"));
  }

  async putFile(key: string, path: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(path, `${target}.partial`);
    await rename(`${target}.partial`, target);
  }

  async putText(key: string, text: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.partial`, text);
    await rename(`${target}.partial`, target);
  }

  async getFile(key: string, path: string): Promise<void> {
    await copyFile(this.path(key), path);
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), "utf8");
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    let names: string[];
    try {
      names = (await readdir(this.root, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile() && !e.name.endsWith(".partial"))
        .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join("/"));
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return [];
      throw err;
    }
    return names.filter((k) => k.startsWith(prefix)).sort();
  }
}
