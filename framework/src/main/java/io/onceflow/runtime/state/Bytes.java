package io.onceflow.runtime.state;

import io.onceflow.api.serialization.TypeSerializer;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Small helpers to turn values into byte arrays and back with a {@link TypeSerializer}. */
public final class Bytes {

    private static final java.lang.invoke.VarHandle INT =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class, java.nio.ByteOrder.BIG_ENDIAN);

    private Bytes() {
    }

    public static <T> byte[] toBytes(TypeSerializer<T> serializer, T value) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(32);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            serializer.serialize(value, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Deserializes {@code bytes}; a caller with many values to read keeps one {@link BytesReader} instead. */
    public static <T> T fromBytes(TypeSerializer<T> serializer, byte[] bytes) {
        return new BytesReader().read(serializer, bytes);
    }

    public static void writeBytes(java.io.DataOutput out, byte[] bytes) throws IOException {
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    public static byte[] readBytes(java.io.DataInput in) throws IOException {
        byte[] bytes = new byte[readLength(in)];
        in.readFully(bytes);
        return bytes;
    }

    /** The int in {@code array} at {@code offset}, big-endian as {@link java.io.DataInput#readInt} reads one. */
    static int getInt(byte[] array, int offset) {
        return (int) INT.get(array, offset);
    }

    /** Writes {@code value} into {@code array} at {@code offset}, big-endian. */
    static void putInt(byte[] array, int offset, int value) {
        INT.set(array, offset, value);
    }

    /** The length {@link #writeBytes} writes before the bytes: a negative one is corrupt data. */
    static int readLength(java.io.DataInput in) throws IOException {
        int length = in.readInt();
        if (length < 0) {
            throw new IOException("Corrupt state data: negative length " + length);
        }
        return length;
    }

    /**
     * Reads {@code length} bytes into the start of {@code buffer}, a larger one first (at least twice its size) if
     * they do not fit; returns the buffer they are in, for the next read.
     */
    static byte[] readInto(java.io.DataInput in, byte[] buffer, int length) throws IOException {
        byte[] into = length > buffer.length ? new byte[Math.max(length, buffer.length * 2)] : buffer;
        in.readFully(into, 0, length);
        return into;
    }
}
