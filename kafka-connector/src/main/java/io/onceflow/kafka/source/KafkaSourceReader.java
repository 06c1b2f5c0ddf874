package io.onceflow.kafka.source;

import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.metrics.Counter;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.kafka.internal.SharedAdmin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the partitions of one source subtask with an assigned (not subscribed) consumer. The next
 * offset of each partition is {@code last emitted offset + 1}; a bounded partition is done when the
 * consumer's position reaches its stopping offset (position, not the last record's offset: a
 * transaction marker follows the last record of a transaction).
 */
final class KafkaSourceReader<T> implements SourceReader<T, KafkaPartitionSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaSourceReader.class);
    /**
     * How long one poll waits for records. A checkpoint's trigger does not wait for it: {@link #wakeUp} ends the
     * poll. Short polls cost nothing extra: the fetch stays in flight.
     */
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(10);
    private static final int MAX_RECORDS_PER_CALL = 1000;

    private final Properties properties;
    private final KafkaRecordDeserializer<T> deserializer;
    private final boolean commitOffsets;
    private final OffsetOutOfRangePolicy outOfRangePolicy;
    private final SourceReaderContext context;
    private final boolean bounded;
    private final DeadLetterLimits deadLetterLimits;
    private final Counter deadLetters;
    // for the limits (task thread only): since this reader started, and within the checkpoint interval
    private long totalRecords;
    private long totalDeadLetters;
    private long intervalRecords;
    private long intervalDeadLetters;
    private DeadLetter firstOfInterval;
    private final Counter lostToOffsetReset;
    private final Map<TopicPartition, Position> positions = new LinkedHashMap<>();
    /** Records behind the log end per partition, as the consumer last knew it (read by metrics threads). */
    private final Map<TopicPartition, Long> lag = new ConcurrentHashMap<>();
    /** When the lag of partitions not read from yet is next asked for ({@link System#nanoTime}; task thread). */
    private long nextLagAsk;
    /** Whether a poll has returned records since the start: from then on every poll asks for every lag. */
    private boolean recordsReturned;
    private Duration lagAskInterval = LAG_ASK_INTERVAL;
    private final TreeMap<Long, Map<TopicPartition, OffsetAndMetadata>> offsetsToCommit = new TreeMap<>();
    private KafkaConsumer<byte[], byte[]> consumer;
    private Iterator<ConsumerRecord<byte[], byte[]>> buffered = Collections.emptyIterator();
    private Duration pollTimeout = POLL_TIMEOUT;
    /** The task thread is in {@code consumer.poll}: a {@link #wakeUp} ends it. */
    private volatile boolean polling;
    /** What a reader without partitions waits on instead of a poll; {@link #wakeUp} ends the wait. */
    private final Object idle = new Object();
    private boolean idling;
    private boolean idleWoken;
    /** Polls a {@link #wakeUp} ended (task thread; read by tests). */
    private long wokenPolls;
    /** What the source reads, for finding partitions added since the attempt started. */
    private final Discovery discovery;
    /**
     * Whether a look for new partitions is to come, and when ({@link System#nanoTime}). The first comes a moment after
     * the start ({@link #FIRST_DISCOVERY_DELAY}, or the interval if shorter), so that a restart's first records do not
     * wait for its round trip; a partition found then is read that much later, not missed.
     */
    private boolean discoveryScheduled;
    private long nextDiscovery;
    /** The source's Admin client, shared with its other readers in this process; held from start to close if used. */
    private final SharedAdmin admin;
    private boolean holdsAdmin;
    /** Where the start's look at the topics' ids runs, beside the consumer's first fetch. */
    private final Executor background;
    /**
     * The ids of the topics of the partitions restored, as the broker has them now, asked for at the start; awaited
     * before the first record is emitted ({@link #confirmTopicIds}), then null.
     */
    private CompletableFuture<Map<String, Uuid>> topicIdsAtStart;
    /**
     * What becomes of the brokers' answers about the topics' ids before they are compared: for tests, which stand a
     * broker whose metadata lags behind a topic's deletion and creation in for a real one.
     */
    UnaryOperator<Map<String, Uuid>> brokerAnswers = UnaryOperator.identity();
    /** A look for new partitions running in the background, if one is ({@link #startLook}). */
    private CompletableFuture<Look> look;
    /** The next offset of each partition as {@link #look} began, and when it began ({@link System#nanoTime}). */
    private Map<TopicPartition, Long> nextAsLookBegan;
    private long lookBegan;
    /** Whether the consumer reads only committed records (the default), so that open transactions hold it. */
    private final boolean readCommitted;
    /** Records each partition read has waiting behind an open transaction, as the last look found (metrics threads). */
    private final Map<TopicPartition, Long> heldRecords = new ConcurrentHashMap<>();
    /** Partitions held by an open transaction: where, since when. */
    private final Map<TopicPartition, Held> held = new HashMap<>();
    /** How long a partition is held at one offset before a warning says the transaction may be hanging. */
    private Duration heldWarning = Duration.ofMinutes(15);
    /**
     * The next offset of each partition as the last look that found its topic as before began (or as the reader
     * started): records before it were read from the topic the partition's offsets belong to.
     */
    private Map<TopicPartition, Long> confirmedNext = new HashMap<>();
    /**
     * The positions of the last snapshot whose topics were asked for ({@link #confirmSnapshot}), or as the reader
     * started, and that question (null before the first): a snapshot at the same positions read nothing since.
     */
    private Map<TopicPartition, Long> lastAskedAt = Map.of();
    private CompletableFuture<Void> lastAsked;
    /** Positions confirmed by a checkpoint's look at the topics, for the task thread to take into confirmedNext. */
    private final java.util.Queue<Map<TopicPartition, Long>> confirmedByCheckpoints = new ConcurrentLinkedQueue<>();
    /** What a checkpoint's look at the topics found wrong, thrown by the next {@link #pollNext}. */
    private volatile RuntimeException failedConfirmation;

    /**
     * The source's topics (or pattern) and how often to look for partitions added to them: {@code interval} zero
     * looks only as the reader starts (which is where a restarted job finds partitions added while it was down).
     */
    record Discovery(List<String> topics, Pattern pattern, Duration interval) {
        /** Whether the source reads {@code topic}: one of its topics, or one its pattern matches. */
        boolean subscribes(String topic) {
            return pattern != null ? pattern.matcher(topic).matches() : topics.contains(topic);
        }
    }

    private static final class Position {
        final String topic;
        final int partition;
        long next;
        final long stop;
        boolean finished;
        /**
         * A restored partition of a topic the source no longer reads (taken out of its topics, or no longer matching
         * its pattern): not read, and kept in the checkpoints, so that the topic put back resumes where it stopped.
         */
        boolean unsubscribed;
        /** The id of the topic {@link #next} is an offset of; null until known (a checkpoint of before ids). */
        Uuid topicId;

        Position(KafkaPartitionSplit split) {
            this.topic = split.topic();
            this.partition = split.partition();
            this.next = split.nextOffset();
            this.stop = split.stoppingOffset();
            this.finished = split.isBounded() && next >= stop;
            this.topicId = split.topicId();
        }

        boolean bounded() {
            return stop != KafkaPartitionSplit.NO_STOPPING_OFFSET;
        }
    }

    KafkaSourceReader(Properties properties, KafkaRecordDeserializer<T> deserializer, boolean commitOffsets,
                      OffsetOutOfRangePolicy outOfRangePolicy, SourceReaderContext context, boolean bounded,
                      DeadLetterLimits deadLetterLimits, Discovery discovery, SharedAdmin admin, Executor background) {
        this.bounded = bounded;
        this.readCommitted = !"read_uncommitted".equals(properties.get("isolation.level"));
        this.admin = admin;
        this.background = background;
        this.discovery = discovery;
        this.discoveryScheduled = !bounded && discovery != null && context.getSplitIdsAtStart().isPresent();
        Duration first = discovery == null || discovery.interval().isZero() ? FIRST_DISCOVERY_DELAY
                : Collections.min(List.of(discovery.interval(), FIRST_DISCOVERY_DELAY));
        this.nextDiscovery = System.nanoTime() + first.toNanos();
        this.deadLetterLimits = deadLetterLimits;
        this.deadLetters = context.getMetricGroup().counter("deadLetters");
        this.properties = properties;
        this.deserializer = deserializer;
        this.commitOffsets = commitOffsets;
        this.outOfRangePolicy = outOfRangePolicy;
        this.context = context;
        this.lostToOffsetReset = context.getMetricGroup().counter("recordsLostToOffsetReset");
    }

    @Override
    public void addSplits(List<KafkaPartitionSplit> splits) {
        for (KafkaPartitionSplit s : splits) {
            positions.put(s.topicPartition(), new Position(s));
        }
    }

    @Override
    public void start() {
        consumer = new KafkaConsumer<>(properties);
        nextLagAsk = System.nanoTime() + lagAskInterval.toNanos();
        List<TopicPartition> active = new ArrayList<>();
        List<TopicPartition> unsubscribed = new ArrayList<>();
        positions.forEach((tp, p) -> {
            p.unsubscribed = discovery != null && !discovery.subscribes(tp.topic());
            if (p.unsubscribed) {
                unsubscribed.add(tp);
            } else if (!p.finished) {
                active.add(tp);
            }
        });
        if (!unsubscribed.isEmpty()) {
            LOG.warn("Kafka source reader {}: the checkpoint holds partitions of topics the source no longer reads "
                            + "({}): they are not read. Their offsets stay in the checkpoints, so that a topic put "
                            + "back into the source's topics resumes where it stopped", properties.get("client.id"),
                    unsubscribed);
        }
        consumer.assign(active);
        for (TopicPartition tp : active) {
            consumer.seek(tp, positions.get(tp).next);
            lagGauge(tp);
        }
        LOG.info("Kafka source reader {} reads {} from {}", properties.get("client.id"), active,
                positions.isEmpty() ? "(no partitions)" : describe());
        confirmedNext = nextOffsets(); // the start's check (below) or the job's start looked at these topics
        lastAskedAt = nextOffsets();
        // offsets restored from a checkpoint (or of unknown topic ids) are checked against the topics as they are now
        Set<String> topics = new TreeSet<>();
        active.forEach(tp -> {
            if (context.getRestoredCheckpointId().isPresent() || positions.get(tp).topicId == null) {
                topics.add(tp.topic());
            }
        });
        if (!topics.isEmpty() || discoveryScheduled) {
            admin.acquire();
            holdsAdmin = true;
        }
        if (!topics.isEmpty()) {
            topicIdsAtStart = CompletableFuture.supplyAsync(() -> {
                try {
                    return topicIds(topics, START_CHECK_TIMEOUT);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, background);
        }
    }

    /** The ids of those of {@code topics} that exist, as the broker has them now. */
    private Map<String, Uuid> topicIds(Collection<String> topics, Duration timeout) throws Exception {
        return brokerAnswers.apply(ids(describeTopics(topics, timeout)));
    }

    private static Map<String, Uuid> ids(Map<String, TopicDescription> descriptions) {
        Map<String, Uuid> ids = new HashMap<>();
        descriptions.forEach((name, d) -> ids.put(name, d.topicId()));
        return ids;
    }

    /**
     * The ids of those of {@code topics} that exist, asked without holding a thread while the broker answers: the
     * Admin client's thread completes the future (the background executor waits for the shared client only while
     * it is still being created).
     */
    private CompletableFuture<Map<String, Uuid>> topicIdsAsync(Set<String> topics, Duration timeout) {
        if (!admin.ready()) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return topicIds(topics, timeout);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, background);
        }
        return describeTopicsAsync(topics, timeout).thenApply(d -> brokerAnswers.apply(ids(d)));
    }

    /** The descriptions of those of {@code topics} that exist (one that does not is left out). */
    private Map<String, TopicDescription> describeTopics(Collection<String> topics, Duration timeout)
            throws Exception {
        return describeTopicsAsync(topics, timeout).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * {@link #describeTopics}, completed by the Admin client's thread; waits for the shared client if it is still
     * being created.
     */
    private CompletableFuture<Map<String, TopicDescription>> describeTopicsAsync(Collection<String> topics,
                                                                             Duration timeout) {
        Map<String, KafkaFuture<TopicDescription>> futures = admin.get().describeTopics(topics,
                new DescribeTopicsOptions().timeoutMs((int) timeout.toMillis())).topicNameValues();
        Map<String, TopicDescription> found = new ConcurrentHashMap<>();
        CompletableFuture<Map<String, TopicDescription>> all = new CompletableFuture<>();
        AtomicInteger left = new AtomicInteger(futures.size());
        if (futures.isEmpty()) {
            all.complete(found);
        }
        futures.forEach((name, future) -> future.whenComplete((description, failure) -> {
            if (failure != null) {
                Throwable cause = failure;
                while ((cause instanceof ExecutionException || cause instanceof CompletionException)
                        && cause.getCause() != null) {
                    cause = cause.getCause();
                }
                if (!(cause instanceof UnknownTopicOrPartitionException)) {
                    all.completeExceptionally(cause);
                    return;
                }
            } else {
                found.put(name, description);
            }
            if (left.decrementAndGet() == 0) {
                all.complete(found);
            }
        }));
        return all;
    }

    /**
     * Waits for the start's look at the restored partitions' topic ids and acts on it: before any record is emitted,
     * so that a topic deleted and created again while the job was down is never read at the old topic's offsets.
     */
    private void confirmTopicIds() throws Exception {
        CompletableFuture<Map<String, Uuid>> look = topicIdsAtStart;
        topicIdsAtStart = null;
        Map<String, Uuid> ids;
        try {
            ids = look.get(START_CHECK_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Kafka source reader " + properties.get("client.id") + " could not ask the "
                    + "broker for the ids of its topics, to check that they are the topics its checkpoint read: "
                    + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka source reader " + properties.get("client.id") + ": the broker did "
                    + "not tell the ids of its topics within " + START_CHECK_TIMEOUT.toSeconds() + " s", e);
        }
        checkTopicIds(ids, true);
    }

    /**
     * Compares the topic ids {@code ids} (as the broker has them now) with those of the partitions read. A position
     * without an id takes the topic's. A different id is a topic deleted and created again under the same name: the
     * offsets held are the old topic's, and reading the new topic at them would skip its first records without a
     * word. {@code beforeAnyRecord}: no record was emitted since the positions were restored, so that under {@link
     * OffsetOutOfRangePolicy#EARLIEST} an unbounded partition can be read again from the new topic's first offset;
     * otherwise (or by default) the job stops and says what happened. A running reader's look fails the reader (see
     * {@link #recreatedWhileRunning}).
     */
    private void checkTopicIds(Map<String, Uuid> brokerIds, boolean beforeAnyRecord) {
        Map<String, Uuid> ids = withFetched(brokerIds, FetchedTopicIds.of(consumer), idsRead());
        Map<TopicPartition, Uuid> recreated = new LinkedHashMap<>();
        Set<String> gone = new TreeSet<>();
        positions.forEach((tp, p) -> {
            Uuid now = ids.get(tp.topic());
            if (p.finished || p.unsubscribed) {
                return;
            }
            if (now == null) {
                gone.add(tp.topic());
                return;
            }
            if (KafkaPartitionSplit.knownId(now) == null) {
                return; // a broker without topic ids: nothing to compare
            }
            if (p.topicId == null) {
                p.topicId = now;
            } else if (!p.topicId.equals(now)) {
                recreated.put(tp, now);
            }
        });
        if (!gone.isEmpty()) {
            // the consumer waits for it as for any missing topic; created again, it is a new topic the check stops at
            LOG.warn("Kafka source '{}' subtask {}: topics {} no longer exist: their partitions are not read. A topic "
                            + "created again under the same name is a new topic: the next checkpoint or look stops the "
                            + "job, and so does a restart unless OffsetOutOfRangePolicy.EARLIEST reads it from its "
                            + "start",
                    context.getOperatorUid(), context.getIndexOfSubtask(), gone);
        }
        if (recreated.isEmpty()) {
            return;
        }
        boolean bounded = recreated.keySet().stream().anyMatch(tp -> positions.get(tp).bounded());
        if (!beforeAnyRecord) {
            Map<TopicPartition, Uuid> old = new LinkedHashMap<>();
            recreated.keySet().forEach(tp -> old.put(tp, positions.get(tp).topicId));
            throw recreatedWhileRunning(recreated, old, bounded, "at a look for new partitions", confirmedNext,
                    nextOffsets());
        }
        if (bounded || outOfRangePolicy == OffsetOutOfRangePolicy.FAIL) {
            TopicPartition first = recreated.keySet().iterator().next();
            String from = context.getRestoredCheckpointId().isPresent()
                    ? "checkpoint " + context.getRestoredCheckpointId().getAsLong() : "its starting offsets";
            throw new NonRecoverableException("Kafka source '" + context.getOperatorUid() + "' subtask "
                    + context.getIndexOfSubtask() + ": " + which(recreated, positions.get(first).topicId) + ". The "
                    + "offsets restored from " + from + " (" + first + " at " + positions.get(first).next + ") are the "
                    + "old topic's; read at them, the new topic's records before them would be skipped. The job stops "
                    + "rather than skip them. " + todo(bounded, true));
        }
        String which = which(recreated, positions.get(recreated.keySet().iterator().next()).topicId);
        for (Map.Entry<TopicPartition, Uuid> e : recreated.entrySet()) {
            positions.get(e.getKey()).topicId = e.getValue();
        }
        Map<TopicPartition, Long> starts = unwoken(() -> consumer.beginningOffsets(recreated.keySet()));
        LOG.error("Kafka source '{}' subtask {}: DATA LOSS: {}. The records of the old topic this job had not read are "
                        + "lost. Reading the new topic from its first offsets {} as configured "
                        + "(OffsetOutOfRangePolicy.EARLIEST)", context.getOperatorUid(), context.getIndexOfSubtask(),
                which, starts);
        starts.forEach((tp, start) -> {
            positions.get(tp).next = start;
            confirmedNext.put(tp, start);
        });
        // records fetched before the check may be the new topic's at the old offsets: fetched again from the positions
        buffered = Collections.emptyIterator();
        for (TopicPartition tp : consumer.assignment()) {
            consumer.seek(tp, positions.get(tp).next);
        }
    }

    /**
     * The partitions of {@code old} (partition → the id its offsets belong to) whose topic {@code ids} (as the broker
     * has them now) gives another id, with that id; a topic missing from {@code ids} (gone) or without an id (a
     * broker without topic ids) is none of them.
     */
    private static Map<TopicPartition, Uuid> newIds(Map<TopicPartition, Uuid> old, Map<String, Uuid> ids) {
        Map<TopicPartition, Uuid> recreated = new LinkedHashMap<>();
        old.forEach((tp, id) -> {
            Uuid now = KafkaPartitionSplit.knownId(ids.get(tp.topic()));
            if (now != null && !now.equals(id)) {
                recreated.put(tp, now);
            }
        });
        return recreated;
    }

    /**
     * The brokers' answer {@code ids} (topic → id), with the id the consumer fetches by ({@code fetched}, {@link
     * FetchedTopicIds}) for each topic of {@code read} (partition → the id its offsets belong to) where the consumer
     * knows another id: a topic counts as deleted and created again when a broker or the consumer says so. A broker
     * whose metadata lags behind the deletion still gives the old id, or none, while the consumer, whose metadata
     * came from another broker, may already read the new topic at the old offsets; the reverse (the consumer behind)
     * the broker's answer tells.
     */
    private static Map<String, Uuid> withFetched(Map<String, Uuid> ids, Map<String, Uuid> fetched,
                                                 Map<TopicPartition, Uuid> read) {
        Map<String, Uuid> merged = null;
        for (Map.Entry<TopicPartition, Uuid> e : read.entrySet()) {
            String topic = e.getKey().topic();
            Uuid byConsumer = KafkaPartitionSplit.knownId(fetched.get(topic));
            if (byConsumer != null && !byConsumer.equals(e.getValue()) && !byConsumer.equals(ids.get(topic))) {
                if (merged == null) {
                    merged = new HashMap<>(ids);
                }
                merged.put(topic, byConsumer);
            }
        }
        return merged == null ? ids : merged;
    }

    /** The partitions read (those of topics still subscribed) whose topic's id is known, with that id. */
    private Map<TopicPartition, Uuid> idsRead() {
        Map<TopicPartition, Uuid> read = new LinkedHashMap<>();
        positions.forEach((tp, p) -> {
            if (!p.unsubscribed && p.topicId != null) {
                read.put(tp, p.topicId);
            }
        });
        return read;
    }

    private static String which(Map<TopicPartition, Uuid> recreated, Uuid old) {
        TopicPartition first = recreated.keySet().iterator().next();
        return "topic '" + first.topic() + "' (partitions " + recreated.keySet() + ") was deleted and created again: "
                + "its id is " + recreated.get(first) + ", not " + old + " as when this job read it";
    }

    private static String todo(boolean bounded, boolean beforeAnyRecord) {
        return bounded
                ? "A bounded read of the old topic cannot go on in the new one: start the job without its checkpoints"
                : "To read the new topic from its first offset, start the job again with "
                        + "setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST) on the KafkaSource builder "
                        + "(command line: --offset-out-of-range earliest)"
                        + (beforeAnyRecord ? "" : " (the records of it this job read already are then read again)")
                        + ", or start the job without its checkpoints";
    }

    /**
     * The failure of a running reader that found topics deleted and created again ({@code recreated}: partition →
     * the new id; {@code old}: the id its positions are offsets of), {@code noticed} how. Records of a partition from
     * {@code confirmed} (where the reader was as the last look or checkpoint that found the old topic began) to
     * {@code reached} may be the new topic's, read at the old topic's offsets. Under {@link
     * OffsetOutOfRangePolicy#EARLIEST} (unbounded) the job restarts, and its restart reads the new topic from its
     * first offset; otherwise it stops. Built on any thread, from what it is given only.
     */
    private RuntimeException recreatedWhileRunning(Map<TopicPartition, Uuid> recreated, Map<TopicPartition, Uuid> old,
                                                   boolean bounded, String noticed, Map<TopicPartition, Long> confirmed,
                                                   Map<TopicPartition, Long> reached) {
        TopicPartition first = recreated.keySet().iterator().next();
        long to = reached.get(first);
        String what = "Kafka source '" + context.getOperatorUid() + "' subtask " + context.getIndexOfSubtask() + ": "
                + which(recreated, old.get(first)) + ". This reader noticed it while running, " + noticed
                + ": records of the new topic from offset " + confirmed.getOrDefault(first, to) + " of " + first
                + " (where this reader was at the last look or checkpoint that found the old topic) to " + to
                + " may have been read as if they were the old topic's; those before it never were. ";
        if (!bounded && outOfRangePolicy == OffsetOutOfRangePolicy.EARLIEST) {
            return new IllegalStateException(what + "The job restarts: its last completed checkpoint holds none of "
                    + "them, and the restart reads the new topic from its first offset, as configured "
                    + "(OffsetOutOfRangePolicy.EARLIEST)");
        }
        return new NonRecoverableException(what + "The job stops. " + todo(bounded, false));
    }

    private Map<TopicPartition, Long> nextOffsets() {
        Map<TopicPartition, Long> next = new HashMap<>();
        positions.forEach((tp, p) -> next.put(tp, p.next));
        return next;
    }

    private void lagGauge(TopicPartition tp) {
        // records the consumer has not fetched yet; unknown (NaN) until a poll has returned records (of a reader
        // with nothing to read: until LAG_ASK_INTERVAL after the start)
        context.getMetricGroup().gauge("recordsLag", Map.of("partition", tp.toString()), () -> {
            Long l = lag.get(tp);
            return l == null ? Double.NaN : l;
        });
        if (readCommitted) {
            // records after a transaction still open where the reader stands; unknown until the first look
            context.getMetricGroup().gauge("recordsHeldByOpenTransaction", Map.of("partition", tp.toString()), () -> {
                Long h = heldRecords.get(tp);
                return h == null ? Double.NaN : h;
            });
        }
    }

    /**
     * What a look for partitions found: the ids of the source's topics (and of those of the partitions held), and
     * the partitions this reader is to take, with their topic's id and first offset.
     */
    private record Look(Map<String, Uuid> ids, Map<TopicPartition, Uuid> found, Map<TopicPartition, Long> starts,
                        Map<TopicPartition, Ends> ends) {
    }

    /** A partition's last stable offset (where the first transaction still open begins) and its high watermark. */
    private record Ends(long stable, long high) {
    }

    /** Where a partition has been held by a transaction that stays open, since when, and whether that was logged. */
    private record Held(long stable, long sinceNanos, boolean warned) {
    }

    /**
     * Starts a look for partitions on a background thread: the task thread reads on while the broker answers (a look
     * takes a round trip or three, and up to {@link #ADMIN_TIMEOUT} when the broker is unreachable). What the look
     * finds is taken in by {@link #applyLook}.
     */
    private void startLook() {
        long interval = discovery.interval().toNanos();
        discoveryScheduled = interval > 0;
        nextDiscovery = System.nanoTime() + interval;
        Set<String> held = new TreeSet<>();
        positions.forEach((tp, p) -> {
            if (!p.unsubscribed) {
                held.add(tp.topic());
            }
        });
        Set<TopicPartition> taken = new HashSet<>(positions.keySet());
        Set<TopicPartition> reading = readCommitted ? new HashSet<>(consumer.assignment()) : Set.of();
        nextAsLookBegan = nextOffsets();
        lookBegan = System.nanoTime();
        look = CompletableFuture.supplyAsync(() -> {
            try {
                return lookForPartitions(held, taken, reading);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, background);
    }

    /**
     * Partitions of the source's topics that no subtask held as the attempt started were added since (or their
     * topic was, for a pattern): each is read by one subtask, its owner by {@link #owner} (as Flink's Kafka source
     * assigns them), from its first offset, since every record in it came after the job's start. On a background
     * thread, with the Admin client only.
     */
    private Look lookForPartitions(Set<String> held, Set<TopicPartition> taken,
                                   Set<TopicPartition> reading) throws Exception {
        Set<String> known = context.getSplitIdsAtStart().orElseThrow();
        Set<String> topics = new TreeSet<>(held);
        topics.addAll(discovery.pattern() != null
                ? admin.get().listTopics().names().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS).stream()
                        .filter(discovery::subscribes).toList()
                : discovery.topics());
        Map<String, TopicDescription> described = describeTopics(topics, ADMIN_TIMEOUT);
        Map<String, Uuid> ids = ids(described);
        Map<TopicPartition, Uuid> found = new LinkedHashMap<>();
        described.values().stream().sorted(Comparator.comparing(TopicDescription::name)).forEach(d ->
                d.partitions().forEach(info -> {
                    TopicPartition tp = new TopicPartition(d.name(), info.partition());
                    if (discovery.subscribes(tp.topic()) && !taken.contains(tp)
                            && !known.contains(KafkaPartitionSplit.splitId(tp))
                            && owner(tp, context.getParallelism()) == context.getIndexOfSubtask()) {
                        found.put(tp, KafkaPartitionSplit.knownId(d.topicId()));
                    }
                }));
        Map<TopicPartition, Long> starts = new HashMap<>();
        if (!found.isEmpty()) {
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            found.keySet().forEach(tp -> earliest.put(tp, OffsetSpec.earliest()));
            admin.get().listOffsets(earliest).all().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
                    .forEach((tp, info) -> starts.put(tp, info.offset()));
        }
        Map<TopicPartition, Ends> ends;
        try {
            // of the partitions whose topic is there: one that is gone would fail the request for all
            ends = ends(reading.stream().filter(tp -> described.containsKey(tp.topic()))
                    .collect(java.util.stream.Collectors.toSet()));
        } catch (ExecutionException | TimeoutException e) {
            LOG.debug("Kafka source reader {}: could not ask for the last stable offsets of {}: {}",
                    properties.get("client.id"), reading, e.toString());
            ends = Map.of(); // asked again at the next look; the counts of held records stay as they were
        }
        return new Look(ids, found, starts, ends);
    }

    /**
     * The last stable offset and high watermark of each of {@code partitions}: a reader at the last stable offset
     * with records after it waits for the transaction that begins there to end. Two ListOffsets requests.
     */
    private Map<TopicPartition, Ends> ends(Set<TopicPartition> partitions) throws Exception {
        if (partitions.isEmpty()) {
            return Map.of();
        }
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        partitions.forEach(tp -> latest.put(tp, OffsetSpec.latest()));
        // both requests out before waiting for either
        KafkaFuture<Map<TopicPartition, ListOffsetsResultInfo>> stableFuture = admin.get()
                .listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all();
        KafkaFuture<Map<TopicPartition, ListOffsetsResultInfo>> highFuture = admin.get().listOffsets(latest).all();
        long timeout = ADMIN_TIMEOUT.toSeconds();
        Map<TopicPartition, ListOffsetsResultInfo> stable = stableFuture.get(timeout, TimeUnit.SECONDS);
        Map<TopicPartition, ListOffsetsResultInfo> high = highFuture.get(timeout, TimeUnit.SECONDS);
        Map<TopicPartition, Ends> ends = new HashMap<>();
        stable.forEach((tp, info) -> ends.put(tp, new Ends(info.offset(), high.get(tp).offset())));
        return ends;
    }

    /**
     * Counts, for each partition read, the records that wait behind a transaction still open where this reader
     * stands ({@code recordsHeldByOpenTransaction}; under read_committed the lag says 0 meanwhile), and warns once
     * when one partition has been held at the same offset for longer than {@link #heldWarning}: longer than brokers
     * let a transaction stay open by default ({@code transaction.max.timeout.ms}, 15 minutes), the mark of a
     * hanging transaction, which only an abort by hand ends.
     */
    private void checkHeld(Map<TopicPartition, Ends> ends, long lookBegan) {
        ends.forEach((tp, e) -> {
            Position p = positions.get(tp);
            boolean waiting = p != null && !p.finished && p.next >= e.stable() && e.high() > e.stable();
            if (!waiting) {
                heldRecords.put(tp, 0L);
                held.remove(tp);
                return;
            }
            heldRecords.put(tp, e.high() - e.stable());
            Held h = held.get(tp);
            if (h == null || h.stable() != e.stable()) {
                held.put(tp, new Held(e.stable(), lookBegan, false));
            } else if (!h.warned() && lookBegan - h.sinceNanos() >= heldWarning.toNanos()) {
                held.put(tp, new Held(h.stable(), h.sinceNanos(), true));
                LOG.warn("Kafka source '{}' subtask {}: partition {} has been held at offset {} for more than {} s by "
                                + "a transaction that is still open there; {} records after it wait for its end. Open "
                                + "longer than brokers allow by default (transaction.max.timeout.ms, 15 minutes), it "
                                + "may be hanging (a lost marker, or a broker bug): find it with "
                                + "'kafka-transactions.sh --bootstrap-server <broker> find-hanging --broker-id "
                                + "<leader of {}>' and end it with "
                                + "'kafka-transactions.sh ... abort --topic {} --partition {} --start-offset {}'",
                        context.getOperatorUid(), context.getIndexOfSubtask(), tp, e.stable(),
                        (lookBegan - h.sinceNanos()) / 1_000_000_000L, e.high() - e.stable(), tp, tp.topic(),
                        tp.partition(), e.stable());
            }
        });
    }

    /**
     * Takes in a look that has finished: a topic deleted and created again since stops the job ({@link
     * #checkTopicIds}); new partitions are assigned and read from their first offset. A partition this reader takes
     * goes into its next checkpoint; a restart before that finds it again, as new, and reads it from the start
     * again, its output of before the restart never committed. Only between polls, with no fetched record waiting,
     * so the positions kept stay the consumer's. A failed look is logged and tried again later: a partition found
     * late is read late, not lost.
     */
    private void applyLook() throws Exception {
        CompletableFuture<Look> done = look;
        long lookBegan = this.lookBegan;
        look = null;
        if (topicIdsAtStart != null) {
            confirmTopicIds(); // no record emitted yet: the start's look comes first
        }
        Look found;
        try {
            found = done.join();
        } catch (CompletionException | CancellationException failed) {
            long interval = discovery.interval().toNanos();
            long retry = interval > 0 ? Math.min(interval, DISCOVERY_RETRY.toNanos()) : DISCOVERY_RETRY.toNanos();
            discoveryScheduled = true;
            nextDiscovery = System.nanoTime() + retry;
            Throwable cause = failed.getCause() != null ? failed.getCause() : failed;
            LOG.warn("Kafka source reader {}: could not look for partitions added to {} ({}); looking again in {} ms",
                    properties.get("client.id"), subscription(), cause.toString(), retry / 1_000_000);
            return;
        }
        checkTopicIds(found.ids(), false); // a topic deleted and created again since: the job stops
        checkHeld(found.ends(), lookBegan);
        nextAsLookBegan.forEach((tp, next) -> {
            if (found.ids().containsKey(tp.topic())) {
                confirmedNext.merge(tp, next, Math::max); // found as before (a topic that is gone confirms nothing)
            }
        });
        Map<TopicPartition, Uuid> mine = new LinkedHashMap<>(found.found());
        mine.keySet().removeIf(positions::containsKey);
        if (mine.isEmpty()) {
            return;
        }
        mine.forEach((tp, id) -> positions.put(tp, new Position(new KafkaPartitionSplit(tp.topic(), tp.partition(),
                found.starts().get(tp), KafkaPartitionSplit.NO_STOPPING_OFFSET, id))));
        List<TopicPartition> active = new ArrayList<>(consumer.assignment());
        active.addAll(mine.keySet());
        consumer.assign(active); // the partitions kept keep their positions and fetched records
        for (TopicPartition tp : mine.keySet()) {
            consumer.seek(tp, found.starts().get(tp));
            confirmedNext.put(tp, found.starts().get(tp));
            lagGauge(tp);
        }
        LOG.info("Kafka source reader {}: partitions added since the job started, read from their first offsets: {}",
                properties.get("client.id"), mine.keySet().stream().map(tp -> tp + "@" + found.starts().get(tp))
                        .toList());
    }

    private static final Duration FIRST_DISCOVERY_DELAY = Duration.ofSeconds(1);
    /** How often partitions not fetched yet are asked their lag until a poll returns records ({@link #updateLag}). */
    static final Duration LAG_ASK_INTERVAL = Duration.ofSeconds(1);
    /** How long a look for new partitions (the topics, their ids and partitions, first offsets) may take. */
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(5);
    /** How long the start's look at the topics' ids may take (the first records wait for it). */
    private static final Duration START_CHECK_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration DISCOVERY_RETRY = Duration.ofSeconds(10);
    /**
     * How long a checkpoint's question about its topics' ids may take: the checkpoint waits for the answer, and a
     * broker restarting in the meantime answers once it is back, as the sinks' writes wait for it.
     */
    private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(30);

    private String subscription() {
        return discovery.pattern() != null ? "the topics matching '" + discovery.pattern() + "'"
                : String.join(", ", discovery.topics());
    }

    /**
     * The subtask that reads a partition no subtask held at the start: the same for every subtask that asks, and
     * a topic's partitions spread over the subtasks from a start that depends on the topic (Flink's rule).
     */
    static int owner(TopicPartition tp, int parallelism) {
        int start = ((tp.topic().hashCode() * 31) & 0x7FFFFFFF) % parallelism;
        return (start + tp.partition()) % parallelism;
    }

    private String describe() {
        StringBuilder sb = new StringBuilder();
        positions.forEach((tp, p) -> sb.append(tp).append('@').append(p.next).append(p.bounded() ? "<" + p.stop : "").append(' '));
        return sb.toString().trim();
    }

    @Override
    public InputStatus pollNext(ReaderOutput<T> output) throws Exception {
        if (!confirmedByCheckpoints.isEmpty()) {
            Map<TopicPartition, Long> confirmed;
            while ((confirmed = confirmedByCheckpoints.poll()) != null) {
                confirmed.forEach((tp, next) -> confirmedNext.merge(tp, next, Math::max));
            }
        }
        RuntimeException recreated = failedConfirmation;
        if (recreated != null) {
            throw recreated;
        }
        if (allFinished()) {
            return InputStatus.END_OF_INPUT;
        }
        if (!buffered.hasNext()) {
            if (look != null && look.isDone()) {
                applyLook();
            } else if (look == null && discoveryScheduled && System.nanoTime() - nextDiscovery >= 0) {
                startLook();
            }
            if (consumer.assignment().isEmpty()) {
                // an unbounded reader without partitions: nothing comes unless a look finds a new one
                idle(pollTimeout);
                return InputStatus.NOTHING_AVAILABLE;
            }
            if (!fetch(pollTimeout)) {
                return InputStatus.MORE_AVAILABLE;
            }
        }
        if (topicIdsAtStart != null && buffered.hasNext()) {
            confirmTopicIds(); // before the first record: the fetch and the look ran side by side
        }
        int emitted = 0;
        // a poll's records come partition by partition: look a partition's position up once per run of its records
        String topic = null;
        int partition = -1;
        Position p = null;
        while (emitted < MAX_RECORDS_PER_CALL && buffered.hasNext()) {
            ConsumerRecord<byte[], byte[]> r = buffered.next();
            if (r.partition() != partition || !r.topic().equals(topic)) {
                topic = r.topic();
                partition = r.partition();
                p = positions.get(new TopicPartition(topic, partition));
            }
            if (p == null || p.finished || (p.bounded() && r.offset() >= p.stop)) {
                continue;
            }
            T value;
            intervalRecords++;
            totalRecords++;
            try {
                value = deserializer.deserialize(r);
            } catch (Exception e) {
                if (deadLetterLimits == null) {
                    throw new NonRecoverableException("Cannot deserialize the Kafka record at " + r.topic() + "-"
                            + r.partition() + " offset " + r.offset() + ": " + e + ". The job stops rather than skip "
                            + "it: fix the deserializer or the data, then start the job again (it resumes at this "
                            + "record), or send such records to a dead-letter topic (KafkaSource builder: "
                            + "enableDeadLetters(); command line: --dead-letter-topic)", e);
                }
                deadLetter(DeadLetter.of(r, e, context.getJobName(), context.getOperatorUid()), output);
                p.next = r.offset() + 1;
                continue;
            }
            p.next = r.offset() + 1;
            output.collect(value);
            context.recordInputTimestamp(r.timestamp()); // for the job's end-to-end latency
            emitted++;
            if (output.shouldYield()) {
                break; // a barrier goes out behind this record; the rest of the poll's records follow it
            }
        }
        if (!buffered.hasNext()) {
            checkBoundedEnds();
        }
        if (allFinished()) {
            return InputStatus.END_OF_INPUT;
        }
        return emitted > 0 || buffered.hasNext() ? InputStatus.MORE_AVAILABLE : InputStatus.NOTHING_AVAILABLE;
    }

    /**
     * While the job's other tasks start: connects, fetches and keeps the records for {@link #pollNext} (a first
     * fetch of a new consumer takes a metadata request, a connection and the fetch itself). Positions stay.
     */
    @Override
    public void prefetch() throws Exception {
        if (!buffered.hasNext() && !allFinished() && !consumer.assignment().isEmpty()) {
            fetch(Duration.ZERO);
        }
    }

    /** Whether records fetched ahead wait for {@link #pollNext}. */
    boolean hasFetchedAhead() {
        return buffered.hasNext();
    }

    /**
     * Ends a poll that waits for records, or the wait of a reader without partitions. A poll is ended with the
     * consumer's {@code wakeup()}, which it answers with a {@link WakeupException}: it returns no records, and those
     * it fetched stay in the consumer for the next one. Only while the task thread polls; one that comes as the
     * poll returns is left in the consumer and ends its next blocking call, which this reader also takes as an
     * early return (a poll) or retries (the rest).
     */
    @Override
    public void wakeUp() {
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (polling && c != null) {
            c.wakeup();
        }
        synchronized (idle) {
            if (idling) {
                idleWoken = true;
                idle.notifyAll();
            }
        }
    }

    /** Waits as a poll would, for a reader without partitions: {@code timeout}, or until {@link #wakeUp}. */
    private void idle(Duration timeout) throws InterruptedException {
        synchronized (idle) {
            idling = true;
            try {
                if (!idleWoken) {
                    idle.wait(Math.max(1, timeout.toMillis()));
                }
            } finally {
                idling = false;
                idleWoken = false;
            }
        }
    }

    /**
     * A blocking call of the consumer, made again if a wakeup left from a poll ended it. Each {@link WakeupException}
     * takes one pending wakeup, and a trigger whose thread was held up between seeing a poll running and calling
     * {@code wakeup()} may leave another during the call made again: a few tries, not one.
     */
    static <R> R unwoken(Supplier<R> call) {
        for (int tries = 1; ; tries++) {
            try {
                return call.get();
            } catch (WakeupException leftFromAPoll) {
                if (tries == UNWOKEN_TRIES) {
                    throw leftFromAPoll;
                }
            }
        }
    }

    /** How many times {@link #unwoken} makes a call that wakeups left from polls end. */
    private static final int UNWOKEN_TRIES = 5;

    /** Polls that a {@link #wakeUp} ended so far; for tests. */
    long wokenPolls() {
        return wokenPolls;
    }

    /** How long a partition is held at one offset by an open transaction before a warning; for tests. */
    void setHeldWarning(Duration after) {
        this.heldWarning = after;
    }

    /** The partitions a warning said were held by a transaction that may be hanging; for tests. */
    Set<TopicPartition> heldTooLong() {
        Set<TopicPartition> warned = new HashSet<>();
        held.forEach((tp, h) -> {
            if (h.warned()) {
                warned.add(tp);
            }
        });
        return warned;
    }

    /** Records waiting behind an open transaction per partition, as the last look found; for tests. */
    Map<TopicPartition, Long> heldRecords() {
        return Map.copyOf(heldRecords);
    }

    /** Each partition's lag as the consumer last gave it ({@code recordsLag}); for tests. */
    Map<TopicPartition, Long> lag() {
        return Map.copyOf(lag);
    }

    /**
     * How often, and first how long after the start, partitions not fetched yet are asked their lag until a poll
     * returns records; for tests.
     */
    void setLagAskInterval(Duration interval) {
        this.lagAskInterval = interval;
        this.nextLagAsk = System.nanoTime() + interval.toNanos();
    }

    /** How long a poll waits for records unless woken; for tests. */
    void setPollTimeout(Duration timeout) {
        this.pollTimeout = timeout;
    }

    /**
     * Takes each partition's lag ({@code recordsLag}) from the consumer, which has it from the fetches' answers. Of a
     * partition whose end it does not know yet (nothing fetched from it so far), the consumer's {@code currentLag}
     * asks the broker, a request per partition and an INFO line per call until the answer: asked at every poll, each
     * partition of a start would be asked until its first fetch came back. Such partitions are asked at every poll
     * once one has returned records (a fetch has come back, as a rule with the ends of the partitions it asked for),
     * and before that every {@link #LAG_ASK_INTERVAL}, the first time that long after the start (a reader with
     * nothing to read).
     */
    private void updateLag(boolean returnedRecords) {
        recordsReturned |= returnedRecords;
        boolean askUnknown = recordsReturned;
        if (!askUnknown) {
            long now = System.nanoTime();
            askUnknown = now - nextLagAsk >= 0;
            if (askUnknown) {
                nextLagAsk = now + lagAskInterval.toNanos();
            }
        }
        for (TopicPartition tp : consumer.assignment()) {
            if (askUnknown || lag.containsKey(tp)) {
                OptionalLong l = consumer.currentLag(tp);
                if (l.isPresent()) {
                    lag.put(tp, l.getAsLong());
                }
            }
        }
    }

    /** One poll of the consumer into {@link #buffered}; false if an offset was out of range (handled, poll again). */
    private boolean fetch(Duration timeout) throws Exception {
        try {
            polling = true;
            ConsumerRecords<byte[], byte[]> polled;
            try {
                polled = consumer.poll(timeout);
            } catch (WakeupException woken) {
                buffered = Collections.emptyIterator(); // nothing consumed: the records fetched come with the next poll
                wokenPolls++;
                return true;
            } finally {
                polling = false;
            }
            buffered = polled.iterator();
            updateLag(!polled.isEmpty());
            return true;
        } catch (OffsetOutOfRangeException e) {
            // auto.offset.reset=none: the consumer never jumps on its own, least of all to the end
            onOutOfRange(e.offsetOutOfRangePartitions());
            return false;
        }
    }

    private void deadLetter(DeadLetter letter, ReaderOutput<T> output) {
        intervalDeadLetters++;
        totalDeadLetters++;
        if (firstOfInterval == null) {
            firstOfInterval = letter;
        }
        boolean tooMany = intervalDeadLetters > deadLetterLimits.maxPerCheckpoint();
        boolean tooLarge = totalRecords >= DeadLetterLimits.MIN_RECORDS_FOR_RATIO
                && totalDeadLetters > deadLetterLimits.maxRatio() * totalRecords;
        if (tooMany || tooLarge) {
            // a restart would read the same records again: the data or the deserializer must change first
            throw new NonRecoverableException("Kafka source '" + context.getOperatorUid() + "' subtask "
                    + context.getIndexOfSubtask() + ": " + (tooMany ? intervalDeadLetters + " of the " + intervalRecords
                    + " records read since the last checkpoint" : totalDeadLetters + " of the " + totalRecords
                    + " records read since it started") + " could not be deserialized, more than the dead-letter "
                    + "limits allow (" + deadLetterLimits.maxPerCheckpoint() + " per checkpoint, "
                    + Math.round(deadLetterLimits.maxRatio() * 100) + " % of the records). The first of this interval was at "
                    + firstOfInterval.origin() + " (" + firstOfInterval.exceptionClass() + ": "
                    + firstOfInterval.exceptionMessage() + "), the latest at " + letter.origin() + ". The deserializer "
                    + "or the data is broken: fix it and start the job again (it resumes at its latest checkpoint; "
                    + "nothing of this interval was committed), or raise the limits with setDeadLetterLimits(...)");
        }
        deadLetters.inc();
        output.output(KafkaSource.DEAD_LETTERS, letter);
    }

    private void onOutOfRange(Map<TopicPartition, Long> partitions) throws Exception {
        if (topicIdsAtStart != null) {
            // the start's look first: a topic created again since the checkpoint is told apart from a log truncated
            confirmTopicIds();
            return; // the positions as the look left them are fetched again
        }
        checkRecreated(partitions.keySet());
        Map<TopicPartition, Long> starts = unwoken(() -> consumer.beginningOffsets(partitions.keySet()));
        Map<TopicPartition, Long> ends = unwoken(() -> consumer.endOffsets(partitions.keySet()));
        String from = context.getRestoredCheckpointId().isPresent()
                ? "from checkpoint " + context.getRestoredCheckpointId().getAsLong()
                        + " or the reading since" : "from its starting offsets or the reading since";
        for (Map.Entry<TopicPartition, Long> e : partitions.entrySet()) {
            TopicPartition tp = e.getKey();
            Position p = positions.get(tp);
            long next = p != null ? p.next : e.getValue();
            long start = starts.getOrDefault(tp, 0L);
            long end = ends.getOrDefault(tp, 0L);
            if (next >= start && next <= end) {
                // in range again by now (the log moved between the fetch and this look): just retry
                consumer.seek(tp, next);
                continue;
            }
            boolean deleted = next < start;
            long lost = deleted ? start - next : 0;
            String what = deleted
                    ? "the log now starts at offset " + start + " (ends at " + end + "): " + lost + " record(s) were "
                            + "deleted before this job read them (retention, or deleteRecords)"
                    : "the log ends at offset " + end + " (starts at " + start + "): the topic was deleted and created "
                            + "again, or truncated, and the records this job read up to there no longer exist";
            if (outOfRangePolicy == OffsetOutOfRangePolicy.FAIL) {
                throw new NonRecoverableException("Kafka source '" + context.getOperatorUid() + "' subtask "
                        + context.getIndexOfSubtask() + ": partition " + tp + " must resume at offset " + next + " ("
                        + from + "), but " + what + ". The job stops rather than skip them. To accept the loss and "
                        + "go on from offset " + start + ", set setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST) "
                        + "on the KafkaSource builder (command line: --offset-out-of-range earliest); the records "
                        + "lost are then logged and counted. Otherwise restore the topic's records and start again");
            }
            LOG.error("Kafka source '{}' subtask {}: DATA LOSS: partition {} had to resume at offset {} ({}), but {}. "
                            + "Continuing from offset {} as configured (OffsetOutOfRangePolicy.EARLIEST)",
                    context.getOperatorUid(), context.getIndexOfSubtask(), tp, next, from, what, start);
            lostToOffsetReset.inc(lost);
            consumer.seek(tp, start);
            if (p != null) {
                p.next = start;
            }
        }
    }

    /**
     * Whether the topics of {@code partitions}, found out of range, were deleted and created again while this reader
     * ran, and if so fails the reader as a checkpoint's look would ({@link #recreatedWhileRunning}), rather than take
     * the new topic for the old one truncated. A broker that does not answer leaves the question to the checkpoints.
     */
    private void checkRecreated(Set<TopicPartition> partitions) {
        Set<String> topics = new TreeSet<>();
        partitions.forEach(tp -> {
            if (positions.containsKey(tp) && positions.get(tp).topicId != null) {
                topics.add(tp.topic());
            }
        });
        if (topics.isEmpty()) {
            return;
        }
        if (!holdsAdmin) {
            admin.acquire();
            holdsAdmin = true;
        }
        Map<String, Uuid> ids;
        try {
            ids = topicIds(topics, ADMIN_TIMEOUT);
        } catch (Exception e) {
            LOG.debug("Kafka source reader {}: could not ask for the ids of {}: {}", properties.get("client.id"),
                    topics, e.toString());
            return;
        }
        Map<TopicPartition, Uuid> old = new LinkedHashMap<>();
        for (TopicPartition tp : partitions) {
            Position p = positions.get(tp);
            if (p != null && p.topicId != null) {
                old.put(tp, p.topicId);
            }
        }
        Map<TopicPartition, Uuid> recreated = newIds(old, withFetched(ids, FetchedTopicIds.of(consumer), old));
        if (!recreated.isEmpty()) {
            boolean bounded = recreated.keySet().stream().anyMatch(tp -> positions.get(tp).bounded());
            throw recreatedWhileRunning(recreated, old, bounded, "as its position was out of the new topic's range",
                    confirmedNext, nextOffsets());
        }
    }

    private void checkBoundedEnds() {
        List<TopicPartition> done = new ArrayList<>();
        positions.forEach((tp, p) -> {
            if (p.bounded() && !p.finished && !p.unsubscribed && unwoken(() -> consumer.position(tp)) >= p.stop) {
                p.finished = true;
                done.add(tp);
            }
        });
        if (!done.isEmpty()) {
            consumer.pause(done);
        }
    }

    private boolean allFinished() {
        boolean any = false;
        for (Position p : positions.values()) {
            if (!p.unsubscribed) {
                any = true;
                if (!p.finished) {
                    return false;
                }
            }
        }
        // a subtask without partitions to read (more subtasks than partitions, or after a rescale): a bounded one has
        // nothing to read and must end, or the job's final checkpoint would never come
        return any || bounded;
    }

    @Override
    public List<KafkaPartitionSplit> snapshotState(long checkpointId) {
        intervalRecords = 0;
        intervalDeadLetters = 0;
        firstOfInterval = null;
        List<KafkaPartitionSplit> splits = new ArrayList<>(positions.size());
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        positions.forEach((tp, p) -> {
            splits.add(new KafkaPartitionSplit(p.topic, p.partition, p.next, p.stop, p.topicId));
            offsets.put(tp, new OffsetAndMetadata(p.next));
        });
        if (commitOffsets && !offsets.isEmpty()) {
            offsetsToCommit.put(checkpointId, offsets);
        }
        return splits;
    }

    /**
     * Asks, beside the checkpoint's asynchronous part, whether the topics this reader reads are still the topics its
     * positions are offsets of, if it read anything since the checkpoint it last asked for: a topic deleted and created
     * again under the same name, which the consumer reads on at the old topic's offsets once it finds it, has a new
     * id. The checkpoint is acknowledged only once the broker still has the old id (or no such topic: the old one
     * is gone and no new one read), so that no output of the new topic's records read at the old offsets is
     * committed; a new id declines it and fails the reader ({@link #recreatedWhileRunning}). Each record was emitted
     * before the barrier and the question is asked after it; a topic deleted is never found again, so the old id
     * found then means every record came from the old topic. The id the consumer fetches by, read as the question
     * is sent, counts as much as the broker's answer ({@link #withFetched}): the broker asked may lag behind the
     * deletion. Nothing is asked when nothing was read since.
     */
    @Override
    public CompletableFuture<Void> confirmSnapshot(long checkpointId) {
        RuntimeException failed = failedConfirmation;
        if (failed != null) {
            return CompletableFuture.failedFuture(failed);
        }
        Map<TopicPartition, Long> reached = nextOffsets();
        if (reached.equals(lastAskedAt) && (lastAsked == null || !lastAsked.isCompletedExceptionally())) {
            return lastAsked; // nothing read since: as the last question answers (null: the start, or none to ask)
        }
        // every topic read: a question that failed, or one still to answer, leaves records of any of them unconfirmed
        Map<TopicPartition, Uuid> expected = idsRead();
        lastAskedAt = reached;
        if (expected.isEmpty()) {
            lastAsked = null;
            return null;
        }
        if (!holdsAdmin) {
            admin.acquire();
            holdsAdmin = true;
        }
        boolean bounded = expected.keySet().stream().anyMatch(tp -> positions.get(tp).bounded());
        Map<TopicPartition, Long> confirmedBefore = new HashMap<>(confirmedNext);
        Set<String> topics = new TreeSet<>();
        expected.keySet().forEach(tp -> topics.add(tp.topic()));
        Map<String, Uuid> fetched = FetchedTopicIds.of(consumer); // on the task thread, after the barrier's records
        lastAsked = topicIdsAsync(topics, CONFIRM_TIMEOUT).handle((brokerIds, failure) -> {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
                throw new CompletionException(new IllegalStateException("Kafka source reader "
                        + properties.get("client.id") + " could not ask the broker whether its topics " + topics
                        + " are still the ones it read, for checkpoint " + checkpointId + ": " + cause, cause));
            }
            Map<String, Uuid> ids = withFetched(brokerIds, fetched, expected);
            Map<TopicPartition, Uuid> recreated = newIds(expected, ids);
            if (recreated.isEmpty()) {
                Map<TopicPartition, Long> confirmed = new HashMap<>();
                expected.keySet().forEach(tp -> {
                    if (ids.containsKey(tp.topic())) {
                        confirmed.put(tp, reached.get(tp)); // a topic that is gone confirms nothing
                    }
                });
                confirmedByCheckpoints.add(confirmed);
                return null;
            }
            RuntimeException e = recreatedWhileRunning(recreated, expected, bounded, "as checkpoint " + checkpointId
                    + " asked whether its topics were the ones it read (the checkpoint is declined, so that an "
                    + "exactly-once sink commits no output of what its barrier followed)", confirmedBefore, reached);
            failedConfirmation = e;
            throw new CompletionException(e);
        });
        return lastAsked;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        Map.Entry<Long, Map<TopicPartition, OffsetAndMetadata>> latest = offsetsToCommit.floorEntry(checkpointId);
        if (latest == null) {
            return;
        }
        offsetsToCommit.headMap(checkpointId, true).clear();
        // for lag monitoring only: a failure here never affects correctness. The commit looks the group's coordinator
        // up first while it is unknown (the first commit, or after the coordinator moved), a blocking call that a
        // wakeup left from a poll ends before anything is sent: made again, and never a reason to fail the task
        try {
            unwoken(() -> {
                consumer.commitAsync(latest.getValue(), (offsets, e) -> {
                    if (e != null) {
                        LOG.debug("Committing offsets of checkpoint {} to the consumer group failed: {}", checkpointId,
                                e.toString());
                    }
                });
                return null;
            });
        } catch (WakeupException e) {
            LOG.debug("Committing offsets of checkpoint {} to the consumer group was woken {} times; the next "
                    + "checkpoint's commit carries them", checkpointId, UNWOKEN_TRIES);
        }
    }

    /** Leaves a wakeup in the consumer, as a trigger that comes as a poll returns does; for tests. */
    void leaveWakeup() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        try {
            if (consumer != null) {
                consumer.close(Duration.ofSeconds(5));
            }
        } finally {
            if (holdsAdmin) {
                holdsAdmin = false;
                admin.release();
            }
        }
    }
}
