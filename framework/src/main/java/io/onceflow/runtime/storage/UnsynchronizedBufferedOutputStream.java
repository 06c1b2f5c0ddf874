package io.onceflow.runtime.storage;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A buffer in front of a stream for one thread: unlike {@link java.io.BufferedOutputStream} it takes no
 * lock per byte, which counts when a snapshot writes millions of small entries. {@link #flush()} passes
 * the buffered bytes on; {@link #close()} is not offered, the owner closes the target.
 */
public final class UnsynchronizedBufferedOutputStream extends OutputStream {
    private final OutputStream target;
    private final byte[] buffer;
    private int count;

    public UnsynchronizedBufferedOutputStream(OutputStream target, int size) {
        this.target = target;
        this.buffer = new byte[size];
    }

    @Override
    public void write(int b) throws IOException {
        if (count == buffer.length) {
            drain();
        }
        buffer[count++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (len >= buffer.length) {
            drain();
            target.write(b, off, len);
            return;
        }
        if (len > buffer.length - count) {
            drain();
        }
        System.arraycopy(b, off, buffer, count, len);
        count += len;
    }

    private void drain() throws IOException {
        if (count > 0) {
            target.write(buffer, 0, count);
            count = 0;
        }
    }

    @Override
    public void flush() throws IOException {
        drain();
        target.flush();
    }

    @Override
    public void close() {
        throw new UnsupportedOperationException("flush this buffer and close its target instead");
    }
}
