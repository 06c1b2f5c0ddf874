package io.onceflow.twophase;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.api.sink.SupportsWriterState;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An exactly-once sink by two-phase commit, in the manner of Flink's {@code TwoPhaseCommitSinkFunction}
 * but by composition: the external system is plugged in as a {@link TransactionHandler}.
 *
 * <pre>{@code
 * TwoPhaseCommitSink<String, MyTxn> sink = TwoPhaseCommitSink.builder(new MyTransactionHandler())
 *         .ignoreFailuresAfterTransactionTimeout(Duration.ofMinutes(15))   // optional
 *         .build();
 * stream.sinkTo(sink).uid("sink");
 * }</pre>
 *
 * <h2>Protocol, per sink subtask</h2>
 * <ul>
 * <li>One transaction is open at a time; records go into it.</li>
 * <li>At barrier {@code n} the open transaction is pre-committed, becomes the committable of
 *     checkpoint {@code n}, and the next one begins. An empty transaction is not pre-committed: it stays
 *     open (FLINK-31363). Checkpoint {@code n} stores the pre-committed transactions not yet committed
 *     and the newly open one.</li>
 * <li>When checkpoint {@code n} completes, every pending transaction of checkpoints {@code ≤ n} is
 *     committed, in checkpoint order. "Complete" is delivered best effort; a skipped notification is
 *     covered by the next one or by the restore.</li>
 * <li>On restore from checkpoint {@code m}: the runtime commits the pre-committed transactions
 *     stored in {@code m} (they may already be committed: commit is idempotent) while the writer
 *     recovers-and-aborts the transaction(s) that were open at {@code m}; once the commits are done the
 *     writer lets the handler abort lingering ones when that is safe, and begins afresh.</li>
 * <li>After the end of a bounded input the last transaction is pre-committed at the next checkpoint
 *     (the final one) and no new one is begun.</li>
 * </ul>
 *
 * <h2>Threads</h2>
 * The runtime shares one sink instance among all subtasks and calls {@link #createWriter},
 * {@link #restoreWriter} and {@link #createCommitter} from the subtasks' threads; the sink itself is
 * immutable apart from a thread-safe counter. Each writer and committer is then used by its subtask's
 * thread only.
 *
 * @param <IN>  the records written
 * @param <TXN> the handler's transaction handle
 */
public final class TwoPhaseCommitSink<IN, TXN> implements Sink<IN>, SupportsCommitter<TransactionHolder<TXN>>,
        SupportsWriterState<IN, TransactionHolder<TXN>>, ValidatesConfiguration {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TwoPhaseCommitSink.class);

    private final TransactionHandler<IN, TXN> handler;
    private final Clock clock;
    private final java.util.function.Supplier<Duration> ignoreFailuresAfter;
    private final TransactionHolderSerializer<TXN> serializer;
    private final AtomicLong ignoredCommitFailures = new AtomicLong();

    private TwoPhaseCommitSink(Builder<IN, TXN> builder) {
        this.handler = builder.handler;
        this.clock = builder.clock;
        this.ignoreFailuresAfter = builder.ignoreFailuresAfter;
        this.serializer = new TransactionHolderSerializer<>(Objects.requireNonNull(handler.getTransactionSerializer(),
                "handler.getTransactionSerializer() returned null"));
    }

    public static <IN, TXN> Builder<IN, TXN> builder(TransactionHandler<IN, TXN> handler) {
        return new Builder<>(Objects.requireNonNull(handler, "handler"));
    }

    /**
     * Before the job runs: a transaction timeout (when set) must be longer than the checkpoint
     * interval, or every transaction would time out before its checkpoint could complete.
     */
    @Override
    public void validate(Context context) {
        CheckpointConfig checkpoints = context.checkpointConfig();
        Duration ignoreAfter = ignoreFailuresAfter == null ? null : ignoreFailuresAfter.get();
        if (ignoreAfter != null) {
            LOG.warn("Sink '{}' ACCEPTS DATA LOSS: a commit that fails after the transaction timeout ({} ms) is logged "
                    + "and counted, and the job goes on without those records (ignoreFailuresAfterTransactionTimeout)",
                    context.operatorUid(), ignoreAfter.toMillis());
        }
        if (ignoreAfter != null && checkpoints.isCheckpointingEnabled()
                && ignoreAfter.compareTo(checkpoints.getCheckpointInterval()) <= 0) {
            throw new IllegalArgumentException("Sink '" + context.operatorUid() + "': the transaction timeout "
                    + ignoreAfter + " is not longer than the checkpoint interval "
                    + checkpoints.getCheckpointInterval() + ", so transactions would time out before their checkpoint "
                    + "completes: make it well above the checkpoint interval plus the time a recovery takes");
        }
    }

    @Override
    public SinkWriter<IN> createWriter(SinkInitContext context) throws Exception {
        return TwoPhaseCommitWriter.fresh(handler, context, clock);
    }

    @Override
    public StatefulSinkWriter<IN, TransactionHolder<TXN>> restoreWriter(SinkInitContext context,
            Collection<TransactionHolder<TXN>> recoveredState) throws Exception {
        return TwoPhaseCommitWriter.restored(handler, context, clock, recoveredState);
    }

    /**
     * Yes: a restored writer first aborts the transactions that were open at the checkpoint, which are never among
     * the pre-committed ones being committed meanwhile, and waits for those commits before anything else.
     */
    @Override
    public boolean restoresWhileCommitting() {
        return true;
    }

    @Override
    public Committer<TransactionHolder<TXN>> createCommitter(SinkInitContext context) {
        return new TwoPhaseCommitCommitter<>(handler, context, clock,
                ignoreFailuresAfter == null ? null : ignoreFailuresAfter.get(), ignoredCommitFailures);
    }

    @Override
    public VersionedSerializer<TransactionHolder<TXN>> getCommittableSerializer() {
        return serializer;
    }

    @Override
    public VersionedSerializer<TransactionHolder<TXN>> getWriterStateSerializer() {
        return serializer;
    }

    /**
     * How many commits failed after the transaction timeout and were given up (possible data loss),
     * over all subtasks of this sink instance in this JVM. Always 0 unless
     * {@link Builder#ignoreFailuresAfterTransactionTimeout} was set.
     */
    public long getNumIgnoredCommitFailures() {
        return ignoredCommitFailures.get();
    }

    /** Configures a {@link TwoPhaseCommitSink}; every setter checks its argument at once. */
    public static final class Builder<IN, TXN> {
        private final TransactionHandler<IN, TXN> handler;
        private Clock clock = Clock.systemUTC();
        private java.util.function.Supplier<Duration> ignoreFailuresAfter;

        private Builder(TransactionHandler<IN, TXN> handler) {
            this.handler = handler;
        }

        /**
         * Opt-in, for external systems that abort transactions older than a timeout (a Kafka
         * transaction's {@code transaction.timeout.ms}): a commit that fails when the transaction is
         * older than {@code transactionTimeout} (counted from its first record) does not fail the job
         * but is logged at ERROR as possible data loss and counted in
         * {@link TwoPhaseCommitSink#getNumIgnoredCommitFailures()}. Without it every failed commit fails
         * the job, and the restart tries the commit again.
         */
        public Builder<IN, TXN> ignoreFailuresAfterTransactionTimeout(Duration transactionTimeout) {
            Objects.requireNonNull(transactionTimeout, "transactionTimeout");
            if (transactionTimeout.isNegative() || transactionTimeout.isZero()) {
                throw new IllegalArgumentException("The transaction timeout must be longer than 0, was " + transactionTimeout);
            }
            return ignoreFailuresAfterTransactionTimeout(() -> transactionTimeout);
        }

        /**
         * As {@link #ignoreFailuresAfterTransactionTimeout(Duration)}, with a timeout known only when the job
         * starts (a sink that reads its system's maximum then); asked for when the job starts.
         */
        public Builder<IN, TXN> ignoreFailuresAfterTransactionTimeout(java.util.function.Supplier<Duration> transactionTimeout) {
            Objects.requireNonNull(transactionTimeout, "transactionTimeout");
            if (ignoreFailuresAfter != null) {
                throw new IllegalStateException("The transaction timeout after which commit failures are ignored was "
                        + "already set to " + ignoreFailuresAfter.get());
            }
            this.ignoreFailuresAfter = transactionTimeout;
            return this;
        }

        /** The clock transaction ages are measured with (wall clock; tests inject a fake one). */
        public Builder<IN, TXN> clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public TwoPhaseCommitSink<IN, TXN> build() {
            return new TwoPhaseCommitSink<>(this);
        }
    }
}
