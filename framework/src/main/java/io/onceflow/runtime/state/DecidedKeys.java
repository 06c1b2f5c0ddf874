package io.onceflow.runtime.state;

import java.util.Arrays;

/**
 * The keys a restore of a {@link HeapStateChain} has already decided (read from a newer file of the chain),
 * as a set of (state index, serialized key) looked up straight from the buffer the key was read into: no
 * object per lookup, and a key is copied only when it is new. Open addressing with linear probing; one thread.
 */
final class DecidedKeys {

    private static final int MAX_CAPACITY = 1 << 30;

    private byte[][] keys = new byte[64][];
    private int[] states = new int[64];
    private int[] hashes = new int[64];
    private int size;

    int size() {
        return size;
    }

    /**
     * Adds the key held in {@code buffer[0, length)} of state {@code state} if the set does not hold it yet.
     *
     * @return a copy of the key, now in the set, or null if the set held it already
     */
    byte[] add(int state, byte[] buffer, int length) {
        int hash = hash(state, buffer, length);
        int mask = keys.length - 1;
        int slot = hash & mask;
        while (keys[slot] != null) {
            if (hashes[slot] == hash && states[slot] == state && equal(keys[slot], buffer, length)) {
                return null;
            }
            slot = (slot + 1) & mask;
        }
        byte[] key = Arrays.copyOf(buffer, length);
        keys[slot] = key;
        states[slot] = state;
        hashes[slot] = hash;
        if (++size * 2 > keys.length) {
            grow();
        }
        return key;
    }

    /** Whether the set holds the key held in {@code buffer[0, length)} of state {@code state}. */
    boolean contains(int state, byte[] buffer, int length) {
        int hash = hash(state, buffer, length);
        int mask = keys.length - 1;
        for (int slot = hash & mask; keys[slot] != null; slot = (slot + 1) & mask) {
            if (hashes[slot] == hash && states[slot] == state && equal(keys[slot], buffer, length)) {
                return true;
            }
        }
        return false;
    }

    private static int hash(int state, byte[] buffer, int length) {
        return 31 * state + KeyHashes.of(buffer, length);
    }

    private static boolean equal(byte[] key, byte[] buffer, int length) {
        return key.length == length && Arrays.equals(key, 0, length, buffer, 0, length);
    }

    private void grow() {
        if (keys.length == MAX_CAPACITY) {
            throw new IllegalStateException("More than " + MAX_CAPACITY / 2 + " keys in one restore of heap state: "
                    + "use the RocksDB state backend for state of this size");
        }
        byte[][] oldKeys = keys;
        int[] oldStates = states;
        int[] oldHashes = hashes;
        keys = new byte[oldKeys.length * 2][];
        states = new int[keys.length];
        hashes = new int[keys.length];
        int mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != null) {
                int slot = oldHashes[i] & mask;
                while (keys[slot] != null) {
                    slot = (slot + 1) & mask;
                }
                keys[slot] = oldKeys[i];
                states[slot] = oldStates[i];
                hashes[slot] = oldHashes[i];
            }
        }
    }
}
