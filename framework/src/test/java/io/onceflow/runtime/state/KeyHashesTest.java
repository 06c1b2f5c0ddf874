package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The state's key hashes tell apart the keys whose JDK hashes collide. */
class KeyHashesTest {

    private static final int KEYS = 500_000;

    @Test
    void shortBase36StringsGetDistinctHashes() {
        Set<Integer> jdk = new HashSet<>();
        Set<Integer> ours = new HashSet<>();
        for (int i = 0; i < KEYS; i++) {
            String key = "w" + Integer.toString(i * 4, 36);
            jdk.add(key.hashCode());
            ours.add(KeyHashes.of(key));
        }
        assertTrue(jdk.size() < KEYS * 0.6, "the case this is about: String.hashCode() gives " + jdk.size());
        // 32-bit hashes of half a million keys: a few dozen pairs may collide by chance
        assertTrue(ours.size() > KEYS - 200, ours.size() + " distinct of " + KEYS);
    }

    @Test
    void serializedLongsGetDistinctHashes() {
        Set<Integer> jdk = new HashSet<>();
        Set<Integer> ours = new HashSet<>();
        for (long i = 0; i < KEYS; i++) {
            byte[] key = ByteBuffer.allocate(8).putLong(i).array();
            jdk.add(Arrays.hashCode(key));
            ours.add(KeyHashes.of(key));
        }
        assertTrue(jdk.size() < KEYS / 10, "the case this is about: Arrays.hashCode gives " + jdk.size());
        assertTrue(ours.size() > KEYS - 200, ours.size() + " distinct of " + KEYS);
    }

    @Test
    void equalKeysHashEqual() {
        assertEquals(KeyHashes.of("word"), KeyHashes.of(new String("word".toCharArray())));
        assertEquals(KeyHashes.of(new byte[] {1, 2, 3}), KeyHashes.of(new byte[] {1, 2, 3}));
        assertEquals(CopyOnWriteStateMap.hash(new StableKeys.ByteArrayKey(new byte[] {4, 5})),
                CopyOnWriteStateMap.hash(new StableKeys.ByteArrayKey(new byte[] {4, 5})));
    }
}
