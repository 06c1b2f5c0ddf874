package io.onceflow.testing;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A two-phase-commit test sink: records are buffered in an open "transaction" per subtask; at each
 * barrier the transaction is pre-committed (handed over as a committable, kept in the checkpoint) and
 * a new one opened; it reaches the {@link CommittedStore} only when the checkpoint completes. Records
 * of transactions whose checkpoint never completes are never visible.
 *
 * <p>Transaction ids are {@code <operator uid>-<subtask>-<checkpoint id>}: checkpoint ids only grow,
 * so an id is never reused for different records.
 */
public class TransactionalTestSink implements Sink<String>, SupportsCommitter<TransactionalTestSink.Transaction> {

    private final CommittedStore store;

    public TransactionalTestSink(CommittedStore store) {
        this.store = store;
    }

    /** A pre-committed transaction: its id and its records. */
    public record Transaction(String id, List<String> records) {
    }

    @Override
    public SinkWriter<String> createWriter(SinkInitContext context) {
        return new Writer(context);
    }

    @Override
    public Committer<Transaction> createCommitter(SinkInitContext context) {
        return requests -> {
            for (Committer.CommitRequest<Transaction> r : requests) {
                if (!store.commit(r.getCommittable().id(), r.getCommittable().records())) {
                    r.signalAlreadyCommitted();
                }
            }
        };
    }

    @Override
    public VersionedSerializer<Transaction> getCommittableSerializer() {
        return new VersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Transaction t) throws IOException {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                DataOutputStream out = new DataOutputStream(bytes);
                out.writeUTF(t.id());
                out.writeInt(t.records().size());
                for (String r : t.records()) {
                    out.writeUTF(r);
                }
                out.flush();
                return bytes.toByteArray();
            }

            @Override
            public Transaction deserialize(int version, byte[] serialized) throws IOException {
                if (version != 1) {
                    throw new IOException("Unknown transaction format version " + version);
                }
                DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
                String id = in.readUTF();
                int n = in.readInt();
                List<String> records = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    records.add(in.readUTF());
                }
                return new Transaction(id, records);
            }
        };
    }

    private static final class Writer implements CommittingSinkWriter<String, Transaction> {
        private final SinkInitContext context;
        private List<String> open = new ArrayList<>();

        Writer(SinkInitContext context) {
            this.context = context;
        }

        @Override
        public void write(String element) {
            open.add(element);
        }

        @Override
        public Collection<Transaction> prepareCommit(long checkpointId) {
            if (open.isEmpty()) {
                return List.of();
            }
            String id = context.getOperatorUid() + "-" + context.getIndexOfSubtask() + "-" + checkpointId;
            Transaction t = new Transaction(id, open);
            open = new ArrayList<>();
            return List.of(t);
        }
    }
}
