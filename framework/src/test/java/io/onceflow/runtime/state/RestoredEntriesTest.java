package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The packed entries of a restored state give back every entry, key group, key and value, once each, from arrays or
 * from a stream, across the packing's arrays and with entries that get arrays of their own; sealed, they take no
 * more.
 */
class RestoredEntriesTest {

    private record Entry(int keyGroup, byte[] key, byte[] value) {
        @Override
        public String toString() {
            return keyGroup + " " + Arrays.toString(key) + " " + Arrays.toString(value);
        }
    }

    private static List<String> sorted(List<Entry> entries) {
        return entries.stream().map(Entry::toString).sorted().toList();
    }

    private static byte[] filled(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i);
        }
        return b;
    }

    private static List<Entry> read(RestoredEntries entries) throws IOException {
        List<Entry> read = new ArrayList<>();
        entries.forEach((keyGroup, array, keyAt, keyLength, valueAt, valueLength) -> read.add(new Entry(keyGroup,
                Arrays.copyOfRange(array, keyAt, keyAt + keyLength),
                Arrays.copyOfRange(array, valueAt, valueAt + valueLength))));
        return read;
    }

    @Test
    void everyEntryComesBackOnceFromArraysAndStreamsAcrossThePackingsArrays() throws IOException {
        RestoredEntries entries = new RestoredEntries();
        List<Entry> added = new ArrayList<>();
        byte[] keyBuffer = new byte[4096];
        Arrays.fill(keyBuffer, (byte) 0x5a); // what an earlier, longer key left behind
        for (int i = 0; i < 5_000; i++) {
            byte[] key = filled(i % 50, i);
            byte[] value = filled(i % 3 == 0 ? 0 : 100 + i % 300, -i);
            if (i % 1_000 == 1) {
                value = filled(ChunkedBytes.CHUNK_SIZE / 4 + i, i); // entries given arrays of their own
            }
            if (i == 2_500) {
                value = filled(ChunkedBytes.CHUNK_SIZE + 17, 5); // an entry larger than the shared arrays
            }
            System.arraycopy(key, 0, keyBuffer, 0, key.length);
            if (i % 2 == 0) {
                entries.add(i % 128, keyBuffer, key.length, value, value.length);
            } else {
                byte[] stream = Arrays.copyOf(value, value.length + 3); // a stream that goes on after the value
                DataInputStream in = new DataInputStream(new ByteArrayInputStream(stream));
                entries.add(i % 128, keyBuffer, key.length, in, value.length);
                assertEquals(3, in.available(), "the value and no more is read from the stream");
            }
            added.add(new Entry(i % 128, key, value));
        }
        assertEquals(added.size(), entries.size());
        List<String> expected = sorted(added);
        assertEquals(expected, sorted(read(entries)));
        assertEquals(expected, sorted(read(entries)), "read again");
    }

    @Test
    void sealedEntriesTakeNoMore() throws IOException {
        RestoredEntries entries = new RestoredEntries();
        entries.add(3, new byte[] {1}, 1, new byte[] {2, 3}, 2);
        entries.seal();
        assertThrows(IllegalStateException.class, () -> entries.add(3, new byte[] {4}, 1, new byte[0], 0));
        assertEquals(1, entries.size());
        assertArrayEquals(new byte[] {2, 3}, read(entries).get(0).value());
        assertEquals(0, read(new RestoredEntries()).size());
    }
}
