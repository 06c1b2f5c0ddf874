package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The set of keys a chain's restore has decided: keys compared by content and state, only the buffer's first
 * bytes taken, a key copied out of the reused buffer, and nothing lost as the set and its arena grow.
 */
class DecidedKeysTest {

    private static byte[] inBuffer(byte[] key, int bufferLength) {
        byte[] buffer = new byte[bufferLength];
        Arrays.fill(buffer, (byte) 0x5a); // what an earlier, longer key left behind
        System.arraycopy(key, 0, buffer, 0, key.length);
        return buffer;
    }

    @Test
    void aKeyIsAddedOnceCopiedOutOfTheBufferAndKnownByContentAndState() {
        DecidedKeys decided = new DecidedKeys();
        byte[] word = "word".getBytes(StandardCharsets.UTF_8);
        byte[] buffer = inBuffer(word, 64);

        assertTrue(decided.add(0, buffer, word.length));
        buffer[0] = 'c'; // the buffer is reused for the next key: the set kept its copy
        byte[] again = inBuffer(word, 16);
        assertTrue(decided.contains(0, again, word.length));
        assertFalse(decided.add(0, again, word.length), "the same key of the same state is decided already");
        assertTrue(decided.contains(0, again, word.length));
        assertFalse(decided.contains(1, again, word.length), "another state's key of the same bytes");
        assertFalse(decided.contains(0, again, word.length - 1), "a prefix of the key");
        assertFalse(decided.contains(0, again, word.length + 1), "the key and a byte more");
        assertTrue(decided.add(1, again, word.length));
        assertFalse(decided.contains(0, buffer, word.length), "\"cord\"");
        assertTrue(decided.add(0, new byte[0], 0), "the empty key");
        assertTrue(decided.contains(0, new byte[3], 0));
        assertEquals(3, decided.size());
    }

    @Test
    void manyKeysOfSeveralStatesAreAllKeptAsTheSetGrows() {
        DecidedKeys decided = new DecidedKeys();
        int keys = 200_000;
        byte[] buffer = new byte[32];
        for (int i = 0; i < keys; i++) {
            int length = ByteBuffer.wrap(buffer).putLong(i).position(); // serialized longs: the keys that collide most
            assertTrue(decided.add(i % 3, buffer, length), "key " + i);
        }
        assertEquals(keys, decided.size());
        for (int i = 0; i < keys; i++) {
            ByteBuffer.wrap(buffer).putLong(i);
            assertTrue(decided.contains(i % 3, buffer, 8), "key " + i);
            assertFalse(decided.contains((i + 1) % 3, buffer, 8), "key " + i + " of another state");
            assertFalse(decided.add(i % 3, buffer, 8), "key " + i);
        }
        ByteBuffer.wrap(buffer).putLong(keys);
        assertFalse(decided.contains(keys % 3, buffer, 8));
        assertEquals(keys, decided.size());
    }

    @Test
    void keysAcrossTheArenasArraysAndOneLargerThanAnyOfThemAreKeptWhole() {
        DecidedKeys decided = new DecidedKeys();
        byte[] buffer = new byte[ChunkedBytes.CHUNK_SIZE * 2];
        int lengths = 1_000; // keys of 1,000 bytes and more: the arena's arrays fill with keys of every length
        int keys = 3 * ChunkedBytes.CHUNK_SIZE / lengths;
        for (int i = 0; i < keys; i++) {
            Arrays.fill(buffer, 0, lengths + i % 7, (byte) i);
            ByteBuffer.wrap(buffer).putInt(i);
            assertTrue(decided.add(0, buffer, lengths + i % 7), "key " + i);
        }
        Arrays.fill(buffer, (byte) 7);
        assertTrue(decided.add(0, buffer, buffer.length), "a key larger than the arena's arrays");
        for (int i = 0; i < keys; i++) {
            Arrays.fill(buffer, 0, lengths + i % 7, (byte) i);
            ByteBuffer.wrap(buffer).putInt(i);
            assertTrue(decided.contains(0, buffer, lengths + i % 7), "key " + i);
            buffer[lengths + i % 7 - 1] ^= 1;
            assertFalse(decided.contains(0, buffer, lengths + i % 7), "key " + i + " with its last byte changed");
        }
        Arrays.fill(buffer, (byte) 7);
        assertTrue(decided.contains(0, buffer, buffer.length));
        buffer[buffer.length - 1] = 8;
        assertFalse(decided.contains(0, buffer, buffer.length));
        assertEquals(keys + 1, decided.size());
    }
}
