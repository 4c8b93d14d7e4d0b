// A resumable upload to object storage, as Google Cloud Storage's protocol defines it: the file
// goes up in chunks (multiples of 256 KiB) with `Content-Range: bytes a-b/total`; storage answers
// 308 with the committed `Range` until the last chunk, then 200/201. After a dropped connection
// the client asks where storage stands (`Content-Range: bytes */total`) and goes on from there,
// instead of starting over. The transport is handed in, so the rules are unit-tested.

export const CHUNK = 8 * 1024 * 1024; // 8 MiB: a multiple of 256 KiB, as the protocol requires

export interface PutResult {
  status: number;
  range: string | null; // the Range header of a 308: "bytes=0-N"
}

export interface UploadTransport {
  put(url: string, body: Blob | null, headers: Record<string, string>, onProgress: (sent: number) => void, signal: AbortSignal): Promise<PutResult>;
}

export interface UploadProgress {
  sent: number; // bytes storage has (or is receiving now)
  total: number;
  bytesPerSecond: number;
  secondsLeft: number | null;
}

/** The first byte storage still needs, from a 308's Range header (none: nothing committed). */
export function nextOffset(range: string | null): number {
  const match = range ? /bytes=0-(\d+)/.exec(range) : null;
  return match ? Number(match[1]) + 1 : 0;
}

export class ResumableUpload {
  private controller: AbortController | null = null;
  private offset = 0;
  private startedAt = 0;
  private startedFrom = 0;
  paused = false;

  constructor(
    private readonly url: string,
    private readonly file: Blob,
    private readonly contentType: string,
    private readonly transport: UploadTransport,
    private readonly onProgress: (progress: UploadProgress) => void = () => undefined,
    private readonly chunk = CHUNK,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Sends what storage does not have yet; resolves when the whole file is stored. */
  async run(): Promise<void> {
    this.paused = false;
    this.offset = await this.committed();
    this.startedAt = this.now();
    this.startedFrom = this.offset;
    const total = this.file.size;
    while (this.offset < total) {
      if (this.paused) throw new UploadPaused();
      const end = Math.min(this.offset + this.chunk, total);
      this.controller = new AbortController();
      const result = await this.transport.put(
        this.url,
        this.file.slice(this.offset, end),
        { "Content-Type": this.contentType, "Content-Range": `bytes ${this.offset}-${end - 1}/${total}` },
        (sent) => this.report(this.offset + sent),
        this.controller.signal,
      );
      if (result.status === 308) this.offset = nextOffset(result.range);
      else if (result.status === 200 || result.status === 201) this.offset = total;
      else throw new UploadFailed(result.status);
      this.report(this.offset);
    }
  }

  /** Stops after aborting the chunk in flight; run() again resumes from what storage committed. */
  pause(): void {
    this.paused = true;
    this.controller?.abort();
  }

  private async committed(): Promise<number> {
    if (this.offset === 0 && this.startedAt === 0) return 0; // a fresh session has nothing yet
    const result = await this.transport.put(this.url, null, { "Content-Range": `bytes */${this.file.size}` }, () => undefined, new AbortController().signal);
    if (result.status === 200 || result.status === 201) return this.file.size;
    if (result.status !== 308) throw new UploadFailed(result.status);
    // The GCS emulator answers "bytes=0-0" when it holds nothing (real GCS sends no Range): with
    // nothing acknowledged yet, one byte is not a chunk boundary storage could have stopped at.
    if (result.range === "bytes=0-0" && this.offset === 0) return 0;
    return nextOffset(result.range);
  }

  private report(sent: number): void {
    const seconds = (this.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (sent - this.startedFrom) / seconds : 0;
    this.onProgress({
      sent,
      total: this.file.size,
      bytesPerSecond: rate,
      secondsLeft: rate > 0 ? (this.file.size - sent) / rate : null,
    });
  }
}

export class UploadPaused extends Error {
  constructor() {
    super("paused");
  }
}

export class UploadFailed extends Error {
  constructor(readonly status: number) {
    super(status === 0 ? "the connection dropped" : `storage answered ${status}`);
  }
}

/** The browser's transport: XMLHttpRequest, because fetch cannot report upload progress. */
export const xhrTransport: UploadTransport = {
  put(url, body, headers, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => resolve({ status: xhr.status, range: xhr.getResponseHeader("Range") });
      xhr.onerror = () => reject(new UploadFailed(0));
      xhr.onabort = () => reject(new UploadPaused());
      signal.addEventListener("abort", () => xhr.abort());
      xhr.send(body);
    });
  },
};
