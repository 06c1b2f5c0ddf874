package io.onceflow.wal;

import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The write-ahead-log sink: the records of each checkpoint are kept durably and handed to the external
 * system only after that checkpoint completed. What happens when:
 * <ol>
 *   <li>every record is appended to a local spill file (never held on the heap: a checkpoint of millions
 *       of records needs no more memory than one);</li>
 *   <li>at the checkpoint barrier the file is uploaded into the job's checkpoint storage, and the checkpoint
 *       refers to it (a {@link WalBatch});</li>
 *   <li>when the checkpoint completes, the batch is read back from storage and sent, with
 *       {@link WalSender#sendValues}; then its {@link CheckpointCommitter} records that (job, operator,
 *       subtask, checkpoint) was sent;</li>
 *   <li>after a crash the job restores the checkpoint, finds the batches not yet recorded, and sends them:
 *       those recorded are skipped.</li>
 * </ol>
 *
 * <p><b>The duplicate window.</b> With a {@link WalSender} and a {@link CheckpointCommitter}, a crash after
 * a batch was sent but before the committer recorded it sends the batch again: as in Flink's {@code
 * GenericWriteAheadSink}, the output is then at-least-once for that one batch. Use it for systems whose
 * writes are idempotent or that have no transactions. A system that can write the batch and its record in
 * one transaction has no window: give a {@link TransactionalWalSender} instead, as the JDBC form does
 * ({@link io.onceflow.wal.jdbc.JdbcWriteAheadSink}).
 *
 * <p>Output appears only when a checkpoint completes, so the checkpoint interval bounds the latency; the
 * spill file is uploaded on the task thread at the barrier, which pauses the task for as long as the copy
 * of one interval's records takes.
 *
 * <pre>{@code
 * stream.sinkTo(WriteAheadSink.builder(Serializers.STRING)
 *         .setSender(context -> (values, checkpointId, subtask) -> {
 *             for (String v : values) { client.put(v); }
 *             return true;
 *         })
 *         .build()).uid("wal");
 * }</pre>
 *
 * @param <T> the records
 */
public final class WriteAheadSink<T> implements Sink<T>, SupportsCommitter<WalBatch>, ValidatesConfiguration {

    private final TypeSerializer<T> serializer;
    private final WalSender.Factory<T> sender;
    private final CheckpointCommitter.Factory committer;
    private final TransactionalWalSender.Factory<T> transactional;
    private final String spillDirectory;
    private final ValidatesConfiguration validator;

    private WriteAheadSink(Builder<T> b) {
        this.serializer = b.serializer;
        this.sender = b.sender;
        this.committer = b.committer;
        this.transactional = b.transactional;
        this.spillDirectory = b.spillDirectory.toString();
        this.validator = b.validator;
    }

    /** Refuses a job without checkpoints (nothing would ever be sent), then runs the builder's validator. */
    @Override
    public void validate(Context context) throws Exception {
        if (!context.checkpointConfig().isCheckpointingEnabled()) {
            throw new IllegalStateException("Write-ahead sink '" + context.operatorUid() + "' sends a checkpoint's "
                    + "records only once the checkpoint completes, and job '" + context.jobName() + "' takes no "
                    + "checkpoints: enable them with env.enableCheckpointing(interval)");
        }
        if (validator != null) {
            validator.validate(context);
        }
    }

    /** A builder for records written to the log with {@code serializer}. */
    public static <T> Builder<T> builder(TypeSerializer<T> serializer) {
        return new Builder<>(serializer);
    }

    @Override
    public SinkWriter<T> createWriter(SinkInitContext context) {
        return new WalWriter<>(context, serializer, Path.of(spillDirectory));
    }

    @Override
    public Committer<WalBatch> createCommitter(SinkInitContext context) throws Exception {
        if (transactional != null) {
            return new WalCommitter<>(context, serializer, null, null, transactional.create(context));
        }
        WalSender<T> s = sender.create(context);
        try {
            return new WalCommitter<>(context, serializer, s, committer.create(context), null);
        } catch (Exception e) {
            s.close();
            throw e;
        }
    }

    @Override
    public VersionedSerializer<WalBatch> getCommittableSerializer() {
        return new WalBatch.Serializer();
    }

    /** Builds a {@link WriteAheadSink}; give a sender, or a transactional sender. */
    public static final class Builder<T> {
        private final TypeSerializer<T> serializer;
        private WalSender.Factory<T> sender;
        private CheckpointCommitter.Factory committer = CheckpointCommitter.inCheckpointStorage();
        private boolean committerSet;
        private TransactionalWalSender.Factory<T> transactional;
        private Path spillDirectory = Path.of(System.getProperty("java.io.tmpdir"), "onceflow-wal");
        private ValidatesConfiguration validator;

        private Builder(TypeSerializer<T> serializer) {
            this.serializer = Objects.requireNonNull(serializer, "serializer");
        }

        /** Sends each completed checkpoint's batch; a {@link CheckpointCommitter} records it afterwards. */
        public Builder<T> setSender(WalSender.Factory<T> sender) {
            this.sender = Objects.requireNonNull(sender, "sender");
            return this;
        }

        /**
         * Where the record of sent batches is kept (default {@link CheckpointCommitter#inCheckpointStorage()};
         * {@link io.onceflow.wal.jdbc.JdbcCheckpointCommitter} keeps it in a database table).
         */
        public Builder<T> setCheckpointCommitter(CheckpointCommitter.Factory committer) {
            this.committer = Objects.requireNonNull(committer, "committer");
            this.committerSet = true;
            return this;
        }

        /** Sends each batch and records it in one transaction: no duplicate window (instead of a sender). */
        public Builder<T> setTransactionalSender(TransactionalWalSender.Factory<T> transactional) {
            this.transactional = Objects.requireNonNull(transactional, "transactional sender");
            return this;
        }

        /** Where records wait on local disk until the barrier (default {@code <java.io.tmpdir>/onceflow-wal}). */
        public Builder<T> setSpillDirectory(Path spillDirectory) {
            this.spillDirectory = Objects.requireNonNull(spillDirectory, "spill directory");
            return this;
        }

        /** Checks the external system when the job starts (a sink built on this one reaches its database, say). */
        public Builder<T> setValidator(ValidatesConfiguration validator) {
            this.validator = validator;
            return this;
        }

        /** @throws IllegalStateException when neither or both senders are given, or a committer with the transactional one */
        public WriteAheadSink<T> build() {
            if ((sender == null) == (transactional == null)) {
                throw new IllegalStateException("A write-ahead sink needs exactly one of setSender(...) (sends, then a "
                        + "CheckpointCommitter records it) and setTransactionalSender(...) (both in one transaction)");
            }
            if (transactional != null && committerSet) {
                throw new IllegalStateException("A transactional sender records what it sent itself: drop "
                        + "setCheckpointCommitter(...) or use setSender(...)");
            }
            return new WriteAheadSink<>(this);
        }
    }
}
