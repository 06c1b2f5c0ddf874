package io.onceflow.runtime.state;

import java.util.Arrays;

/**
 * The keys a restore of a {@link HeapStateChain} has already decided (read from a newer file of the chain),
 * as a set of (state index, serialized key) looked up straight from the buffer the key was read into: no
 * object per lookup, and a key is copied only when it is new, into {@link ChunkedBytes} (its length, then its
 * bytes): no object per key either, and no references from the set's arrays for the collector to track. Open
 * addressing with linear probing over one array of each slot's hash and state, so that a probe past other keys
 * reads neither their keys nor another array; one thread.
 */
final class DecidedKeys {

    private static final int MAX_CAPACITY = 1 << 30;

    // per slot: the key's hash in the high half, its state + 1 in the low half; 0 for an empty slot
    private long[] slots = new long[64];
    // per slot: where its key is in the arena
    private long[] keys = new long[64];
    private final ChunkedBytes arena = new ChunkedBytes();
    private int size;

    int size() {
        return size;
    }

    /**
     * Adds the key held in {@code buffer[0, length)} of state {@code state} if the set does not hold it yet.
     *
     * @return whether the key is new: false if the set held it already
     */
    boolean add(int state, byte[] buffer, int length) {
        long tag = tag(state, buffer, length);
        int mask = slots.length - 1;
        int slot = (int) (tag >>> 32) & mask;
        while (slots[slot] != 0) {
            if (slots[slot] == tag && equal(keys[slot], buffer, length)) {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        long at = arena.reserve(4 + length);
        byte[] chunk = arena.chunk(ChunkedBytes.chunkIndex(at));
        Bytes.putInt(chunk, ChunkedBytes.offset(at), length);
        System.arraycopy(buffer, 0, chunk, ChunkedBytes.offset(at) + 4, length);
        slots[slot] = tag;
        keys[slot] = at;
        if (++size * 2 > slots.length) {
            grow();
        }
        return true;
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

    private boolean equal(long key, byte[] buffer, int length) {
        byte[] chunk = arena.chunk(ChunkedBytes.chunkIndex(key));
        int at = ChunkedBytes.offset(key);
        return Bytes.getInt(chunk, at) == length
                && Arrays.equals(chunk, at + 4, at + 4 + length, buffer, 0, length);
    }

    private void grow() {
        if (slots.length == MAX_CAPACITY) {
            throw new IllegalStateException("More than " + MAX_CAPACITY / 2 + " keys in one restore of heap state: "
                    + "use the RocksDB state backend for state of this size");
        }
        long[] oldSlots = slots;
        long[] oldKeys = keys;
        slots = new long[oldSlots.length * 2];
        keys = new long[slots.length];
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
