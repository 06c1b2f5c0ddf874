package io.onceflow.runtime.state;

import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * A growable byte array that is a {@link DataOutput} itself, to serialize one state entry into, reset and
 * reused for the next: no lock, no copy per entry, and no per-byte call through a stream. A snapshot's entries
 * are written with it ({@link SubtaskStateFormat#writeKeyedEntry(DataOutput, ReusableBytes, int, int,
 * io.onceflow.api.serialization.TypeSerializer, Object, io.onceflow.api.serialization.TypeSerializer, Object)}):
 * each entry, header and all, is assembled here and goes to the file in one write. Every method writes the
 * bytes {@link DataOutputStream} writes. One thread.
 */
final class ReusableBytes implements DataOutput {
    private byte[] bytes;
    private int size;
    // writeUTF's modified UTF-8, rare in state, goes through the JDK's own encoder
    private DataOutputStream utf;

    ReusableBytes(int initialCapacity) {
        this.bytes = new byte[initialCapacity];
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

    /** Leaves room for an int to be {@linkplain #fillLength filled in} later; returns where it is. */
    int skipInt() {
        ensure(4);
        int at = size;
        size += 4;
        return at;
    }

    /** Fills the int left at {@code at} with the number of bytes written after it. */
    void fillLength(int at) {
        putInt(at, size - at - 4);
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }

    private void putInt(int at, int v) {
        Bytes.putInt(bytes, at, v);
    }

    @Override
    public void write(int b) {
        ensure(1);
        bytes[size++] = (byte) b;
    }

    @Override
    public void write(byte[] b) {
        write(b, 0, b.length);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, bytes, size, len);
        size += len;
    }

    @Override
    public void writeBoolean(boolean v) {
        write(v ? 1 : 0);
    }

    @Override
    public void writeByte(int v) {
        write(v);
    }

    @Override
    public void writeShort(int v) {
        ensure(2);
        bytes[size] = (byte) (v >>> 8);
        bytes[size + 1] = (byte) v;
        size += 2;
    }

    @Override
    public void writeChar(int v) {
        writeShort(v);
    }

    @Override
    public void writeInt(int v) {
        ensure(4);
        putInt(size, v);
        size += 4;
    }

    @Override
    public void writeLong(long v) {
        ensure(8);
        putInt(size, (int) (v >>> 32));
        putInt(size + 4, (int) v);
        size += 8;
    }

    @Override
    public void writeFloat(float v) {
        writeInt(Float.floatToIntBits(v));
    }

    @Override
    public void writeDouble(double v) {
        writeLong(Double.doubleToLongBits(v));
    }

    @Override
    public void writeBytes(String s) {
        int n = s.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            bytes[size + i] = (byte) s.charAt(i);
        }
        size += n;
    }

    @Override
    public void writeChars(String s) {
        int n = s.length();
        ensure(2 * n);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            bytes[size + 2 * i] = (byte) (c >>> 8);
            bytes[size + 2 * i + 1] = (byte) c;
        }
        size += 2 * n;
    }

    @Override
    public void writeUTF(String s) throws IOException {
        if (utf == null) {
            utf = new DataOutputStream(new OutputStream() {
                @Override
                public void write(int b) {
                    ReusableBytes.this.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    ReusableBytes.this.write(b, off, len);
                }
            });
        }
        utf.writeUTF(s);
    }
}
