package io.onceflow.runtime.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.util.zip.CRC32C;

/**
 * A buffer in front of a stream for one thread: unlike {@link java.io.BufferedOutputStream} it takes no
 * lock per byte, which counts when a snapshot writes millions of small entries. {@link #flush()} passes
 * the buffered bytes on; {@link #close()} is not offered, the owner closes the target. It keeps the CRC-32C of
 * what is written through it, which {@link #writeChecksum()} writes for {@link ChecksummedInputStream} to check.
 */
public final class UnsynchronizedBufferedOutputStream extends OutputStream {
    private final OutputStream target;
    private final byte[] buffer;
    private int count;
    private final CRC32C crc = new CRC32C();
    /** Where the bytes of the buffer not yet in {@link #crc} begin. */
    private int checked;

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
            crc.update(b, off, len);
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
            crc.update(buffer, checked, count - checked);
            target.write(buffer, 0, count);
            count = 0;
            checked = 0;
        }
    }

    /** Writes the CRC-32C of every byte written so far (4 bytes, big-endian), which then counts in the next. */
    public void writeChecksum() throws IOException {
        crc.update(buffer, checked, count - checked);
        checked = count;
        int value = (int) crc.getValue();
        for (int shift = 24; shift >= 0; shift -= 8) {
            write(value >>> shift);
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
