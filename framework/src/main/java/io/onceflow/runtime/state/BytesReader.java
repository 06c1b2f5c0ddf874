package io.onceflow.runtime.state;

import io.onceflow.api.serialization.TypeSerializer;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A {@link DataInput} over a byte array, pointed at the next array for the next value: every value of the state
 * is deserialized through one ({@link Bytes#fromBytes} makes one per value, a restore one for all its entries)
 * instead of a new stream, with the stream's own buffers, per value. Reads what {@link java.io.DataOutputStream} writes, and like {@link DataInputStream} throws
 * {@link EOFException} at the end of the array. One thread.
 */
final class BytesReader implements DataInput {
    private byte[] bytes = new byte[0];
    private int position;
    private int limit;
    private int length;

    /** Deserializes {@code serialized} with {@code serializer}; an {@link IOException} comes out unchecked. */
    <T> T read(TypeSerializer<T> serializer, byte[] serialized) {
        return read(serializer, serialized, 0, serialized.length);
    }

    /** Deserializes the {@code length} bytes of {@code array} from {@code offset}, and reads nothing beyond them. */
    <T> T read(TypeSerializer<T> serializer, byte[] array, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, array.length);
        bytes = array;
        position = offset;
        limit = offset + length;
        this.length = length;
        try {
            return serializer.deserialize(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private int take(int n) throws EOFException {
        if (n < 0) {
            throw new IndexOutOfBoundsException("Cannot read " + n + " bytes");
        }
        if (n > limit - position) {
            position = limit;
            throw new EOFException("Serialized value ends after " + length + " bytes");
        }
        int at = position;
        position += n;
        return at;
    }

    @Override
    public void readFully(byte[] b) throws IOException {
        readFully(b, 0, b.length);
    }

    @Override
    public void readFully(byte[] b, int off, int len) throws IOException {
        System.arraycopy(bytes, take(len), b, off, len);
    }

    @Override
    public int skipBytes(int n) {
        int skipped = Math.max(0, Math.min(n, limit - position));
        position += skipped;
        return skipped;
    }

    @Override
    public boolean readBoolean() throws IOException {
        return bytes[take(1)] != 0;
    }

    @Override
    public byte readByte() throws IOException {
        return bytes[take(1)];
    }

    @Override
    public int readUnsignedByte() throws IOException {
        return bytes[take(1)] & 0xFF;
    }

    @Override
    public short readShort() throws IOException {
        int at = take(2);
        return (short) (((bytes[at] & 0xFF) << 8) | (bytes[at + 1] & 0xFF));
    }

    @Override
    public int readUnsignedShort() throws IOException {
        return readShort() & 0xFFFF;
    }

    @Override
    public char readChar() throws IOException {
        return (char) readShort();
    }

    @Override
    public int readInt() throws IOException {
        return Bytes.getInt(bytes, take(4));
    }

    @Override
    public long readLong() throws IOException {
        return ((long) readInt() << 32) | (readInt() & 0xFFFFFFFFL);
    }

    @Override
    public float readFloat() throws IOException {
        return Float.intBitsToFloat(readInt());
    }

    @Override
    public double readDouble() throws IOException {
        return Double.longBitsToDouble(readLong());
    }

    /** As {@link DataInputStream#readLine()}: bytes as Latin-1 characters up to a line end; null at the end. */
    @Override
    public String readLine() {
        if (position >= limit) {
            return null;
        }
        StringBuilder line = new StringBuilder();
        while (position < limit) {
            int c = bytes[position++] & 0xFF;
            if (c == '\n') {
                break;
            }
            if (c == '\r') {
                if (position < limit && bytes[position] == '\n') {
                    position++;
                }
                break;
            }
            line.append((char) c);
        }
        return line.toString();
    }

    @Override
    public String readUTF() throws IOException {
        return DataInputStream.readUTF(this);
    }
}
