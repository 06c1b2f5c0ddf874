package io.onceflow.wal;

import io.onceflow.api.metrics.Counter;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.CheckpointFiles;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.SinkInitContext;
import java.util.Collection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sends the batches of completed checkpoints, skipping those recorded as sent. */
final class WalCommitter<T> implements Committer<WalBatch> {
    private static final Logger LOG = LoggerFactory.getLogger(WalCommitter.class);

    private final CheckpointFiles files;
    private final TypeSerializer<T> serializer;
    private final WalSender<T> sender;
    private final CheckpointCommitter committer;
    private final TransactionalWalSender<T> transactional;
    private final String operatorUid;
    private final Counter batchesSent;
    private final Counter recordsSent;
    private final Counter batchesSkipped;

    WalCommitter(SinkInitContext context, TypeSerializer<T> serializer, WalSender<T> sender, CheckpointCommitter committer,
                 TransactionalWalSender<T> transactional) {
        this.files = context.getCheckpointFiles();
        this.serializer = serializer;
        this.sender = sender;
        this.committer = committer;
        this.transactional = transactional;
        this.operatorUid = context.getOperatorUid();
        this.batchesSent = context.getMetricGroup().counter("walBatchesSent");
        this.recordsSent = context.getMetricGroup().counter("walRecordsSent");
        this.batchesSkipped = context.getMetricGroup().counter("walBatchesSkipped");
    }

    @Override
    public void commit(Collection<CommitRequest<WalBatch>> requests) throws Exception {
        for (CommitRequest<WalBatch> request : requests) {
            WalBatch batch = request.getCommittable();
            try (WalRecords<T> values = new WalRecords<>(files, batch, serializer)) {
                boolean sent;
                if (transactional != null) {
                    TransactionalWalSender.Outcome outcome = transactional.sendAndRecord(values, batch.checkpointId(),
                            batch.subtask());
                    if (outcome == TransactionalWalSender.Outcome.RETRY_LATER) {
                        request.retryLater();
                        continue;
                    }
                    sent = outcome == TransactionalWalSender.Outcome.SENT;
                } else if (committer.isCheckpointCommitted(batch.subtask(), batch.checkpointId())) {
                    sent = false;
                } else {
                    if (!sender.sendValues(values, batch.checkpointId(), batch.subtask())) {
                        request.retryLater();
                        continue;
                    }
                    // a crash here sends the batch again after the restart: see CheckpointCommitter
                    committer.commitCheckpoint(batch.subtask(), batch.checkpointId());
                    sent = true;
                }
                if (sent) {
                    batchesSent.inc();
                    recordsSent.inc(batch.records());
                } else {
                    batchesSkipped.inc();
                    LOG.info("Write-ahead sink '{}': the batch of checkpoint {} (subtask {}, {} records) was sent "
                            + "before the restart; not sent again", operatorUid, batch.checkpointId(), batch.subtask(),
                            batch.records());
                    request.signalAlreadyCommitted();
                }
            }
        }
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        for (AutoCloseable c : new AutoCloseable[] {sender, committer, transactional}) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
