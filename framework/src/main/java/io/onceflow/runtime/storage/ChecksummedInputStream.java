package io.onceflow.runtime.storage;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.CRC32C;

/**
 * A buffer in front of a stream for one thread that keeps the CRC-32C of every byte read through it
 * (skipped bytes too, which are read for it): the reading side of
 * {@link UnsynchronizedBufferedOutputStream#writeChecksum()}. {@link #verifyChecksum} reads a stored
 * checksum and compares it with that of the bytes before it. {@link #close()} closes the source.
 */
public final class ChecksummedInputStream extends InputStream {
    private final InputStream source;
    private final byte[] buffer;
    private final CRC32C crc = new CRC32C();
    private int position;
    private int limit;
    /** Where the bytes of the buffer not yet in {@link #crc} begin: those before {@link #position} are read. */
    private int checked;

    public ChecksummedInputStream(InputStream source, int size) {
        this.source = source;
        this.buffer = new byte[size];
    }

    @Override
    public int read() throws IOException {
        if (position == limit && !fill()) {
            return -1;
        }
        return buffer[position++] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (position == limit) {
            if (len >= buffer.length) { // straight into the caller's array
                consumeChecked();
                int n = source.read(b, off, len);
                if (n > 0) {
                    crc.update(b, off, n);
                }
                return n;
            }
            if (!fill()) {
                return -1;
            }
        }
        int n = Math.min(len, limit - position);
        System.arraycopy(buffer, position, b, off, n);
        position += n;
        return n;
    }

    /** Skips by reading: the skipped bytes count in the checksum. */
    @Override
    public long skip(long n) throws IOException {
        long skipped = 0;
        while (skipped < n) {
            if (position == limit && !fill()) {
                break;
            }
            int step = (int) Math.min(n - skipped, limit - position);
            position += step;
            skipped += step;
        }
        return skipped;
    }

    @Override
    public int available() throws IOException {
        return limit - position + source.available();
    }

    /** The CRC-32C of every byte read so far. */
    public int checksum() {
        consumeChecked();
        return (int) crc.getValue();
    }

    /**
     * Reads the 4-byte checksum that {@link UnsynchronizedBufferedOutputStream#writeChecksum()} wrote here and fails
     * if the bytes before it do not give it: they were changed after they were written.
     *
     * @param what names the data in the error, as "what is damaged"
     */
    public void verifyChecksum(String what) throws IOException {
        int computed = checksum();
        int stored = 0;
        for (int i = 0; i < 4; i++) {
            int b = read();
            if (b < 0) {
                throw new EOFException(what + " ends early, before its checksum: it is damaged");
            }
            stored = stored << 8 | b;
        }
        if (stored != computed) {
            throw damaged(what, computed, stored);
        }
    }

    /** The failure of data ({@code what}) whose bytes do not give the checksum stored with them. */
    static IOException damaged(String what, int computed, int stored) {
        return new IOException(what + " is damaged: its bytes do not give the checksum written with them (CRC-32C "
                + String.format("%08x", computed) + " instead of " + String.format("%08x", stored) + "); they were "
                + "changed in storage after they were written, and the checkpoint that holds them cannot be restored: "
                + "restore an earlier retained checkpoint (move this one's chk-N directory aside; output committed "
                + "after the earlier one is written again), or start the job fresh (resumeFromLatestCheckpoint=false)");
    }

    private void consumeChecked() {
        crc.update(buffer, checked, position - checked);
        checked = position;
    }

    private boolean fill() throws IOException {
        consumeChecked();
        int n = source.read(buffer, 0, buffer.length);
        position = 0;
        checked = 0;
        limit = Math.max(n, 0);
        return n > 0;
    }

    @Override
    public void close() throws IOException {
        source.close();
    }
}
