package io.onceflow.runtime.state;

import java.util.Arrays;

/**
 * The keys a restore of a {@link HeapStateChain} has already decided (read from a newer file of the chain),
 * as a set of (state index, serialized key) looked up straight from the buffer the key was read into: no
 * object per lookup, and a key is copied only when it is new. Open addressing with linear probing over one array
 * of each slot's hash and state, so that a probe past other keys reads neither their keys nor another array; one
 * thread.
 */
final class DecidedKeys {

    private static final int MAX_CAPACITY = 1 << 30;

    // per slot: the key's hash in the high half, its state + 1 in the low half; 0 for an empty slot
    private long[] slots = new long[64];
    private byte[][] keys = new byte[64][];
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
        long tag = tag(state, buffer, length);
        int mask = slots.length - 1;
        int slot = (int) (tag >>> 32) & mask;
        while (slots[slot] != 0) {
            if (slots[slot] == tag && equal(keys[slot], buffer, length)) {
                return null;
            }
            slot = (slot + 1) & mask;
        }
        byte[] key = Arrays.copyOf(buffer, length);
        slots[slot] = tag;
        keys[slot] = key;
        if (++size * 2 > slots.length) {
            grow();
        }
        return key;
    }

    /** Whether the set holds the key held in {@code buffer[0, length)} of state {@code state}. */
    boolean contains(int state, byte[] buffer, int length) {
        long tag = tag(state, buffer, length);
        int mask = slots.length - 1;
        for (int slot = (int) (tag >>> 32) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            if (slots[slot] == tag && equal(keys[slot], buffer, length)) {
                return true;
            }
        }
        return false;
    }

    /** The slot's value for a key: never 0, as a state index is never negative. */
    private static long tag(int state, byte[] buffer, int length) {
        return ((long) (31 * state + KeyHashes.of(buffer, length)) << 32) | (state + 1L);
    }

    private static boolean equal(byte[] key, byte[] buffer, int length) {
        return key.length == length && Arrays.equals(key, 0, length, buffer, 0, length);
    }

    private void grow() {
        if (slots.length == MAX_CAPACITY) {
            throw new IllegalStateException("More than " + MAX_CAPACITY / 2 + " keys in one restore of heap state: "
                    + "use the RocksDB state backend for state of this size");
        }
        long[] oldSlots = slots;
        byte[][] oldKeys = keys;
        slots = new long[oldSlots.length * 2];
        keys = new byte[slots.length][];
        int mask = slots.length - 1;
        for (int i = 0; i < oldSlots.length; i++) {
            if (oldSlots[i] != 0) {
                int slot = (int) (oldSlots[i] >>> 32) & mask;
                while (slots[slot] != 0) {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = oldSlots[i];
                keys[slot] = oldKeys[i];
            }
        }
    }
}
