package io.onceflow.runtime.state;

/**
 * Keys are hashed into a fixed number of key groups (the max parallelism); each subtask owns a
 * contiguous range of them. Because the mapping of keys to groups never changes, keyed state can be
 * restored at another parallelism by handing out group ranges anew.
 */
public final class KeyGroups {

    public static final int DEFAULT_MAX_PARALLELISM = 128;
    public static final int UPPER_BOUND_MAX_PARALLELISM = 1 << 15;

    private KeyGroups() {
    }

    public static int keyGroupFor(Object key, int maxParallelism) {
        return Math.floorMod(murmurMix(StableKeys.hash(key)), maxParallelism);
    }

    /** The subtask that owns a key group. */
    public static int subtaskFor(int keyGroup, int maxParallelism, int parallelism) {
        return keyGroup * parallelism / maxParallelism;
    }

    public static int subtaskForKey(Object key, int maxParallelism, int parallelism) {
        return subtaskFor(keyGroupFor(key, maxParallelism), maxParallelism, parallelism);
    }

    /** The range of key groups subtask {@code index} owns; the inverse of {@link #subtaskFor}. */
    public static KeyGroupRange rangeFor(int maxParallelism, int parallelism, int index) {
        int start = (index * maxParallelism + parallelism - 1) / parallelism;
        int end = ((index + 1) * maxParallelism - 1) / parallelism;
        return new KeyGroupRange(start, end);
    }

    /** Spreads poor hash codes (small integers, similar strings) over the key groups. */
    static int murmurMix(int code) {
        code *= 0xcc9e2d51;
        code = Integer.rotateLeft(code, 15);
        code *= 0x1b873593;
        code = Integer.rotateLeft(code, 13);
        code = code * 5 + 0xe6546b64;
        code ^= 4;
        code ^= code >>> 16;
        code *= 0x85ebca6b;
        code ^= code >>> 13;
        code *= 0xc2b2ae35;
        code ^= code >>> 16;
        return code;
    }
}
