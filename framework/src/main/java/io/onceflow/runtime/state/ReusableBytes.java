package io.onceflow.runtime.state;

import java.io.OutputStream;
import java.util.Arrays;

/**
 * A growable byte array to serialize one key or value into, reset and reused for the next: no lock and
 * no copy per entry, unlike {@link java.io.ByteArrayOutputStream#toByteArray()}. One thread.
 */
final class ReusableBytes extends OutputStream {
    private byte[] bytes;
    private int size;

    ReusableBytes(int initialCapacity) {
        this.bytes = new byte[initialCapacity];
    }

    @Override
    public void write(int b) {
        ensure(1);
        bytes[size++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, bytes, size, len);
        size += len;
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }

    void reset() {
        size = 0;
    }

    /** The backing array: valid up to {@link #size()}, until the next write. */
    byte[] array() {
        return bytes;
    }

    int size() {
        return size;
    }
}
