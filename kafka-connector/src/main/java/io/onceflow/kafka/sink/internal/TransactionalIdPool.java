package io.onceflow.kafka.sink.internal;

import java.util.BitSet;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * The transactional ids of one subtask of a sink: {@code <prefix>-<subtask>-<n>}, with {@code n} taken from a
 * small pool: {@link #acquire()} hands out the lowest {@code n} not in use, {@link #release} gives it back once
 * its transaction is committed or aborted. A subtask needs one id for its open transaction plus one per
 * pre-committed transaction whose checkpoint (and the next one, see below) has not completed yet, so {@code n}
 * stays below that number (a handful) however long the job runs and however often it restarts. Every distinct transactional
 * id costs the broker memory until {@code transactional.id.expiration.ms} (7 days) after its last use, so a new
 * id per checkpoint would pile up (redpanda#12424); a pool does not.
 *
 * <p>When to release: not as soon as an id's transaction committed, but once a later checkpoint, which holds no
 * committable of that id, has completed. Until then a restore goes back to the checkpoint holding the
 * committable and commits it again, which must find that transaction, not a newer one on the same id: a newer
 * one would make the re-commit look fenced (transactions v2) or, under transactions v1, be committed in its
 * place (FLINK-8132, FLINK-40626). On restore, {@link #markInUse} the ids of the restored pre-committed
 * transactions. Not thread-safe.
 */
public final class TransactionalIdPool {
    private final String prefix;
    private final int subtask;
    private final int maxSize;
    private final BitSet inUse = new BitSet();

    /** A pool of at most {@code maxSize} ids; {@link #acquire()} throws beyond that. */
    public TransactionalIdPool(String prefix, int subtask, int maxSize) {
        this.prefix = requirePrefix(prefix);
        if (subtask < 0) {
            throw new IllegalArgumentException("negative subtask index " + subtask);
        }
        if (maxSize < 1) {
            throw new IllegalArgumentException("maxSize must be at least 1: " + maxSize);
        }
        this.subtask = subtask;
        this.maxSize = maxSize;
    }

    /** A pool of at most 1000 ids. */
    public TransactionalIdPool(String prefix, int subtask) {
        this(prefix, subtask, 1000);
    }

    /** {@code <prefix>-<subtask>-<n>}. */
    public static String transactionalId(String prefix, int subtask, int n) {
        requirePrefix(prefix);
        if (subtask < 0 || n < 0) {
            throw new IllegalArgumentException("negative subtask " + subtask + " or counter " + n);
        }
        return prefix + "-" + subtask + "-" + n;
    }

    /**
     * The subtask and counter of a transactional id of this prefix, or empty if the id is not of the form
     * {@code <prefix>-<subtask>-<n>} (so prefix {@code p} matches {@code p-1-0} but not {@code p-1-0-0} nor
     * {@code px-1-0}).
     */
    public static java.util.Optional<Parsed> parse(String transactionalId, String prefix) {
        requirePrefix(prefix);
        if (transactionalId == null || !transactionalId.startsWith(prefix + "-")) {
            return java.util.Optional.empty();
        }
        String rest = transactionalId.substring(prefix.length() + 1);
        int dash = rest.indexOf('-');
        if (dash < 0) {
            return java.util.Optional.empty();
        }
        OptionalInt s = nonNegativeInt(rest.substring(0, dash));
        OptionalInt n = nonNegativeInt(rest.substring(dash + 1));
        if (s.isEmpty() || n.isEmpty()) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new Parsed(s.getAsInt(), n.getAsInt()));
    }

    /** The two numbers of a {@code <prefix>-<subtask>-<n>} id. */
    public record Parsed(int subtask, int counter) {
    }

    public String prefix() {
        return prefix;
    }

    public int subtask() {
        return subtask;
    }

    /** The id with the lowest counter not in use, now in use. */
    public String acquire() {
        int n = inUse.nextClearBit(0);
        if (n >= maxSize) {
            throw new IllegalStateException("all " + maxSize + " transactional ids of " + prefix + "-" + subtask
                    + "-* are in use: too many transactions open at once (checkpoints not completing, or"
                    + " committed transactions not released)");
        }
        inUse.set(n);
        return transactionalId(prefix, subtask, n);
    }

    /** Marks an id as in use, e.g. that of a restored pre-committed transaction until it is committed. */
    public void markInUse(String transactionalId) {
        inUse.set(counterOf(transactionalId));
    }

    /** Gives an id back once its transaction is committed or aborted. */
    public void release(String transactionalId) {
        int n = counterOf(transactionalId);
        if (!inUse.get(n)) {
            throw new IllegalStateException(transactionalId + " is not in use");
        }
        inUse.clear(n);
    }

    public boolean isInUse(String transactionalId) {
        return inUse.get(counterOf(transactionalId));
    }

    /** The ids in use, in counter order. */
    public Set<String> inUse() {
        Set<String> ids = new TreeSet<>((a, b) -> Integer.compare(counterOf(a), counterOf(b)));
        inUse.stream().forEach(n -> ids.add(transactionalId(prefix, subtask, n)));
        return ids;
    }

    private int counterOf(String transactionalId) {
        Objects.requireNonNull(transactionalId, "transactionalId");
        Parsed p = parse(transactionalId, prefix).orElseThrow(() -> new IllegalArgumentException(
                transactionalId + " is not a transactional id of the form " + prefix + "-<subtask>-<n>"));
        if (p.subtask() != subtask) {
            throw new IllegalArgumentException(transactionalId + " belongs to subtask " + p.subtask() + ", not "
                    + subtask);
        }
        if (p.counter() >= maxSize) {
            throw new IllegalArgumentException(transactionalId + " is beyond this pool's " + maxSize + " ids");
        }
        return p.counter();
    }

    private static OptionalInt nonNegativeInt(String s) {
        if (s.isEmpty() || s.length() > 9) {
            return OptionalInt.empty();
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return OptionalInt.empty();
            }
        }
        if (s.length() > 1 && s.charAt(0) == '0') {
            return OptionalInt.empty(); // one spelling per number
        }
        return OptionalInt.of(Integer.parseInt(s));
    }

    private static String requirePrefix(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        if (prefix.isEmpty()) {
            throw new IllegalArgumentException("empty transactional-id prefix");
        }
        return prefix;
    }

    @Override
    public String toString() {
        return "TransactionalIdPool{" + prefix + "-" + subtask + ", in use " + inUse + "}";
    }
}
