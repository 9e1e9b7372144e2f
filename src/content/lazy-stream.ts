import { Readable } from 'node:stream';

/**
 * A stream whose source is opened only when it is first read (`open` is async, the stream is there at once), and
 * whose source's errors go through `mapError`. Chunks are passed on as they come (with the source paused while
 * this stream's buffer is full), so it costs one push per chunk instead of an async generator's promise round
 * trip: it sits on every chunk of a copy.
 */
export function lazyStream(open: () => Promise<Readable>, mapError: (err: unknown) => Error = (e) => e as Error): Readable {
  let inner: Readable | undefined;
  let opening = false;
  const out = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (inner) {
        inner.resume();
        return;
      }
      if (opening) return;
      opening = true;
      open().then(
        (source) => {
          if (out.destroyed) {
            source.on('error', () => undefined);
            source.destroy();
            return;
          }
          inner = source;
          source.on('data', (chunk: Buffer) => {
            if (!out.push(chunk)) source.pause();
          });
          source.once('end', () => out.push(null));
          source.once('error', (err) => out.destroy(mapError(err)));
        },
        (err) => out.destroy(mapError(err)),
      );
    },
    destroy(err, cb) {
      if (inner && !inner.destroyed) {
        inner.on('error', () => undefined);
        inner.destroy();
      }
      cb(err);
    },
  });
  return out;
}
