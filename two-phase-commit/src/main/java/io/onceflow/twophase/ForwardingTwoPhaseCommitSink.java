package io.onceflow.twophase;

import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.api.sink.SupportsWriterState;
import java.util.Collection;

/**
 * A sink that is a {@link TwoPhaseCommitSink} under its own name and builder (the transactional file sink,
 * the XA sink, Kafka's exactly-once sink): everything is handed to the template; a subclass adds its own
 * checks by overriding {@link #validate} and calling this one.
 *
 * @param <IN>  the records written
 * @param <TXN> the transaction handle
 */
public abstract class ForwardingTwoPhaseCommitSink<IN, TXN> implements Sink<IN>,
        SupportsCommitter<TransactionHolder<TXN>>, SupportsWriterState<IN, TransactionHolder<TXN>>, ValidatesConfiguration {

    private final TwoPhaseCommitSink<IN, TXN> delegate;

    protected ForwardingTwoPhaseCommitSink(TwoPhaseCommitSink<IN, TXN> delegate) {
        this.delegate = delegate;
    }

    @Override
    public void validate(Context context) throws Exception {
        delegate.validate(context);
    }

    @Override
    public SinkWriter<IN> createWriter(SinkInitContext context) throws Exception {
        return delegate.createWriter(context);
    }

    @Override
    public StatefulSinkWriter<IN, TransactionHolder<TXN>> restoreWriter(SinkInitContext context,
            Collection<TransactionHolder<TXN>> recoveredState) throws Exception {
        return delegate.restoreWriter(context, recoveredState);
    }

    @Override
    public VersionedSerializer<TransactionHolder<TXN>> getWriterStateSerializer() {
        return delegate.getWriterStateSerializer();
    }

    @Override
    public boolean restoresWhileCommitting() {
        return delegate.restoresWhileCommitting();
    }

    @Override
    public Committer<TransactionHolder<TXN>> createCommitter(SinkInitContext context) throws Exception {
        return delegate.createCommitter(context);
    }

    @Override
    public VersionedSerializer<TransactionHolder<TXN>> getCommittableSerializer() {
        return delegate.getCommittableSerializer();
    }
}
