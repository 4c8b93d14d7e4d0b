import { describe, expect, it } from "vitest";
import { nextOffset, ResumableUpload, UploadFailed, type PutResult, type UploadTransport } from "../../src/studio/upload";
import { generationWindow } from "../../src/studio/VideoEditor";

/** Storage as the resumable protocol has it: it keeps what arrives whole, answers 308 until done. */
class Storage implements UploadTransport {
  stored = 0;
  requests: string[] = [];
  private chunks = 0;
  constructor(readonly total: number, readonly dropChunk = 0) {} // dropChunk: the n-th data PUT fails (1-based)
  async put(_url: string, body: Blob | null, headers: Record<string, string>, onProgress: (n: number) => void): Promise<PutResult> {
    const range = headers["Content-Range"] as string;
    this.requests.push(range);
    if (body === null) return this.answer(); // "where do you stand?"
    const [, start, end] = /bytes (\d+)-(\d+)\//.exec(range) as RegExpExecArray;
    expect(Number(start)).toBe(this.stored); // never a byte sent twice, never a gap
    this.chunks += 1;
    if (this.chunks === this.dropChunk) {
      onProgress(body.size / 2);
      throw new UploadFailed(0); // the connection dropped mid-chunk: storage kept nothing of it
    }
    this.stored = Number(end) + 1;
    onProgress(body.size);
    return this.answer();
  }
  private answer(): PutResult {
    if (this.stored >= this.total) return { status: 200, range: null };
    return { status: 308, range: this.stored ? `bytes=0-${this.stored - 1}` : null };
  }
}

describe("resumable upload", () => {
  it("reads the committed offset from a 308", () => {
    expect(nextOffset(null)).toBe(0);
    expect(nextOffset("bytes=0-262143")).toBe(262144);
  });

  it("sends the file in chunks with their ranges", async () => {
    const storage = new Storage(10);
    await new ResumableUpload("u", new Blob(["0123456789"]), "video/mp4", storage, undefined, 4).run();
    expect(storage.requests).toEqual(["bytes 0-3/10", "bytes 4-7/10", "bytes 8-9/10"]);
    expect(storage.stored).toBe(10);
  });

  it("after a dropped connection asks where storage stands and goes on from there", async () => {
    const storage = new Storage(10, 2); // the second chunk's connection drops
    const upload = new ResumableUpload("u", new Blob(["0123456789"]), "video/mp4", storage, undefined, 4);
    await expect(upload.run()).rejects.toBeInstanceOf(UploadFailed);
    expect(storage.stored).toBe(4);
    await upload.run(); // resume: what storage has is not sent again
    expect(storage.requests).toEqual(["bytes 0-3/10", "bytes 4-7/10", "bytes */10", "bytes 4-7/10", "bytes 8-9/10"]);
    expect(storage.stored).toBe(10);
  });

  it("reads the emulator's 'bytes=0-0' before any chunk as nothing stored", async () => {
    const storage = new Storage(10, 1); // the very first chunk drops
    const quirky: UploadTransport = {
      put: async (url, body, headers, onProgress) => {
        const answer = await storage.put(url, body, headers, onProgress);
        return body === null && storage.stored === 0 ? { status: 308, range: "bytes=0-0" } : answer;
      },
    };
    const upload = new ResumableUpload("u", new Blob(["0123456789"]), "video/mp4", quirky, undefined, 4);
    await expect(upload.run()).rejects.toBeInstanceOf(UploadFailed);
    await upload.run();
    expect(storage.requests).toEqual(["bytes 0-3/10", "bytes */10", "bytes 0-3/10", "bytes 4-7/10", "bytes 8-9/10"]);
  });

  it("pausing stops after the chunk in flight and resuming continues", async () => {
    const storage = new Storage(10);
    const progress: number[] = [];
    const upload = new ResumableUpload("u", new Blob(["0123456789"]), "video/mp4", storage, (p) => {
      progress.push(p.sent);
      if (p.sent === 4) upload.pause();
    }, 4);
    await expect(upload.run()).rejects.toThrow("paused");
    expect(storage.stored).toBe(4);
    await upload.run();
    expect(storage.stored).toBe(10);
    expect(progress.at(-1)).toBe(10);
  });
});

describe("the transcript window AI reads", () => {
  const segments = [
    { start: 0, end: 5, text: "a" },
    { start: 5, end: 12, text: "b" },
    { start: 12, end: 20, text: "c" },
    { start: 20, end: 30, text: "d" },
  ];
  it("runs from the previous milestone to this one", () => {
    expect(generationWindow(segments, [10, 25], 25).map((s) => s.text)).toEqual(["b", "c", "d"]);
    expect(generationWindow(segments, [10, 25], 10).map((s) => s.text)).toEqual(["a", "b"]);
  });
});
