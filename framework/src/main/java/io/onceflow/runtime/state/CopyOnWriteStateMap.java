package io.onceflow.runtime.state;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * A hash map whose snapshot costs O(1): a hash array mapped trie whose nodes belong to an
 * <em>edit</em> generation. Writes change nodes of the current generation in place and copy any older
 * node on their path once; {@link #snapshot()} starts a new generation, so everything reachable from
 * the snapshot's root is never changed again and another thread may read it while the owner goes on
 * writing. This is what lets the heap backend take a checkpoint without stopping the task for longer
 * than it takes to call {@link #snapshot()}.
 *
 * <p>Not thread-safe for writers: one owner thread writes; snapshots are read by any thread.
 * Null keys and values are not allowed.
 */
final class CopyOnWriteStateMap<K, V> {

    private static final int BITS = 5;
    private static final int MASK = (1 << BITS) - 1;

    /** An immutable view of the map at the moment of {@link #snapshot()}. */
    static final class Snapshot<K, V> {
        private final Node root;
        private final int size;

        private Snapshot(Node root, int size) {
            this.root = root;
            this.size = size;
        }

        int size() {
            return size;
        }

        @SuppressWarnings("unchecked")
        void forEach(BiConsumer<K, V> action) {
            root.forEach((BiConsumer<Object, Object>) action);
        }
    }

    private Object edit = new Object();
    private Node root = new BitmapNode(edit, 0, new Object[0]);
    private int size;
    /** The key last hashed by the owner and its hash: a value read and then written hashes its key once. */
    private Object lastKey;
    private int lastHash;

    /** The current generation: values that must be copied before a write compare against it. */
    Object edit() {
        return edit;
    }

    int size() {
        return size;
    }

    @SuppressWarnings("unchecked")
    V get(K key) {
        return (V) root.find(0, ownerHash(key), key);
    }

    /**
     * Maps {@code key} to {@code value}.
     *
     * @return true if the key already held this very object (a value changed in place and put again),
     *         which a diff of snapshots cannot see
     */
    boolean put(K key, V value) {
        Objects.requireNonNull(value, "value");
        boolean[] result = new boolean[2]; // [0] added, [1] the same object was there
        root = root.put(edit, 0, ownerHash(Objects.requireNonNull(key, "key")), key, value, result);
        if (result[0]) {
            size++;
        }
        return result[1];
    }

    void remove(K key) {
        boolean[] removed = new boolean[1];
        Node r = root.remove(edit, 0, ownerHash(key), key, removed);
        root = r != null ? r : new BitmapNode(edit, 0, new Object[0]);
        if (removed[0]) {
            size--;
        }
    }

    void clear() {
        edit = new Object();
        root = new BitmapNode(edit, 0, new Object[0]);
        size = 0;
    }

    /** Freezes what the map holds now and starts a new generation. O(1). */
    Snapshot<K, V> snapshot() {
        Snapshot<K, V> s = new Snapshot<>(root, size);
        edit = new Object();
        return s;
    }

    @SuppressWarnings("unchecked")
    void forEach(BiConsumer<K, V> action) {
        root.forEach((BiConsumer<Object, Object>) action);
    }

    /** What changed between two snapshots of one map, entry by entry. */
    interface DiffVisitor<K, V> {
        /** {@code key} is new, or holds another value object than before. */
        void changed(K key, V value) throws java.io.IOException;

        /** {@code key} was removed. */
        void removed(K key) throws java.io.IOException;
    }

    /**
     * Reports every entry that differs between {@code from} and {@code to} (two snapshots of one map,
     * {@code from} the older) without looking at what they share: a write copies the nodes on its path,
     * so a subtree both snapshots hold by identity is unchanged and is skipped whole. Values are compared
     * by identity: a value object changed in place and put again is not seen ({@link #put} tells).
     */
    static <K, V> void diff(Snapshot<K, V> from, Snapshot<K, V> to, DiffVisitor<K, V> visitor)
            throws java.io.IOException {
        @SuppressWarnings("unchecked")
        DiffVisitor<Object, Object> v = (DiffVisitor<Object, Object>) visitor;
        try {
            diffNodes(from.root, to.root, 0, v);
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static void diffNodes(Node a, Node b, int shift, DiffVisitor<Object, Object> v) throws java.io.IOException {
        if (a == b) {
            return;
        }
        if (a instanceof BitmapNode x && b instanceof BitmapNode y) {
            int union = x.bitmap | y.bitmap;
            while (union != 0) {
                int bit = union & -union;
                union &= union - 1;
                boolean inX = (x.bitmap & bit) != 0;
                boolean inY = (y.bitmap & bit) != 0;
                int i = inX ? 2 * x.index(bit) : -1;
                int j = inY ? 2 * y.index(bit) : -1;
                if (inX && inY) {
                    diffSlots(x.array[i], x.array[i + 1], y.array[j], y.array[j + 1], shift + BITS, v);
                } else if (inX) {
                    forEachIn(x.array[i], x.array[i + 1], (k, val) -> removed(v, k));
                } else {
                    forEachIn(y.array[j], y.array[j + 1], (k, val) -> changed(v, k, val));
                }
            }
            return;
        }
        // a collision node on either side: few entries, compared by lookups
        a.forEach((k, val) -> {
            Object now = b.find(shift, hash(k), k);
            if (now == null) {
                removed(v, k);
            } else if (now != val) {
                changed(v, k, now);
            }
        });
        b.forEach((k, val) -> {
            if (a.find(shift, hash(k), k) == null) {
                changed(v, k, val);
            }
        });
    }

    /** One slot of a bitmap node in both snapshots: each is a (key, value) entry or a (null, subtree). */
    private static void diffSlots(Object ak, Object av, Object bk, Object bv, int shift, DiffVisitor<Object, Object> v)
            throws java.io.IOException {
        if (ak == null && bk == null) {
            diffNodes((Node) av, (Node) bv, shift, v);
        } else if (ak != null && bk != null) {
            if (ak.equals(bk)) {
                if (av != bv) {
                    v.changed(bk, bv);
                }
            } else {
                v.removed(ak);
                v.changed(bk, bv);
            }
        } else if (ak != null) {
            // an entry became a subtree holding it and others, or not
            boolean[] found = new boolean[1];
            ((Node) bv).forEach((k, val) -> {
                if (k.equals(ak)) {
                    found[0] = true;
                    if (val != av) {
                        changed(v, k, val);
                    }
                } else {
                    changed(v, k, val);
                }
            });
            if (!found[0]) {
                v.removed(ak);
            }
        } else {
            // a subtree shrank to one entry
            boolean[] found = new boolean[1];
            ((Node) av).forEach((k, val) -> {
                if (k.equals(bk)) {
                    found[0] = true;
                    if (val != bv) {
                        changed(v, bk, bv);
                    }
                } else {
                    removed(v, k);
                }
            });
            if (!found[0]) {
                v.changed(bk, bv);
            }
        }
    }

    private static void forEachIn(Object key, Object valueOrNode, BiConsumer<Object, Object> action) {
        if (key == null) {
            ((Node) valueOrNode).forEach(action);
        } else {
            action.accept(key, valueOrNode);
        }
    }

    private static void changed(DiffVisitor<Object, Object> v, Object key, Object value) {
        try {
            v.changed(key, value);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void removed(DiffVisitor<Object, Object> v, Object key) {
        try {
            v.removed(key);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private int ownerHash(Object key) {
        if (key != lastKey) {
            lastHash = hash(key);
            lastKey = key;
        }
        return lastHash;
    }

    /**
     * Where a key goes in the trie: strings and byte array keys by {@link KeyHashes}, whose JDK hashes
     * collide so often that lookups and checkpoint diffs would scan collision lists with {@code equals}.
     */
    static int hash(Object key) {
        if (key instanceof String s) {
            return KeyHashes.of(s);
        }
        if (key instanceof StableKeys.ByteArrayKey b) {
            return KeyHashes.of(b.bytes());
        }
        int h = key.hashCode();
        return h ^ (h >>> 16);
    }

    private abstract static class Node {
        final Object edit;

        Node(Object edit) {
            this.edit = edit;
        }

        abstract Object find(int shift, int hash, Object key);

        /** {@code added[0]}: the key was new; {@code added[1]}: it held this very value already. */
        abstract Node put(Object edit, int shift, int hash, Object key, Object value, boolean[] added);

        /** Returns the node without the key, or null when it became empty. */
        abstract Node remove(Object edit, int shift, int hash, Object key, boolean[] removed);

        abstract void forEach(BiConsumer<Object, Object> action);
    }

    /**
     * Up to 32 slots chosen by 5 bits of the hash; {@code array} holds, per used slot, either
     * (key, value) or (null, child node).
     */
    private static final class BitmapNode extends Node {
        int bitmap;
        Object[] array;

        BitmapNode(Object edit, int bitmap, Object[] array) {
            super(edit);
            this.bitmap = bitmap;
            this.array = array;
        }

        private int index(int bit) {
            return Integer.bitCount(bitmap & (bit - 1));
        }

        private BitmapNode editable(Object e) {
            return edit == e ? this : new BitmapNode(e, bitmap, array.clone());
        }

        @Override
        Object find(int shift, int hash, Object key) {
            int bit = 1 << ((hash >>> shift) & MASK);
            if ((bitmap & bit) == 0) {
                return null;
            }
            int i = 2 * index(bit);
            Object k = array[i];
            Object v = array[i + 1];
            if (k == null) {
                return ((Node) v).find(shift + BITS, hash, key);
            }
            return key.equals(k) ? v : null;
        }

        @Override
        Node put(Object e, int shift, int hash, Object key, Object value, boolean[] added) {
            int bit = 1 << ((hash >>> shift) & MASK);
            int i = 2 * index(bit);
            if ((bitmap & bit) == 0) {
                BitmapNode n = editable(e);
                Object[] a = new Object[n.array.length + 2];
                System.arraycopy(n.array, 0, a, 0, i);
                a[i] = key;
                a[i + 1] = value;
                System.arraycopy(n.array, i, a, i + 2, n.array.length - i);
                n.array = a;
                n.bitmap |= bit;
                added[0] = true;
                return n;
            }
            Object k = array[i];
            Object v = array[i + 1];
            if (k == null) {
                Node child = (Node) v;
                Node newChild = child.put(e, shift + BITS, hash, key, value, added);
                if (newChild == child) {
                    return this;
                }
                BitmapNode n = editable(e);
                n.array[i + 1] = newChild;
                return n;
            }
            if (key.equals(k)) {
                if (v == value) {
                    added[1] = true;
                    return this;
                }
                BitmapNode n = editable(e);
                n.array[i + 1] = value;
                return n;
            }
            added[0] = true;
            BitmapNode n = editable(e);
            n.array[i] = null;
            n.array[i + 1] = pair(e, shift + BITS, hash(k), k, v, hash, key, value);
            return n;
        }

        @Override
        Node remove(Object e, int shift, int hash, Object key, boolean[] removed) {
            int bit = 1 << ((hash >>> shift) & MASK);
            if ((bitmap & bit) == 0) {
                return this;
            }
            int i = 2 * index(bit);
            Object k = array[i];
            Object v = array[i + 1];
            if (k == null) {
                Node child = (Node) v;
                Node newChild = child.remove(e, shift + BITS, hash, key, removed);
                if (newChild == child) {
                    return this;
                }
                if (newChild != null) {
                    BitmapNode n = editable(e);
                    n.array[i + 1] = newChild;
                    return n;
                }
                return without(e, bit, i);
            }
            if (!key.equals(k)) {
                return this;
            }
            removed[0] = true;
            return without(e, bit, i);
        }

        private Node without(Object e, int bit, int i) {
            if (bitmap == bit) {
                return null;
            }
            BitmapNode n = editable(e);
            Object[] a = new Object[n.array.length - 2];
            System.arraycopy(n.array, 0, a, 0, i);
            System.arraycopy(n.array, i + 2, a, i, n.array.length - i - 2);
            n.array = a;
            n.bitmap &= ~bit;
            return n;
        }

        @Override
        void forEach(BiConsumer<Object, Object> action) {
            Object[] a = array;
            for (int i = 0; i < a.length; i += 2) {
                if (a[i] == null) {
                    ((Node) a[i + 1]).forEach(action);
                } else {
                    action.accept(a[i], a[i + 1]);
                }
            }
        }
    }

    /** Keys whose full hashes are equal: a flat list of (key, value). */
    private static final class CollisionNode extends Node {
        final int hash;
        Object[] array;

        CollisionNode(Object edit, int hash, Object[] array) {
            super(edit);
            this.hash = hash;
            this.array = array;
        }

        private int indexOf(Object key) {
            for (int i = 0; i < array.length; i += 2) {
                if (key.equals(array[i])) {
                    return i;
                }
            }
            return -1;
        }

        private CollisionNode editable(Object e) {
            return edit == e ? this : new CollisionNode(e, hash, array.clone());
        }

        @Override
        Object find(int shift, int h, Object key) {
            int i = indexOf(key);
            return i < 0 ? null : array[i + 1];
        }

        @Override
        Node put(Object e, int shift, int h, Object key, Object value, boolean[] added) {
            if (h != hash) {
                // a different hash below a collision: split into a bitmap node holding this one
                BitmapNode wrapper = new BitmapNode(e, 1 << ((hash >>> shift) & MASK), new Object[] {null, this});
                return wrapper.put(e, shift, h, key, value, added);
            }
            int i = indexOf(key);
            if (i >= 0) {
                if (array[i + 1] == value) {
                    added[1] = true;
                    return this;
                }
                CollisionNode n = editable(e);
                n.array[i + 1] = value;
                return n;
            }
            CollisionNode n = editable(e);
            Object[] a = Arrays.copyOf(n.array, n.array.length + 2);
            a[a.length - 2] = key;
            a[a.length - 1] = value;
            n.array = a;
            added[0] = true;
            return n;
        }

        @Override
        Node remove(Object e, int shift, int h, Object key, boolean[] removed) {
            int i = indexOf(key);
            if (i < 0) {
                return this;
            }
            removed[0] = true;
            if (array.length == 2) {
                return null;
            }
            CollisionNode n = editable(e);
            Object[] a = new Object[n.array.length - 2];
            System.arraycopy(n.array, 0, a, 0, i);
            System.arraycopy(n.array, i + 2, a, i, n.array.length - i - 2);
            n.array = a;
            return n;
        }

        @Override
        void forEach(BiConsumer<Object, Object> action) {
            Object[] a = array;
            for (int i = 0; i < a.length; i += 2) {
                action.accept(a[i], a[i + 1]);
            }
        }
    }

    /** A node holding two entries whose hashes agree up to {@code shift}. */
    private static Node pair(Object e, int shift, int h1, Object k1, Object v1, int h2, Object k2, Object v2) {
        if (h1 == h2) {
            return new CollisionNode(e, h1, new Object[] {k1, v1, k2, v2});
        }
        if (shift >= 32) {
            // all 32 hash bits used (cannot happen with distinct hashes), kept for safety
            return new CollisionNode(e, h1, new Object[] {k1, v1, k2, v2});
        }
        int b1 = (h1 >>> shift) & MASK;
        int b2 = (h2 >>> shift) & MASK;
        if (b1 == b2) {
            return new BitmapNode(e, 1 << b1, new Object[] {null, pair(e, shift + BITS, h1, k1, v1, h2, k2, v2)});
        }
        Object[] a = b1 < b2 ? new Object[] {k1, v1, k2, v2} : new Object[] {k2, v2, k1, v1};
        return new BitmapNode(e, (1 << b1) | (1 << b2), a);
    }
}
