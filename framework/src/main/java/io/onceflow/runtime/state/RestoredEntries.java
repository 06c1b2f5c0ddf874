package io.onceflow.runtime.state;

import java.io.DataInput;
import java.io.IOException;

/**
 * The serialized entries of one restored keyed state, packed one after the other into {@link ChunkedBytes} as
 * (int key group, int key length, key, int value length, value): no object per entry, key or value while a restore
 * reads millions of them and until the state is registered. Filled while a restore reads, then {@linkplain #seal
 * sealed} (a snapshot of the still unregistered state shares it) and read; in no particular order (a large entry
 * has an array of its own), as neither putting them in a map nor writing them to a checkpoint needs one.
 */
final class RestoredEntries {

    /** One entry: its key and value are in {@code array} at the given offsets (valid during the call only). */
    @FunctionalInterface
    interface Visitor {
        void accept(int keyGroup, byte[] array, int keyOffset, int keyLength, int valueOffset, int valueLength)
                throws IOException;
    }

    private final ChunkedBytes bytes = new ChunkedBytes();
    private int size;
    private boolean sealed;

    int size() {
        return size;
    }

    /** An entry from the first bytes of two arrays. */
    void add(int keyGroup, byte[] key, int keyLength, byte[] value, int valueLength) {
        long at = reserve(keyGroup, key, keyLength, valueLength);
        System.arraycopy(value, 0, bytes.chunk(ChunkedBytes.chunkIndex(at)), ChunkedBytes.offset(at), valueLength);
    }

    /** An entry whose value is the next {@code valueLength} bytes of {@code in}, read straight into place. */
    void add(int keyGroup, byte[] key, int keyLength, DataInput in, int valueLength) throws IOException {
        long at = reserve(keyGroup, key, keyLength, valueLength);
        in.readFully(bytes.chunk(ChunkedBytes.chunkIndex(at)), ChunkedBytes.offset(at), valueLength);
    }

    /** Writes the entry's head and key; returns the position of its value (see {@link ChunkedBytes#reserve}). */
    private long reserve(int keyGroup, byte[] key, int keyLength, int valueLength) {
        if (sealed) {
            throw new IllegalStateException("restored entries are read-only once a snapshot shares them");
        }
        if (keyLength < 0 || valueLength < 0) {
            throw new IllegalArgumentException("negative length: key " + keyLength + ", value " + valueLength);
        }
        long need = 12L + keyLength + valueLength;
        if (need > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("a restored entry of " + need + " bytes does not fit one array");
        }
        long position = bytes.reserve((int) need);
        byte[] chunk = bytes.chunk(ChunkedBytes.chunkIndex(position));
        int at = ChunkedBytes.offset(position);
        Bytes.putInt(chunk, at, keyGroup);
        Bytes.putInt(chunk, at + 4, keyLength);
        System.arraycopy(key, 0, chunk, at + 8, keyLength);
        Bytes.putInt(chunk, at + 8 + keyLength, valueLength);
        size++;
        return position + 12 + keyLength;
    }

    /** No more entries: a snapshot shares them from now on. */
    void seal() {
        sealed = true;
    }

    /** Every entry, once each. */
    void forEach(Visitor visitor) throws IOException {
        for (int c = 0; c < bytes.chunks(); c++) {
            byte[] chunk = bytes.chunk(c);
            int end = bytes.used(c);
            for (int at = 0; at < end; ) {
                int keyGroup = Bytes.getInt(chunk, at);
                int keyLength = Bytes.getInt(chunk, at + 4);
                int valueAt = at + 12 + keyLength;
                int valueLength = Bytes.getInt(chunk, valueAt - 4);
                visitor.accept(keyGroup, chunk, at + 8, keyLength, valueAt, valueLength);
                at = valueAt + valueLength;
            }
        }
    }
}
