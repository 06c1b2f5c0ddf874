package io.onceflow.runtime.state;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * A hash map whose snapshot costs O(1), for the heap backend's keyed state.
 *
 * <h2>Shape</h2>
 * Extendible hashing: a directory indexed by the top bits of a key's hash points to segments, each a small
 * chained hash table indexed by the low bits. A segment that outgrows {@value #MAX_TABLE} buckets splits in two
 * (the directory doubles when it must), so no write ever rehashes more than one segment. A lookup reads the
 * directory, one bucket and its chain: a few memory accesses whatever the size, where a trie walks a level per
 * five bits.
 *
 * <h2>Copy on write</h2>
 * Every entry, segment and directory carries the <em>version</em> (the generation) that created it; only those
 * of the current version are changed in place. {@link #snapshot()} freezes the map by starting a new version:
 * the snapshot keeps the directory as it is, and a write afterwards copies, once per version, the directory, the
 * segment it writes to and the entries of the bucket chain in front of the entry it changes. So another thread
 * may read a snapshot while the owner goes on writing, and a checkpoint stops the task only for
 * {@link #snapshot()}.
 *
 * <p>A snapshot is <em>pinned</em> until {@link Snapshot#release()}: once every snapshot that can see an entry
 * is released (no pinned one is of its version or newer), a new value of its key is written into the entry
 * itself, which becomes the current version's, instead of into a copy. A map whose snapshots are written and
 * released between checkpoints so copies an entry only when a write falls while a snapshot is being read, as
 * Flink's copy-on-write state table does, rather than at the first write of every version. A snapshot never
 * released costs only that: its entries are copied as they would be without pins.
 *
 * <h2>What changed</h2>
 * With change tracking on, each version logs the keys written and removed in it; {@link #diff} reports what
 * differs between two snapshots from those logs alone, in time proportional to the writes between them, not to
 * the size of the map. The logs are chained from a snapshot to older ones until {@link #forgetBefore} cuts the
 * chain at a snapshot no older one will be compared with.
 *
 * <p>Not thread-safe for writers: one owner thread writes; snapshots are read by any thread.
 * Null keys and values are not allowed.
 */
final class CopyOnWriteStateMap<K, V> {

    /** Buckets of a segment before it splits instead of growing (a segment holds up to three quarters of that). */
    static final int MAX_TABLE = 1024;
    /** The directory doubles only up to one slot per this many entries (or 1,024 slots): skewed hashes grow a segment. */
    private static final int ENTRIES_PER_SLOT = 64;
    private static final int MAX_DEPTH = 30;
    /**
     * The logs a snapshot chains to hold at most this many entries, or twice the map's size if more: past that a
     * delta would be no smaller than a base, so the chain is cut (a storage outage must not fill the heap with
     * logs of snapshots never written).
     */
    static final int MIN_LOG_BUDGET = 1 << 20;

    /**
     * An immutable view of the map at the moment of {@link #snapshot()}, readable by any thread until
     * {@link #release()}d; afterwards only its place in the history remains ({@link #canDiff}, {@link #diff}'s
     * older side).
     */
    static final class Snapshot<K, V> {
        private final CopyOnWriteStateMap<?, ?> owner;
        private final Segment[] dir;
        private final int depth;
        private final int size;
        private final int version;
        private final Generation generation;
        private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

        private Snapshot(CopyOnWriteStateMap<?, ?> owner, Segment[] dir, int depth, int size, int version,
                         Generation generation) {
            this.owner = owner;
            this.dir = dir;
            this.depth = depth;
            this.size = size;
            this.version = version;
            this.generation = generation;
        }

        /**
         * Says nobody reads the snapshot's entries any more: the map may write into them. Any thread, once;
         * later calls do nothing. Reading it afterwards may see later values.
         */
        void release() {
            if (released.compareAndSet(false, true)) {
                owner.unpin(version);
            }
        }

        int size() {
            return size;
        }

        void forEach(BiConsumer<K, V> action) {
            forEach(action, TOUCH_AHEAD);
        }

        /** {@link #forEach(BiConsumer)}, loading the entries of {@code touchAhead} buckets before visiting them. */
        @SuppressWarnings("unchecked")
        void forEach(BiConsumer<K, V> action, int touchAhead) {
            CopyOnWriteStateMap.forEach(dir, depth, (BiConsumer<Object, Object>) action, touchAhead);
        }

        @SuppressWarnings("unchecked")
        V get(Object key) {
            return (V) CopyOnWriteStateMap.find(dir, depth, hash(key), key);
        }
    }

    /** A new version's log starts with room for at most this many keys, more only as it grows. */
    static final int MAX_PRESIZED_LOG = 1 << 16;

    /** The keys written and removed in one version, and the version before it (until forgotten). */
    private static final class Generation {
        final int version;
        /** The entries this version created or changed: each stays its key's entry until the version ends, or is removed. */
        List<Entry> changed;
        List<Object> removed = new ArrayList<>();
        volatile Generation previous;
        /** Its logs were dropped by {@link #forgetBefore}: no comparison may span this version. */
        volatile boolean forgotten;

        /**
         * @param expected how many keys it will likely log (the version before it logged as many); the log starts at
         *                 that size, up to {@link #MAX_PRESIZED_LOG} (a restore logs every key once)
         */
        Generation(int version, Generation previous, boolean logged, int expected) {
            this.version = version;
            this.changed = new ArrayList<>(logged ? Math.min(expected, MAX_PRESIZED_LOG) : 0);
            this.previous = previous;
            this.forgotten = !logged;
        }
    }

    private static final class Entry {
        final Object key;
        final int hash;
        Object value;
        Entry next;
        /** The version that created this entry, shifted left by one; the low bit: its key is in that version's log. */
        int stamp;

        Entry(Object key, int hash, Object value, Entry next, int stamp) {
            this.key = key;
            this.hash = hash;
            this.value = value;
            this.next = next;
            this.stamp = stamp;
        }

        int version() {
            return stamp >>> 1;
        }
    }

    /** A chained hash table for the hashes that share its top {@code depth} bits. */
    private static final class Segment {
        Entry[] table;
        int size;
        final int depth;
        final int version;

        Segment(Entry[] table, int size, int depth, int version) {
            this.table = table;
            this.size = size;
            this.depth = depth;
            this.version = version;
        }
    }

    private final boolean tracking;
    /** The versions of the snapshots not yet released, with how many of each; guarded by itself. */
    private final java.util.TreeMap<Integer, Integer> pinned = new java.util.TreeMap<>();
    /** The newest version a snapshot not yet released is of, 0 if none: entries of later versions can change in place. */
    private volatile int newestPinned;
    private int version = 1;
    private Generation generation;
    private Segment[] dir = {new Segment(new Entry[2], 0, 0, 1)};
    private int dirVersion = 1;
    private int depth;
    private int size;
    /** The key last hashed by the owner and its hash: a value read and then written hashes its key once. */
    private Object lastKey;
    private int lastHash;

    /** A map that logs its changes, so that {@link #diff} can compare its snapshots. */
    CopyOnWriteStateMap() {
        this(true);
    }

    /** @param trackChanges whether to log what each version writes: {@link #diff} needs it, nothing else does */
    CopyOnWriteStateMap(boolean trackChanges) {
        this.tracking = trackChanges;
        this.generation = new Generation(1, null, trackChanges, 10);
    }

    /**
     * Sizes a new map, still empty, for about {@code expected} entries, in the shape filling it would have grown
     * to: a restore knows how many entries it will put, and so doubles and splits nothing on the way. Does
     * nothing to a map that was written to or snapshotted.
     */
    void presize(int expected) {
        if (size != 0 || version != 1 || depth != 0) {
            return;
        }
        int perSegment = MAX_TABLE - (MAX_TABLE >>> 2); // a segment splits past three quarters of its buckets
        if (expected <= perSegment) {
            int buckets = 2;
            while (buckets - (buckets >>> 2) < expected) {
                buckets <<= 1;
            }
            dir = new Segment[] {new Segment(new Entry[buckets], 0, 0, version)};
            return;
        }
        int d = 0;
        while (((long) perSegment << d) < expected && d < MAX_DEPTH) {
            d++;
        }
        Segment[] segments = new Segment[1 << d];
        for (int i = 0; i < segments.length; i++) {
            segments[i] = new Segment(new Entry[MAX_TABLE], 0, d, version);
        }
        dir = segments;
        dirVersion = version;
        depth = d;
    }

    /** The current generation: values that must be copied before a write compare against it. */
    Object edit() {
        return generation;
    }

    int size() {
        return size;
    }

    @SuppressWarnings("unchecked")
    V get(K key) {
        return (V) find(dir, depth, ownerHash(key), key);
    }

    /**
     * Maps {@code key} to {@code value}.
     *
     * @return true if the key already held this very object (a value changed in place and put again),
     *         which a diff of snapshots cannot see
     */
    boolean put(K key, V value) {
        Objects.requireNonNull(value, "value");
        int h = ownerHash(Objects.requireNonNull(key, "key"));
        int s = slot(h, depth);
        Entry[] table = dir[s].table;
        int b = h & (table.length - 1);
        Entry found = chainFind(table[b], h, key);
        if (found != null) {
            if (found.value == value) {
                return true;
            }
            if (found.version() == version || found.version() > newestPinned) {
                // no pinned snapshot sees it (created in this version, or every snapshot that can see it was
                // released): changed in place; an older one becomes this version's, still to be logged (the
                // segments and entries of older versions that lead to it stay as they are, so stay shared)
                if (found.version() != version) {
                    found.stamp = version << 1;
                }
                found.value = value;
                if ((found.stamp & 1) == 0) {
                    logChanged(found);
                }
                return false;
            }
            Segment seg = writable(s);
            Entry prev = copyChainUpTo(seg, b, found);
            Entry copy = new Entry(found.key, h, value, found.next, version << 1);
            link(seg, b, prev, copy);
            logChanged(copy);
            return false;
        }
        Segment seg = writable(s);
        Entry added = new Entry(key, h, value, seg.table[b], version << 1);
        seg.table[b] = added;
        logChanged(added);
        seg.size++;
        size++;
        if (seg.size > seg.table.length - (seg.table.length >>> 2)) {
            grow(s, seg);
        }
        return false;
    }

    void remove(K key) {
        int h = ownerHash(key);
        int s = slot(h, depth);
        Entry[] table = dir[s].table;
        int b = h & (table.length - 1);
        Entry found = chainFind(table[b], h, key);
        if (found == null) {
            return;
        }
        Segment seg = writable(s);
        link(seg, b, copyChainUpTo(seg, b, found), found.next);
        seg.size--;
        size--;
        if (tracking) {
            generation.removed.add(found.key);
        }
    }

    /** Freezes what the map holds now and starts a new version. O(1), unless the logs are over their budget. */
    Snapshot<K, V> snapshot() {
        Snapshot<K, V> s = new Snapshot<>(this, dir, depth, size, version, generation);
        synchronized (pinned) {
            pinned.merge(version, 1, Integer::sum);
            newestPinned = version;
        }
        version++;
        generation = new Generation(version, tracking && logsWithinBudget() ? generation : null, tracking,
                generation.changed.size());
        return s;
    }

    private void unpin(int snapshotVersion) {
        synchronized (pinned) {
            pinned.computeIfPresent(snapshotVersion, (v, n) -> n == 1 ? null : n - 1);
            newestPinned = pinned.isEmpty() ? 0 : pinned.lastKey();
        }
    }

    /** Whether the logs chained from the current version hold no more than the budget ({@link #MIN_LOG_BUDGET}). */
    private boolean logsWithinBudget() {
        long logged = 0;
        long budget = Math.max(2L * size, MIN_LOG_BUDGET);
        for (Generation g = generation; g != null && !g.forgotten && logged <= budget; g = g.previous) {
            logged += g.changed.size() + g.removed.size();
        }
        return logged <= budget;
    }

    @SuppressWarnings("unchecked")
    void forEach(BiConsumer<K, V> action) {
        forEach(dir, depth, (BiConsumer<Object, Object>) action, TOUCH_AHEAD);
    }

    // ------------------------------------------------------------------ what changed between snapshots

    /** What changed between two snapshots of one map, entry by entry. */
    interface DiffVisitor<K, V> {
        /** {@code key} is new, or holds another value object than before (or was written and holds it again). */
        void changed(K key, V value) throws java.io.IOException;

        /** {@code key} is not in the newer snapshot (it was removed, or added and removed again between them). */
        void removed(K key) throws java.io.IOException;
    }

    /**
     * Whether {@link #diff} can compare the two: snapshots of one map that tracks its changes, {@code from} not
     * newer than {@code to}, and the logs between them not forgotten.
     */
    static boolean canDiff(Snapshot<?, ?> from, Snapshot<?, ?> to) {
        return from.owner == to.owner && from.version <= to.version && between(from, to) != null;
    }

    /**
     * Reports every entry that may differ between {@code from} and {@code to} (two snapshots of one map,
     * {@code from} the older), from the keys the versions between them logged, each key once, as {@code to}
     * holds it: nothing they share, every key written or removed between them (so also a key given its old value
     * back, or added and removed again). {@code to} must not be released yet; {@code from} may be, since only
     * its place in the history is used. A value object changed in place and put again is not seen ({@link #put}
     * tells).
     *
     * @throws IllegalStateException if the two cannot be compared ({@link #canDiff})
     */
    static <K, V> void diff(Snapshot<K, V> from, Snapshot<K, V> to, DiffVisitor<K, V> visitor)
            throws java.io.IOException {
        diff(from, to, visitor, TOUCH_AHEAD);
    }

    /**
     * How many logged entries {@link #diff} (or buckets' entries, {@link #forEach}) loads ahead of the visitor. A
     * version's log holds its entries in the order they were first written, spread all over the heap, and so are
     * their keys and values: visited one by one, each entry's loads wait for memory in turn behind the visitor's long
     * serializing step. Loaded first in a short loop that only reads each entry's key and value headers, the loads of
     * a group are issued together and their waits overlap; the visitor then finds them in the cache (a group of 16
     * stays well within the first level's).
     */
    static final int TOUCH_AHEAD = 16;

    /**
     * Never written in fact: {@link #touch} would write here what its loads found, so that the compiler keeps them; it
     * never finds anything, so the snapshot threads share no written line.
     */
    @SuppressWarnings("unused")
    private static int touched;

    /** {@link #diff}, loading {@code touchAhead} logged entries before visiting them (1: none ahead). */
    static <K, V> void diff(Snapshot<K, V> from, Snapshot<K, V> to, DiffVisitor<K, V> visitor, int touchAhead)
            throws java.io.IOException {
        checkTouchAhead(touchAhead);
        List<Generation> generations = from.owner == to.owner && from.version <= to.version ? between(from, to) : null;
        if (generations == null) {
            throw new IllegalStateException("These snapshots cannot be compared: the changes between them were not "
                    + "kept (another map, a map without change tracking, or history forgotten)");
        }
        @SuppressWarnings("unchecked")
        DiffVisitor<Object, Object> v = (DiffVisitor<Object, Object>) visitor;
        if (generations.size() == 1 && generations.get(0).removed.isEmpty()) {
            // One version without removals, the common case of one checkpoint after the other: its log holds each
            // key it wrote once (the first write in a version logs the entry; later ones find it logged), as the
            // very entry the newer snapshot holds, frozen since. No lookups: the cost is the log's length.
            List<Entry> log = generations.get(0).changed;
            int size = log.size();
            for (int start = 0; start < size; start += touchAhead) {
                int end = Math.min(size, start + touchAhead);
                if (touchAhead > 1) {
                    touch(log, start, end);
                }
                for (int i = start; i < end; i++) {
                    Entry e = log.get(i);
                    v.changed(e.key, e.value);
                }
            }
            return;
        }
        Set<Object> seen = new HashSet<>();
        for (Generation g : generations) {
            for (Entry e : g.changed) {
                report(e.key, to, seen, v);
            }
            for (Object key : g.removed) {
                report(key, to, seen, v);
            }
        }
    }

    private static void checkTouchAhead(int touchAhead) {
        if (touchAhead < 1) {
            throw new IllegalArgumentException("At least one entry at a time, not " + touchAhead);
        }
    }

    /** Loads the log's entries {@code from} to {@code end}, their keys' and their values' headers into the cache. */
    private static void touch(List<Entry> log, int from, int end) {
        int n = 0;
        for (int i = from; i < end; i++) {
            n += touch(log.get(i));
        }
        if (n != 0) {
            touched += n;
        }
    }

    /** Loads one entry, its key's and its value's header; returns 0 (what the compiler cannot know). */
    private static int touch(Entry e) {
        Object value = e.value;
        int n = e.key.getClass() == Entry.class ? 1 : 0; // never an entry: the class word's load is what counts
        return value != null && value.getClass() == Entry.class ? n + 1 : n;
    }

    /** Reports {@code key} as {@code to} holds it, the first time it comes up (the older side may be released). */
    private static void report(Object key, Snapshot<?, ?> to, Set<Object> seen, DiffVisitor<Object, Object> v)
            throws java.io.IOException {
        if (!seen.add(key)) {
            return;
        }
        Object now = to.get(key);
        if (now != null) {
            v.changed(key, now);
        } else {
            v.removed(key);
        }
    }

    /** The logs of the versions after {@code from} up to {@code to}, newest first; null if some are forgotten. */
    private static List<Generation> between(Snapshot<?, ?> from, Snapshot<?, ?> to) {
        List<Generation> generations = new ArrayList<>();
        for (Generation g = to.generation; g != null && g.version > from.version; g = g.previous) {
            if (g.forgotten) {
                return null;
            }
            generations.add(g);
            if (g.version == from.version + 1) {
                return generations;
            }
        }
        return from.version == to.version ? generations : null;
    }

    /**
     * Drops the logs older than {@code s}: afterwards only snapshots from {@code s} on can be compared
     * ({@link #canDiff}). Keeps a map whose snapshots are compared, one after another, from holding every
     * key ever written.
     */
    static void forgetBefore(Snapshot<?, ?> s) {
        Generation g = s.generation; // the changes up to s: only a comparison with an older one needs them
        g.forgotten = true;
        g.previous = null;
        g.changed = List.of();
        g.removed = List.of();
    }

    // ------------------------------------------------------------------ the structure

    private void logChanged(Entry e) {
        if (tracking) {
            generation.changed.add(e);
            e.stamp |= 1;
        }
    }

    private static int slot(int hash, int depth) {
        return depth == 0 ? 0 : hash >>> (32 - depth);
    }

    private static Entry chainFind(Entry e, int hash, Object key) {
        for (; e != null; e = e.next) {
            if (e.hash == hash && (e.key == key || key.equals(e.key))) {
                return e;
            }
        }
        return null;
    }

    private static Object find(Segment[] dir, int depth, int hash, Object key) {
        Entry[] table = dir[slot(hash, depth)].table;
        Entry e = chainFind(table[hash & (table.length - 1)], hash, key);
        return e == null ? null : e.value;
    }

    private static void forEach(Segment[] dir, int depth, BiConsumer<Object, Object> action, int touchAhead) {
        checkTouchAhead(touchAhead);
        for (int i = 0; i < dir.length; i += 1 << (depth - dir[i].depth)) {
            Entry[] table = dir[i].table;
            for (int start = 0; start < table.length; start += touchAhead) {
                int end = Math.min(table.length, start + touchAhead);
                if (touchAhead > 1) {
                    touchChains(table, start, end);
                }
                for (int b = start; b < end; b++) {
                    for (Entry e = table[b]; e != null; e = e.next) {
                        action.accept(e.key, e.value);
                    }
                }
            }
        }
    }

    /** {@link #touch} for the entries of the buckets {@code start} to {@code end}: a whole state's write. */
    private static void touchChains(Entry[] table, int start, int end) {
        int n = 0;
        for (int b = start; b < end; b++) {
            for (Entry e = table[b]; e != null; e = e.next) {
                n += touch(e);
            }
        }
        if (n != 0) {
            touched += n;
        }
    }

    /** The segment at directory slot {@code s}, copied first if an older version (a snapshot) may hold it. */
    private Segment writable(int s) {
        Segment seg = dir[s];
        if (seg.version == version) {
            return seg;
        }
        Segment copy = new Segment(seg.table.clone(), seg.size, seg.depth, version);
        install(copy, firstSlot(s, seg.depth));
        return copy;
    }

    private int firstSlot(int anySlot, int segmentDepth) {
        int shift = depth - segmentDepth;
        return (anySlot >>> shift) << shift;
    }

    /** Points the directory slots of {@code seg}'s hash prefix, from {@code first}, at it. */
    private void install(Segment seg, int first) {
        if (dirVersion != version) {
            dir = dir.clone();
            dirVersion = version;
        }
        for (int i = first, end = first + (1 << (depth - seg.depth)); i < end; i++) {
            dir[i] = seg;
        }
    }

    /**
     * Copies the entries of an older version in front of {@code target} in the bucket chain (their {@code next}
     * is about to change); returns the entry now in front of it, or null if it is the head.
     */
    private Entry copyChainUpTo(Segment seg, int b, Entry target) {
        Entry prev = null;
        for (Entry e = seg.table[b]; e != target; e = e.next) {
            if (e.version() != version) {
                Entry copy = new Entry(e.key, e.hash, e.value, e.next, version << 1);
                link(seg, b, prev, copy);
                prev = copy;
            } else {
                prev = e;
            }
        }
        return prev;
    }

    private static void link(Segment seg, int b, Entry prev, Entry e) {
        if (prev == null) {
            seg.table[b] = e;
        } else {
            prev.next = e;
        }
    }

    /** {@code seg} (of this version, at slot {@code s}) is full: doubles its table, or splits it in two. */
    private void grow(int s, Segment seg) {
        boolean split = seg.table.length >= MAX_TABLE && seg.depth < MAX_DEPTH
                && (seg.depth < depth || dir.length < Math.max(1024, size / ENTRIES_PER_SLOT));
        if (!split) {
            Entry[] bigger = new Entry[seg.table.length * 2];
            moveAll(seg.table, bigger, null, 0);
            seg.table = bigger;
            return;
        }
        if (seg.depth == depth) {
            Segment[] doubled = new Segment[dir.length * 2];
            for (int i = 0; i < dir.length; i++) {
                doubled[2 * i] = dir[i];
                doubled[2 * i + 1] = dir[i];
            }
            dir = doubled;
            dirVersion = version;
            depth++;
            s = 2 * s;
        }
        int bit = 1 << (31 - seg.depth); // the hash bit after the prefix the segment holds
        Entry[] lowTable = new Entry[seg.table.length];
        Entry[] highTable = new Entry[seg.table.length];
        int high = moveAll(seg.table, lowTable, highTable, bit);
        Segment low = new Segment(lowTable, seg.size - high, seg.depth + 1, version);
        int first = firstSlot(s, seg.depth);
        install(low, first);
        install(new Segment(highTable, high, seg.depth + 1, version), first + (1 << (depth - seg.depth - 1)));
    }

    /**
     * Rehashes every entry of {@code from} into {@code to}, or, with {@code bit} set in its hash, into
     * {@code high} (if given), relinking the entries of this version and copying older ones (a snapshot may
     * hold them); returns how many went to {@code high}.
     */
    private int moveAll(Entry[] from, Entry[] to, Entry[] high, int bit) {
        int moved = 0;
        for (Entry head : from) {
            Entry e = head;
            while (e != null) {
                Entry next = e.next;
                Entry[] target = to;
                if (high != null && (e.hash & bit) != 0) {
                    target = high;
                    moved++;
                }
                int b = e.hash & (target.length - 1);
                if (e.version() == version) {
                    e.next = target[b];
                    target[b] = e;
                } else {
                    target[b] = new Entry(e.key, e.hash, e.value, target[b], version << 1);
                }
                e = next;
            }
        }
        return moved;
    }

    private int ownerHash(Object key) {
        if (key != lastKey) {
            lastHash = hash(key);
            lastKey = key;
        }
        return lastHash;
    }

    /**
     * Where a key goes: strings and byte array keys by {@link KeyHashes}, whose JDK hashes collide so often that
     * chains would be scanned with {@code equals}; other keys' {@code hashCode} mixed so that its top bits (which
     * choose the segment) depend on all of it.
     */
    static int hash(Object key) {
        if (key instanceof String s) {
            return KeyHashes.of(s);
        }
        if (key instanceof StableKeys.ByteArrayKey b) {
            return KeyHashes.of(b.bytes());
        }
        int h = key.hashCode();
        h = (h ^ (h >>> 16)) * 0x85EBCA6B;
        h = (h ^ (h >>> 13)) * 0xC2B2AE35;
        return h ^ (h >>> 16);
    }
}
