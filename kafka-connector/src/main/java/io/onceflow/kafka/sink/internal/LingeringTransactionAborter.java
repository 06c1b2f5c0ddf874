package io.onceflow.kafka.sink.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aborts the transactions a sink subtask may have left open, so that none hangs: an open transaction pins the
 * last stable offset of every partition it wrote to, and every {@code read_committed} consumer of those
 * partitions stalls until the broker aborts it after {@code transaction.timeout.ms} (FLINK-39218,
 * FLINK-40626). Run it when a subtask starts, after the pre-committed transactions restored from its checkpoint
 * were committed ({@link TransactionalProducer#resumeAndCommit}) and before it begins new ones.
 *
 * <h2>Strategy: listing, not probing</h2>
 * It asks the cluster which transactions are open: {@code Admin.listTransactions} filtered to state
 * {@code ONGOING} and, on the broker, to the regular expression {@code <prefix>-<subtask>-[0-9]+}
 * (KIP-1152; with an older broker the filter is applied here), then checks each id's form with
 * {@link TransactionalIdPool#parse}. Each transaction found that is not to be kept is aborted by calling
 * {@code initTransactions()} on a producer with its transactional id: the coordinator bumps the epoch
 * (fencing any zombie still holding the id), aborts the open transaction and returns only once the abort
 * markers are written, so the last stable offset moves on at once.
 * <p>The alternative, probing (Flink's older way: {@code initTransactions()} on {@code <prefix>-<subtask>-n} for
 * n = 0, 1, ... until an id that was never used), costs one InitProducerId round trip per id ever used, grows
 * with every restart loop that used new ids, makes start-up slow (FLINK-13498, FLINK-23854), registers ids
 * that did not exist (broker memory for {@code transactional.id.expiration.ms}), and misses ids beyond the
 * first gap. Listing costs one request per broker whatever the history, finds every open transaction of the
 * prefix (also beyond a gap, and also those of subtask indexes of an earlier, larger parallelism, through
 * {@link #abortLingering(String, IntPredicate, Set)}), and touches only ids that hold an open transaction. It
 * needs DESCRIBE on the transactional ids (a principal that may write them usually may).
 */
public final class LingeringTransactionAborter {
    private static final Logger LOG = LoggerFactory.getLogger(LingeringTransactionAborter.class);

    /** The longest {@link #topicsOf} waits for the coordinators' answer. */
    static final long TOPICS_TIMEOUT_MS = 10_000;

    private final Properties producerProperties;
    private final Admin admin;
    private final long timeoutMs;
    private final java.util.function.Consumer<String> abortById;
    private java.util.function.Consumer<Set<String>> topicsOfAborted = topics -> { };

    /**
     * @param producerProperties the sink's producer properties (bootstrap servers, security,
     *                           {@code transaction.timeout.ms}); the aborting producers use them
     * @param admin              an Admin client of the same cluster, not closed here
     */
    public LingeringTransactionAborter(Properties producerProperties, Admin admin) {
        this(producerProperties, admin, null);
    }

    /**
     * @param abortById aborts the open transaction of one id, by initialising a producer of it
     *                  ({@code initTransactions()} must have returned); for a caller that keeps that producer to
     *                  write with. Null: a producer is initialised and closed.
     */
    public LingeringTransactionAborter(Properties producerProperties, Admin admin,
                                       java.util.function.Consumer<String> abortById) {
        this.producerProperties = Objects.requireNonNull(producerProperties, "producerProperties");
        this.admin = Objects.requireNonNull(admin, "admin");
        this.timeoutMs = TransactionalProducer.maxBlockMs(producerProperties);
        this.abortById = abortById;
    }

    /**
     * Hands {@code listener} the topics the transactions about to be aborted wrote to, asked from their coordinator
     * right before the aborts (which make it forget them): where a sink sweeps for abort markers the broker may drop.
     */
    public LingeringTransactionAborter withTopicsOfAborted(java.util.function.Consumer<Set<String>> listener) {
        this.topicsOfAborted = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /**
     * Aborts every open transaction of the ids {@code <prefix>-<subtask>-<n>}, except those in {@code keepOpen}
     * (pre-committed transactions still to be committed).
     *
     * @return the transactional ids whose transaction was aborted
     */
    public List<String> abortLingering(String prefix, int subtask, Set<String> keepOpen) {
        return abortLingering(prefix, s -> s == subtask, keepOpen, escape(prefix) + "-" + subtask + "-[0-9]+");
    }

    /**
     * Aborts every open transaction of the ids {@code <prefix>-<s>-<n>} for each subtask index {@code s} the
     * predicate accepts (e.g. after a scale-in: this subtask's index and those that no longer exist), except
     * those in {@code keepOpen}.
     *
     * @return the transactional ids whose transaction was aborted
     */
    public List<String> abortLingering(String prefix, IntPredicate subtasks, Set<String> keepOpen) {
        return abortLingering(prefix, subtasks, keepOpen, escape(prefix) + "-[0-9]+-[0-9]+");
    }

    /**
     * Aborts every open transaction whose id matches {@code regex} (a full match) and {@code abortIf}: for
     * sweeping whole id namespaces, e.g. those of a sink's earlier parallelism once nothing can refer to them.
     *
     * @return the transactional ids whose transaction was aborted
     */
    public List<String> abortMatching(String regex, java.util.function.Predicate<String> abortIf) {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
        List<TransactionListing> matching = new ArrayList<>();
        for (TransactionListing l : listOngoing(regex)) {
            if (p.matcher(l.transactionalId()).matches() && abortIf.test(l.transactionalId())) {
                matching.add(l);
            }
        }
        reportTopics(matching);
        List<String> aborted = new ArrayList<>();
        for (TransactionListing l : matching) {
            abort(l);
            aborted.add(l.transactionalId());
        }
        if (!aborted.isEmpty()) {
            LOG.info("aborted {} lingering transaction(s) matching {}: {}", aborted.size(), regex, aborted);
        }
        return aborted;
    }

    private List<String> abortLingering(String prefix, IntPredicate subtasks, Set<String> keepOpen, String pattern) {
        Objects.requireNonNull(keepOpen, "keepOpen");
        long begin = System.nanoTime();
        TreeMap<String, TransactionListing> lingering = new TreeMap<>();
        for (TransactionListing l : listOngoing(pattern)) {
            TransactionalIdPool.parse(l.transactionalId(), prefix)
                    .filter(p -> subtasks.test(p.subtask()))
                    .filter(p -> !keepOpen.contains(l.transactionalId()))
                    .ifPresent(p -> lingering.put(l.transactionalId(), l));
        }
        reportTopics(lingering.values());
        List<String> aborted = new ArrayList<>();
        for (TransactionListing l : lingering.values()) {
            abort(l);
            aborted.add(l.transactionalId());
        }
        LOG.info("aborted {} lingering transaction(s) of {}-* in {} ms: {}", aborted.size(), prefix,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin), aborted);
        return aborted;
    }

    private void reportTopics(Collection<TransactionListing> toAbort) {
        if (!toAbort.isEmpty()) {
            topicsOfAborted.accept(topicsOf(admin, toAbort.stream().map(TransactionListing::transactionalId).toList(),
                    Math.min(TOPICS_TIMEOUT_MS, timeoutMs)));
        }
    }

    /**
     * The topics the open transactions of {@code transactionalIds} wrote to, as their coordinators know them (each
     * partition joins a transaction there before its first record is appended). Best effort: a transaction that is
     * not open, or a question that fails (logged), adds none.
     *
     * @param producerProperties the sink's producer properties: the question takes at most their {@code max.block.ms}
     *                           and {@value #TOPICS_TIMEOUT_MS} ms, so that an unreachable cluster does not double the
     *                           wait of the abort that follows, which meets the same cluster
     */
    public static Set<String> topicsOf(Admin admin, Collection<String> transactionalIds,
                                       Properties producerProperties) {
        return topicsOf(admin, transactionalIds,
                Math.min(TOPICS_TIMEOUT_MS, TransactionalProducer.maxBlockMs(producerProperties)));
    }

    private static Set<String> topicsOf(Admin admin, Collection<String> transactionalIds, long timeoutMs) {
        Set<String> topics = new java.util.TreeSet<>();
        if (transactionalIds.isEmpty()) {
            return topics;
        }
        try {
            // an id its coordinator does not know (expired) holds no transaction to abort, and names no topic
            OpenTransactions.describe(admin, Set.copyOf(transactionalIds), timeoutMs, "cannot tell which topics the "
                    + "open transactions of " + transactionalIds + " wrote to").values()
                    .forEach(d -> d.topicPartitions().forEach(tp -> topics.add(tp.topic())));
        } catch (org.apache.kafka.common.errors.InterruptException e) {
            throw e;
        } catch (RuntimeException e) {
            LOG.warn("{}: should the broker drop an abort marker of theirs where the sink does not write again, the "
                    + "sink's sweeps miss it (kafka-transactions.sh find-hanging finds it)", e.getMessage());
        }
        return topics;
    }

    private Collection<TransactionListing> listOngoing(String pattern) {
        return list(admin, pattern, List.of(TransactionState.ONGOING), timeoutMs);
    }

    /**
     * The transactions whose id matches {@code pattern} (a regular expression; applied by the broker where it can,
     * KIP-1152, else not at all: callers match the ids again) in one of {@code states} (empty: any state).
     */
    static Collection<TransactionListing> list(Admin admin, String pattern, List<TransactionState> states,
                                               long timeoutMs) {
        int timeout = (int) Math.min(Integer.MAX_VALUE, timeoutMs);
        try {
            return admin.listTransactions(new ListTransactionsOptions().filterStates(states).timeoutMs(timeout)
                    .filterOnTransactionalIdPattern(pattern)).all().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof UnsupportedVersionException)) {
                throw new KafkaException("cannot list the transactions: " + e.getCause(), e.getCause());
            }
            LOG.debug("the broker cannot filter transactions by id pattern; filtering here ({})", e.getCause().toString());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new org.apache.kafka.common.errors.TimeoutException("listing the transactions took more than "
                    + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
        try {
            return admin.listTransactions(new ListTransactionsOptions().filterStates(states).timeoutMs(timeout))
                    .all().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new KafkaException("cannot list the transactions: " + e.getCause(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new org.apache.kafka.common.errors.TimeoutException("listing the transactions took more than "
                    + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
    }

    /** initTransactions() on the id: fences its holder and aborts its open transaction, markers included. */
    private void abort(TransactionListing l) {
        LOG.warn("aborting lingering transaction {} (producerId {}) left open by an earlier run", l.transactionalId(),
                l.producerId());
        if (abortById != null) {
            abortById.accept(l.transactionalId());
            return;
        }
        Properties p = TransactionalProducer.producerProperties(l.transactionalId(), producerProperties);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
        }
    }

    /** A regular expression (RE2 and java.util.regex alike) matching {@code s} literally. */
    public static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length() * 2);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 128 && !Character.isLetterOrDigit(c)) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "LingeringTransactionAborter{timeout " + Duration.ofMillis(timeoutMs) + "}";
    }
}
