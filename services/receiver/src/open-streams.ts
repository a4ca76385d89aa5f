import type { IngestStream } from "./ingest-stream.ts";

export interface StreamLifecycle {
  /** The first stream of a device opened here. */
  firstOpened(deviceId: number): void;
  /** The last stream of a device here ended. */
  lastClosed(deviceId: number): void;
}

/** The streams a receiver holds, by device. */
export class OpenStreams {
  private readonly byDevice = new Map<number, Set<IngestStream>>();
  private readonly lifecycle: StreamLifecycle;

  constructor(lifecycle: StreamLifecycle) {
    this.lifecycle = lifecycle;
  }

  add(stream: IngestStream): void {
    const id = stream.device.id;
    let set = this.byDevice.get(id);
    if (!set) {
      set = new Set();
      this.byDevice.set(id, set);
      this.lifecycle.firstOpened(id);
    }
    set.add(stream);
    void stream.ended.then(() => this.remove(stream));
  }

  of(deviceId: number): IngestStream[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  all(): IngestStream[] {
    return [...this.byDevice.values()].flatMap((set) => [...set]);
  }

  deviceIds(): number[] {
    return [...this.byDevice.keys()];
  }

  get size(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  private remove(stream: IngestStream): void {
    const id = stream.device.id;
    const set = this.byDevice.get(id);
    if (!set?.delete(stream) || set.size > 0) return;
    this.byDevice.delete(id);
    this.lifecycle.lastClosed(id);
  }
}
