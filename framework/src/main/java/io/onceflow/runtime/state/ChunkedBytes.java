package io.onceflow.runtime.state;

import java.util.Arrays;

/**
 * Append-only bytes in arrays of {@value #CHUNK_SIZE} bytes, for what a restore holds by the million: serialized
 * keys and values stored here are a few large arrays of bytes, which the collector copies without looking into,
 * instead of millions of small objects and of references to them from older ones, which it would trace, copy one by
 * one and track across regions. A piece never spans two arrays; one of more than a quarter of {@value #CHUNK_SIZE}
 * gets an array of its own size, and the array being filled stays the one the next small piece goes to, so that
 * no shared array but that one is left more than a quarter empty. A piece's position is its array's index in the
 * high half of a long and its offset in the low half. One thread.
 */
final class ChunkedBytes {

    /** Small enough for an array that is never humongous, whatever the heap's region size. */
    static final int CHUNK_SIZE = 256 * 1024;

    private byte[][] chunks = new byte[8][];
    private int[] used = new int[8];
    private int count;
    private int filling = -1; // the array small pieces go to

    /** Room for {@code n} bytes in one array: where they go, to fill through {@link #chunk} and the offset. */
    long reserve(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative size " + n);
        }
        if (n > CHUNK_SIZE / 4) {
            int own = add(new byte[n]);
            used[own] = n;
            return (long) own << 32;
        }
        if (filling < 0 || n > CHUNK_SIZE - used[filling]) {
            filling = add(new byte[CHUNK_SIZE]);
        }
        int offset = used[filling];
        used[filling] += n;
        return ((long) filling << 32) | offset;
    }

    private int add(byte[] chunk) {
        if (count == chunks.length) {
            chunks = Arrays.copyOf(chunks, count * 2);
            used = Arrays.copyOf(used, count * 2);
        }
        chunks[count] = chunk;
        return count++;
    }

    static int chunkIndex(long position) {
        return (int) (position >>> 32);
    }

    static int offset(long position) {
        return (int) position;
    }

    byte[] chunk(int index) {
        return chunks[index];
    }

    /** How many arrays are in use. */
    int chunks() {
        return count;
    }

    /** How many bytes of array {@code index} are filled. */
    int used(int index) {
        return used[index];
    }
}
