package io.onceflow.runtime.state;

/**
 * Hashes of keys for the state's own hash structures, where the JDK's polynomial hashes of strings and
 * byte arrays collide far too often: {@code 31 * h + c} is linear in the characters, so short keys over a
 * small alphabet share all 32 bits ({@code "1n"} and {@code "30"}; of the 2.1 million keys {@code "w"} + a
 * number in base 36, 86 %), and the longs 0 to 2 million, serialized big-endian, share 37,000 values of
 * {@code Arrays.hashCode}. Every character or byte is mixed in by a multiplication instead.
 *
 * <p>Not for key groups: which key group a key belongs to is part of the checkpoint format and keeps using
 * {@link StableKeys#hash(Object)}.
 */
final class KeyHashes {

    private static final long SEED = 0x9E3779B97F4A7C15L;
    private static final long STEP = 0xBF58476D1CE4E5B9L;

    private KeyHashes() {
    }

    static int of(String s) {
        long h = SEED + s.length();
        for (int i = 0, n = s.length(); i < n; i++) {
            h = (h ^ s.charAt(i)) * STEP;
        }
        return finish(h);
    }

    static int of(byte[] bytes) {
        return of(bytes, bytes.length);
    }

    /** The hash of {@code bytes[0, length)}: the same as of a copy of just those bytes. */
    static int of(byte[] bytes, int length) {
        long h = SEED + length;
        for (int i = 0; i < length; i++) {
            h = (h ^ (bytes[i] & 0xFF)) * STEP;
        }
        return finish(h);
    }

    private static int finish(long h) {
        h = (h ^ (h >>> 31)) * 0x94D049BB133111EBL;
        return (int) (h ^ (h >>> 32));
    }
}
