package io.onceflow.kafka.sink;

import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.api.sink.SupportsWriterState;
import io.onceflow.twophase.TransactionHolder;
import io.onceflow.twophase.TwoPhaseCommitSink;
import java.util.Collection;

/** An EXACTLY_ONCE {@link KafkaSink}: Kafka transactions on the two-phase-commit template. */
final class ExactlyOnceKafkaSink<T> implements Sink<T>, SupportsCommitter<TransactionHolder<KafkaTransaction>>,
        SupportsWriterState<T, TransactionHolder<KafkaTransaction>>, ValidatesConfiguration {

    private final KafkaSink<T> config;
    private final TwoPhaseCommitSink<T, KafkaTransaction> delegate;

    ExactlyOnceKafkaSink(KafkaSink<T> config) {
        this.config = config;
        this.delegate = TwoPhaseCommitSink.builder(new KafkaTransactionHandler<>(config)).build();
    }

    @Override
    public void validate(Context context) throws Exception {
        config.validate(context);
        delegate.validate(context);
    }

    @Override
    public SinkWriter<T> createWriter(SinkInitContext context) throws Exception {
        return delegate.createWriter(context);
    }

    @Override
    public StatefulSinkWriter<T, TransactionHolder<KafkaTransaction>> restoreWriter(SinkInitContext context,
            Collection<TransactionHolder<KafkaTransaction>> recoveredState) throws Exception {
        return delegate.restoreWriter(context, recoveredState);
    }

    @Override
    public VersionedSerializer<TransactionHolder<KafkaTransaction>> getWriterStateSerializer() {
        return delegate.getWriterStateSerializer();
    }

    @Override
    public Committer<TransactionHolder<KafkaTransaction>> createCommitter(SinkInitContext context) {
        return delegate.createCommitter(context);
    }

    @Override
    public VersionedSerializer<TransactionHolder<KafkaTransaction>> getCommittableSerializer() {
        return delegate.getCommittableSerializer();
    }

    @Override
    public String toString() {
        return "KafkaSink(EXACTLY_ONCE, prefix " + config.transactionalIdPrefix + ")";
    }
}
